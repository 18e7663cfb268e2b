"""Optional dependencies: the parts of jaxcnn that need an extra say which one when it is missing.

The core (``jaxcnn.functional``, ``layers``, ``train``, ...) needs only jax, flax, optax, numpy,
orbax-checkpoint and platformdirs. Each part that needs more checks for it here, so a user without
the extra gets an ImportError that names the ``pip install 'jaxcnn[...]'`` to run instead of a bare
``No module named 'librosa'`` from deep inside a call.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def available(module: str) -> bool:
    """Whether top-level ``module`` can be imported, without importing it (librosa takes ~1 s)."""
    if sys.modules.get(module) is not None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a meta-path finder may refuse it outright
        return False


def _message(part: str, modules: tuple[str, ...], extra: str) -> str:
    names = modules[0] if len(modules) == 1 else ", ".join(modules[:-1]) + " and " + modules[-1]
    return f"{part} needs {names}: pip install 'jaxcnn[{extra}]'"


def require(part: str, extra: str, *modules: str) -> None:
    """Raise ImportError naming ``extra`` unless every one of ``modules`` is importable.

    Args:
      part: what needs them, as the user wrote it (``"jaxcnn.audio"``).
      extra: the ``jaxcnn[extra]`` that installs them.
      modules: top-level import names (``"librosa"``, ``"soundfile"``).

    Raises:
      ImportError: one of ``modules`` is not installed (``.name`` is the first missing one).
    """
    missing = [m for m in modules if not available(m)]
    if missing:
        raise ImportError(_message(part, modules, extra), name=missing[0])


def optional_import(module: str, part: str, extra: str) -> ModuleType:
    """``importlib.import_module(module)``, or an ImportError naming ``extra`` when it is missing.

    Raises:
      ImportError: ``module`` is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.partition(".")[0]
        raise ImportError(_message(part, (top,), extra), name=top) from e
