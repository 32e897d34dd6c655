"""Every public function and class of the library has a numpydoc docstring that says what it takes and gives.

Public: named in the ``__all__`` of the library's packages, or, in a module without ``__all__``, defined
there under a name without a leading underscore. A function that takes arguments (besides ``self``/``cls``)
needs a ``Parameters`` section, one that returns something a ``Returns`` (or ``Yields``) section; a class
whose constructor takes arguments a ``Parameters`` or ``Attributes`` section. ``paper`` and ``cli`` are not
the library and are not checked.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import textwrap

import pytest

MODULES = ["cdae_lite", "cdae_lite.runtime", "cdae_lite.distributed", "cdae_lite.images", "cdae_lite.io",
           "cdae_lite.metrics", "cdae_lite.plot", "cdae_lite.simulation", "cdae_lite.denoise", "cdae_lite.cluster"]
SECTION = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", re.MULTILINE)


def sections(doc: str | None) -> set[str]:
    """The numpydoc section headers of a docstring (a title underlined with dashes)."""
    return set(SECTION.findall(inspect.cleandoc(doc or "")))


def public_objects(module_name: str) -> dict[str, object]:
    """``{"module.qualname": object}`` for the public functions and classes of a module."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, v in vars(module).items() if not n.startswith("_")
                 and getattr(v, "__module__", None) == module_name]
    out = {}
    for name in names:
        if hasattr(module, "__path__") and importlib.util.find_spec(f"{module_name}.{name}"):
            continue  # a subpackage (paper and cli are not the library; the others are checked themselves)
        obj = getattr(module, name)
        obj = obj if inspect.isclass(obj) else inspect.unwrap(obj)  # a function under lru_cache counts too
        if inspect.isclass(obj) or inspect.isfunction(obj):
            out[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return out


def takes_arguments(obj) -> bool:
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # no signature to read
        return False
    return any(p not in ("self", "cls") for p in params)


def returns_something(func) -> bool:
    """From the annotation when there is one, else from the body: a ``return value`` or a ``yield``."""
    func = inspect.unwrap(func)
    note = func.__annotations__.get("return", inspect.Signature.empty)
    if note is not inspect.Signature.empty:
        return note not in (None, "None", type(None))
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0]
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue  # a nested function's returns are its own
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def problems(obj) -> list[str]:
    """What the docstring of ``obj`` lacks (empty when it is complete)."""
    if not (obj.__doc__ or "").strip():
        return ["no docstring"]
    found, out = sections(obj.__doc__), []
    if inspect.isclass(obj):
        if takes_arguments(obj) and not found & {"Parameters", "Attributes"}:
            out.append("no Parameters or Attributes section")
        return out
    if takes_arguments(obj) and "Parameters" not in found:
        out.append("no Parameters section")
    if returns_something(obj) and not found & {"Returns", "Yields"}:
        out.append("no Returns section")
    return out


def offenders() -> dict[str, list[str]]:
    objects = {}
    for module in MODULES:
        objects.update(public_objects(module))
    return {name: p for name, obj in sorted(objects.items()) if (p := problems(obj))}


def test_every_public_function_and_class_has_a_numpydoc_docstring():
    bad = offenders()
    assert bad == {}, f"{len(bad)} public functions/classes lack numpydoc sections:\n" + "\n".join(
        f"  {name}: {', '.join(p)}" for name, p in bad.items())


def _f(x: int) -> int:
    """Docstring.

    Parameters
    ----------
    x : int
        A number.

    Returns
    -------
    int
        The same number.
    """
    return x


def _g(x, y=1):
    """No sections."""
    yield x + y


class _C:
    """A class.

    Attributes
    ----------
    a : int
    """

    def __init__(self, a):
        self.a = a


def _h():
    """Returns nothing, takes nothing."""

    def inner():
        return 1

    return None


@pytest.mark.parametrize("obj, expected", [
    (_f, []),
    (_g, ["no Parameters section", "no Returns section"]),
    (_C, []),
    (_h, []),
])
def test_the_check_reads_sections_arguments_and_returns(obj, expected):
    assert problems(obj) == expected
