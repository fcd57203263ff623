"""Each package's face: its ``__init__`` names its public surface in ``__all__`` (as httpx's
tests/test_exported_members.py does), every name there resolves, and what other packages import
from a face is on that list.  tests/test_layers.py checks that they import through faces only.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from tests.test_layers import PACKAGE, SUBFACES, _top, face_of, scan, _tree

# The faces: every package directly under sriovstack/, the sub-faces, and the top modules.
FACES = sorted({f"sriovstack.{p.name}" for p in PACKAGE.iterdir()
                if (p / "__init__.py").exists()} | set(SUBFACES))
MODULE_FACES = sorted(f"sriovstack.{p.stem}" for p in PACKAGE.glob("*.py")
                      if p.stem != "__init__")

# Faces that pass on names defined in another package, and why (a face re-exports its own).
FOREIGN_OK: dict[str, frozenset[str]] = {
    # A table module's Base is the database package's declarative base.
    "sriovstack.db.models": frozenset({"Base"}),
    # The simulated host is a Host (host/) built from the simulator's seams.
    "sriovstack.host.simulated": frozenset(),
}


def _all_of(face: str) -> list[str]:
    module = importlib.import_module(face)
    names = getattr(module, "__all__", None)
    assert isinstance(names, list), f"{face} has no __all__ list"
    return names


@pytest.mark.parametrize("face", FACES + MODULE_FACES)
def test_every_face_names_its_surface_and_each_name_resolves(face: str) -> None:
    names = _all_of(face)
    module = importlib.import_module(face)
    assert len(names) == len(set(names)), f"{face}.__all__ repeats a name"
    missing = [n for n in names if not hasattr(module, n)]
    assert missing == [], f"{face}.__all__ names what it does not have: {missing}"


@pytest.mark.parametrize("face", FACES)
def test_a_face_offers_its_own_package_not_anothers(face: str) -> None:
    module = importlib.import_module(face)
    foreign = []
    for name in _all_of(face):
        value = getattr(module, name)
        origin = inspect.getmodule(value) if (inspect.isclass(value) or
                                              inspect.isfunction(value)) else None
        if origin is None or inspect.ismodule(value):
            continue
        if _top(origin.__name__) != _top(face) and name not in FOREIGN_OK.get(face, ()):
            foreign.append(f"{name} (from {origin.__name__})")
    assert foreign == [], f"{face} re-exports another package's names: {foreign}; " \
                          "import them from their own face"


def test_what_other_packages_import_from_a_face_is_on_its_list() -> None:
    offered = {face: set(_all_of(face)) for face in FACES + MODULE_FACES}
    unlisted = []
    root = PACKAGE.parent
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(root)).removesuffix(".py").removesuffix(
            "/__init__").replace("/", ".")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    and node.module in offered and _top(node.module) != _top(module)):
                continue
            unlisted += [f"{path.name}:{node.lineno} {node.module}.{a.name}"
                         for a in node.names if a.name not in offered[node.module]]
    assert unlisted == [], f"names imported from a face but not in its __all__: {unlisted}"


def test_the_scan_sees_cross_package_imports_through_faces() -> None:
    across = [i for i in scan(_tree()) if _top(i.module) != _top(i.target)]
    assert len(across) > 150
    assert all(i.target == face_of(i.target) for i in across)


def test_a_face_list_that_drifts_is_caught(tmp_path: Path) -> None:
    # The same check as above, on a face whose list forgot a name it is asked for.
    source = "from sriovstack.pci import PciAddress, not_offered\n"
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom)
    offered = set(_all_of("sriovstack.pci"))
    assert [a.name for a in node.names if a.name not in offered] == ["not_offered"]
