"""The error tree: its docstring draws exactly the module's classes, and kinds are typed.

Kinds are checked twice: SriovstackError refuses anything but an ErrorKind member at run time,
and every ``kind=`` given to an error class anywhere in sriovstack/ is ``ErrorKind.<member>``
in the source (so a raise site no test reaches cannot carry a free string either).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import sriovstack
from sriovstack import errors
from sriovstack.errors import (ClaimLost, Conflict, ErrorKind, NotFound, NoValidHost,
                               SriovstackError, WriteConflict)

_PACKAGE = Path(sriovstack.__file__).parent
_ROOT = re.compile(r"^    (?P<name>[A-Z]\w+)\b")
_BRANCH = re.compile(r"^    (?P<lead>(?:[│ ]   )*)[├└]── (?P<name>[A-Z]\w+)\b")


def _drawn_tree() -> dict[str, str | None]:
    """{class name: drawn parent} from the module docstring (None for a root)."""
    drawn: dict[str, str | None] = {}
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        branch, root = _BRANCH.match(line), _ROOT.match(line)
        match = branch or root
        if match is None:
            continue
        depth = len(branch["lead"]) // 4 + 1 if branch else 0
        parents = parents[:depth]
        drawn[match["name"]] = parents[-1] if parents else None
        parents.append(match["name"])
    return drawn


def _module_classes() -> dict[str, str | None]:
    """{class name: its parent in this module (None when the parent is outside it)}."""
    found: dict[str, str | None] = {}
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if cls.__module__ != errors.__name__:
            continue
        local = [base.__name__ for base in cls.__bases__ if base.__module__ == errors.__name__]
        found[name] = local[0] if local else None
    return found


def test_the_docstring_draws_exactly_the_classes_of_the_module() -> None:
    assert _drawn_tree() == _module_classes()


def test_every_class_is_public() -> None:
    assert set(_module_classes()) <= set(errors.__all__)


def test_a_kind_that_is_not_an_errorkind_member_is_refused() -> None:
    with pytest.raises(TypeError, match="'PortNotFound' is not an ErrorKind member"):
        NotFound("Port p could not be found.", kind="PortNotFound")  # type: ignore[arg-type]


@pytest.mark.parametrize("err, kind", [
    (NotFound("x", kind=ErrorKind.PORT_NOT_FOUND), ErrorKind.PORT_NOT_FOUND),
    (NotFound("x"), None),
    (NoValidHost("no host"), ErrorKind.NO_VALID_HOST),
    (ClaimLost("lost"), ErrorKind.CLAIM_LOST),
    (WriteConflict("duplicate key"), None),
])
def test_kind_comes_from_the_raise_site_or_the_class(err: SriovstackError,
                                                     kind: ErrorKind | None) -> None:
    assert err.kind is kind


def test_write_conflict_keeps_the_conflict_family_and_code() -> None:
    assert issubclass(WriteConflict, Conflict) and WriteConflict.code == Conflict.code


def test_kind_is_not_a_field() -> None:
    err = NotFound("x", kind=ErrorKind.PORT_NOT_FOUND, field="port_id")
    assert err.fields == {"field": "port_id"}


def _error_classes() -> frozenset[str]:
    return frozenset(name for name, cls in inspect.getmembers(errors, inspect.isclass)
                     if issubclass(cls, BaseException))


def _kind_arguments() -> list[tuple[str, int, ast.expr]]:
    """(file, line, value) of every ``kind=`` passed to an error class or ``policy.denied``."""
    callees = _error_classes() | {"denied"}
    found = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else \
                func.attr if isinstance(func, ast.Attribute) else None
            if name not in callees and not (name and name.endswith("Error")):
                continue
            for keyword in node.keywords:
                if keyword.arg == "kind":
                    found.append((str(path.relative_to(_PACKAGE)), node.lineno, keyword.value))
    return found


def test_every_raise_site_names_an_errorkind_member() -> None:
    sites = _kind_arguments()
    assert len(sites) > 40  # the scan sees the raise sites (neutron's types alone are more)
    bad = [f"{path}:{line}: {ast.unparse(value)}" for path, line, value in sites
           if not (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name)
                   and value.value.id == "ErrorKind" and value.attr in ErrorKind.__members__)]
    assert bad == []


def test_no_module_raises_http_exceptions_around_the_one_mapping() -> None:
    """api/errors.py is the only error -> response mapping: nothing raises HTTPException."""
    raising = []
    for path in sorted(_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Raise) and node.exc is not None \
                    and "HTTPException" in ast.unparse(node.exc):
                raising.append(f"{path.relative_to(_PACKAGE)}:{node.lineno}")
    assert raising == []
