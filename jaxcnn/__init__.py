"""jaxcnn: a pure-functional convolutional network library in JAX.

- ``jaxcnn.functional``: pure functions (conv, conv_transpose, pooling, dense, dropout, norms).
- ``jaxcnn.layers``: thin Flax Linen modules over them, ``Sequential`` and residual blocks.
- ``jaxcnn.arith``: output sizes, parameter and FLOP counts, receptive fields, ``summary``.
- ``jaxcnn.train``: one jit-compiled training loop shared by every pipeline.
- ``jaxcnn.vision`` and ``jaxcnn.inspect``: image data, hand-made kernels, and tools to
  understand a trained CNN.

Subpackages load on first use (PEP 562), so ``import jaxcnn`` stays cheap and
``jaxcnn.layers.Conv2D`` works without a separate import.
"""

import importlib
import types

__version__ = "0.1.0"

_SUBPACKAGES = (
    "arith",
    "audio",
    "config",
    "functional",
    "inspect",
    "layers",
    "text",
    "train",
    "vision",
)
__all__ = [*_SUBPACKAGES, "__version__"]


def __getattr__(name: str) -> types.ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
