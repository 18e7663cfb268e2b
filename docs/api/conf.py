"""Sphinx configuration of the API reference, built from the docstrings (Google style).

Build (warnings are errors): python -m sphinx -W --keep-going -b html docs/api build/docs/api
"""

import importlib.metadata
import pkgutil
import re
from pathlib import Path

from sphinx.util import logging

project = "jaxcnn"
release = importlib.metadata.version("jaxcnn")
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]

napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
# Hints go into the parameter list, beside each argument's description, not into a long signature.
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
html_theme = "alabaster"
exclude_patterns = ["_build"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Where each subpackage's source lives (pyproject.toml maps audio/ and text/ into jaxcnn).
FOLDERS = {"jaxcnn": ROOT / "jaxcnn", "jaxcnn.audio": ROOT / "audio", "jaxcnn.text": ROOT / "text"}


def _public_modules() -> set[str]:
    """Every module of the package whose dotted name has no part starting with ``_``."""
    found = set()
    for package, folder in FOLDERS.items():
        found.add(package)
        for info in pkgutil.walk_packages([str(folder)], prefix=f"{package}."):
            parts = info.name.split(".")
            if not any(p.startswith("_") for p in parts):
                found.add(info.name)
    return found


def _check_every_module_documented(app) -> None:
    """A public module missing from the reference is a warning (so an error under ``-W``)."""
    documented = set()
    for page in HERE.glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M))
    log = logging.getLogger(__name__)
    for name in sorted(_public_modules() - documented):
        log.warning(f"api reference: public module {name} is on no page of docs/api")


def _skip_class_attributes(app, what, name, obj, skip, options):
    """Fields of a class are described by its docstring's ``Attributes:`` section; autodoc would
    document some again (those whose default value has a docstring: an initializer, a dtype).
    Kept: properties, and methods and classes defined in the class body (``Class.name``)."""
    if what != "class" or isinstance(obj, property):
        return None
    qualname = getattr(obj, "__qualname__", None)
    if not (isinstance(qualname, str) and qualname.endswith(f".{name}")):
        return True
    return None


def setup(app) -> None:
    app.connect("builder-inited", _check_every_module_documented)
    app.connect("autodoc-skip-member", _skip_class_attributes)
