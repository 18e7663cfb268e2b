"""Counts the share of public function arguments that carry a type hint (with ``ast``, no imports).

Public: a module-level function, or a method of a module-level class, whose name does not start
with ``_`` (dunders such as ``__call__`` count), in a module whose file name does not start with
``_`` (``__init__.py`` counts). ``self``/``cls`` of methods are not counted; ``*args`` and
``**kwargs`` are. Usage: python scripts/hint_share.py [PATH ...] (default: jaxcnn audio text).
"""

import ast
import sys
from pathlib import Path

DEFAULT = ("jaxcnn", "audio", "text")


def _is_public(name: str) -> bool:
    return not name.startswith("_") or (name.startswith("__") and name.endswith("__"))


def _public_functions(tree: ast.Module):
    """Yields (function, is_method) for the public functions and methods of a module."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(node.name):
            yield node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(
                    item.name
                ):
                    yield item, not _is_static(item)


def _is_static(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)


def count(paths: list[Path]) -> tuple[int, int, int, int, list[str]]:
    """(hinted args, args, hinted returns, functions, the unhinted as 'file:line name(arg)')."""
    hinted = total = returns = functions = 0
    missing = []
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if file.name.startswith("_") and file.name != "__init__.py":
                continue
            tree = ast.parse(file.read_text(), filename=str(file))
            for fn, is_method in _public_functions(tree):
                a = fn.args
                args = [*a.posonlyargs, *a.args]
                if is_method and args:
                    args = args[1:]  # self / cls
                args += [*a.kwonlyargs, *([a.vararg] if a.vararg else [])]
                args += [a.kwarg] if a.kwarg else []
                functions += 1
                if fn.returns is not None or fn.name == "__init__":
                    returns += 1
                else:
                    missing.append(f"{file}:{fn.lineno} {fn.name} -> (return)")
                for arg in args:
                    total += 1
                    if arg.annotation is not None:
                        hinted += 1
                    else:
                        missing.append(f"{file}:{fn.lineno} {fn.name}({arg.arg})")
    return hinted, total, returns, functions, missing


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    paths = [Path(p) for p in argv if p != "-v"] or [Path(p) for p in DEFAULT]
    hinted, total, returns, functions, missing = count(paths)
    if verbose:
        print("\n".join(missing))
    print(
        f"public function arguments with a type hint: {hinted}/{total}"
        f" = {100 * hinted / max(total, 1):.1f}%"
    )
    print(
        f"public functions with a return hint: {returns}/{functions}"
        f" = {100 * returns / max(functions, 1):.1f}%"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
