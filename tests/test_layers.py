"""The layer rule, read off the source: every import under sriovstack/ points down the floors
pure -> seams -> services -> edges (STYLE.md §4), only the simulator itself, the all-in-one
and the CLI import the simulated host, and one package reaches another only through its face
(its ``__init__``; tests/test_exports.py checks what each face offers).

Every import statement counts, also those inside functions.  A package that is on no floor
fails the first test: put it in FLOORS.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sriovstack"


class Floor(enum.IntEnum):
    PURE = 0
    SEAM = 1
    SERVICE = 2
    EDGE = 3


# The first name under sriovstack/ (package or module) -> its floor.
FLOORS: dict[str, Floor] = {
    "errors": Floor.PURE,        # the one error tree
    "pci": Floor.PURE,
    "conf": Floor.PURE,
    "mac": Floor.PURE,           # the MacAddress value type
    "crashpoints": Floor.PURE,   # SRIOVSTACK_CRASH_AT: a real kill -9 at a named step
    "wire": Floor.PURE,          # the agent <-> API contract
    "clock": Floor.SEAM,
    "metrics": Floor.SEAM,     # Prometheus: counters, histograms, one scrape
    "host": Floor.SEAM,          # with host/simulated, the fake kernel
    "dataplane": Floor.SEAM,     # the netns data plane: the kernel's namespaces and bridges
    "virt": Floor.SEAM,
    "qemu": Floor.SEAM,          # QEMU guests with the emulated 82576: image, runner, exec
    "db": Floor.SEAM,
    "identity": Floor.SERVICE,
    "network": Floor.SERVICE,
    "compute": Floor.SERVICE,
    "quota": Floor.SERVICE,      # the book of limits compute and network enforce
    "api": Floor.EDGE,
    "agents": Floor.EDGE,
    "allinone": Floor.EDGE,
    "cli": Floor.EDGE,
}

# Imports the floors allow but the design does not: (importer prefix, imported prefix, why).
FORBIDDEN: tuple[tuple[str, str, str], ...] = (
    ("sriovstack.agents", "sriovstack.db", "agents reach the control plane over HTTP only"),
    ("sriovstack.agents", "sriovstack.network", "agents reach the control plane over HTTP only"),
    ("sriovstack.agents", "sriovstack.compute", "agents reach the control plane over HTTP only"),
    ("sriovstack.agents", "sriovstack.identity", "agents reach the control plane over HTTP only"),
    ("sriovstack.host.simulated", "sriovstack.dataplane",
     "the simulator is handed its data plane (hooks.py), it never imports one"),
)

# Who may import the simulated host: itself, and the edges that build simulated hosts.
SIMULATOR = "sriovstack.host.simulated"
MAY_IMPORT_SIMULATOR = ("sriovstack.host.simulated", "sriovstack.allinone", "sriovstack.cli")


# Faces below the top level: the tables are the database package's second face (services own
# their SQL, Placement-style), and the simulator is a face of its own for the edges.
SUBFACES = ("sriovstack.db.models", "sriovstack.host.simulated")


@dataclass(frozen=True, slots=True)
class Import:
    module: str     # the importing module, e.g. sriovstack.virt.netns
    target: str     # the imported module, e.g. sriovstack.dataplane
    where: str      # file:line

    def __str__(self) -> str:
        return f"{self.where}: {self.module} imports {self.target}"


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def imports_of(module: str, source: str, filename: str) -> Iterator[Import]:
    """Every sriovstack import in ``source`` (relative ones resolved against ``module``)."""
    package = module.rsplit(".", 1)[0] if not filename.endswith("__init__.py") else module
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            names = [base]
        else:
            continue
        for name in names:
            if _under(name, "sriovstack"):
                yield Import(module, name, f"{filename}:{node.lineno}")


def _top(name: str) -> str:
    return ".".join(name.split(".")[:2])


def face_of(name: str) -> str:
    """The face through which other packages must import ``name``."""
    for sub in SUBFACES:
        if _under(name, sub):
            return sub
    return ".".join(name.split(".")[:2])


def floor_of(name: str) -> Floor | None:
    """The floor of module ``sriovstack.<first>...``; None for sriovstack itself or unplaced."""
    parts = name.split(".")
    return FLOORS.get(parts[1]) if len(parts) > 1 else None


def violations(found: list[Import]) -> list[str]:
    """Every import that breaks a rule, with the rule."""
    out = []
    for imp in found:
        mine, theirs = floor_of(imp.module), floor_of(imp.target)
        if mine is not None and theirs is not None and theirs > mine:
            out.append(f"{imp}: a {mine.name.lower()} module imports up, from the "
                       f"{theirs.name.lower()} floor")
        if _under(imp.target, SIMULATOR) and not any(
                _under(imp.module, p) for p in MAY_IMPORT_SIMULATOR):
            out.append(f"{imp}: only the simulator, allinone/ and cli/ import the simulated "
                       "host; have it built at the edge and handed in")
        face = face_of(imp.target)
        if _top(imp.module) != _top(imp.target) and imp.target != face:
            out.append(f"{imp}: another package's module; import from its face {face}")
        for importer, imported, why in FORBIDDEN:
            if _under(imp.module, importer) and _under(imp.target, imported):
                out.append(f"{imp}: {why}")
    return out


def scan(files: Mapping[str, str]) -> list[Import]:
    """The imports of ``files`` (path relative to the repository -> source)."""
    found: list[Import] = []
    for path, source in sorted(files.items()):
        module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        found += imports_of(module, source, path)
    return found


def _tree() -> dict[str, str]:
    root = PACKAGE.parent
    return {str(p.relative_to(root)): p.read_text(encoding="utf-8")
            for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_package_is_on_a_floor() -> None:
    names = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert sorted(names - set(FLOORS)) == []


def test_imports_point_down_through_faces_and_the_simulator_stays_at_the_edges() -> None:
    found = scan(_tree())
    assert len(found) > 300  # the scan sees the tree
    assert violations(found) == []


@pytest.mark.parametrize(("path", "source", "rule"), [
    ("sriovstack/virt/netns.py", "from sriovstack.host.simulated.names import Names",
     "only the simulator"),
    ("sriovstack/host/__init__.py", "def f():\n    import sriovstack.host.simulated.kernel\n",
     "only the simulator"),
    ("sriovstack/pci/devspec.py", "from sriovstack.host.sysfs import RealSysfs",
     "imports up"),
    ("sriovstack/compute/build.py", "from sriovstack.api.errors import x", "imports up"),
    ("sriovstack/host/simulated/kernel.py", "from sriovstack.dataplane.plane import sync_vfs",
     "never imports one"),
    ("sriovstack/agents/compute.py", "from sriovstack.compute.types import DesiredState",
     "over HTTP only"),
    ("sriovstack/dataplane/plane.py", "from ..host.simulated.state import SimState",
     "only the simulator"),
    ("sriovstack/api/compute/servers.py", "from sriovstack.compute.types import Server",
     "import from its face sriovstack.compute"),
    ("sriovstack/compute/claims.py", "from sriovstack.db.models.hosts import HostRow",
     "import from its face sriovstack.db.models"),
    ("sriovstack/cli/host.py", "from sriovstack.host.simulated.topology import Topology",
     "import from its face sriovstack.host.simulated"),
])
def test_the_rules_catch_an_import_that_comes_back(path: str, source: str, rule: str) -> None:
    found = violations(scan({path: source}))
    assert [f for f in found if rule in f and path in f], found


@pytest.mark.parametrize(("path", "source"), [
    ("sriovstack/cli/host.py", "from sriovstack.host.simulated import TOPOLOGIES_DIR"),
    ("sriovstack/allinone/machines.py", "from sriovstack.dataplane import HostDataplane"),
    ("sriovstack/virt/netns.py", "from sriovstack.dataplane import HostDataplane"),
    ("sriovstack/compute/claims.py", "from sriovstack.db import Database"),
    ("sriovstack/compute/claims.py", "from sriovstack.db.models import HostRow"),
    ("sriovstack/compute/build.py", "from sriovstack.compute.build_lease import BuildLease"),
])
def test_imports_down_or_across_a_floor_pass(path: str, source: str) -> None:
    assert violations(scan({path: source})) == []
