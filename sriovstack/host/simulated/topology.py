"""Topology files: TOML descriptions of simulated hosts and their NICs, strictly validated.

A file holds ``[[host]]`` tables (name, role, kernel command line, IOMMU, vfio, CPUs, memory)
each with ``[[host.nic]]`` tables (catalogue model, first port's PCI address, netdevs, NUMA
node, VFs enabled at build time, whether the driver is bound).  Unknown keys, wrong types, bad
addresses and unknown models are ConfigErrors naming the file, the host and the key.
"""

from __future__ import annotations

import enum
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovstack.errors import ConfigError, Invalid, NotFound
from sriovstack.host.simulated.catalogue import MODELS, NicModel
from sriovstack.pci import PciAddress

__all__ = ["Role", "IommuKind", "NicSpec", "TopologyHost", "Topology", "load_topology",
           "parse_topology", "bundled_topology"]

TOPOLOGIES_DIR = Path(__file__).parent / "topologies"


class Role(enum.Enum):
    COMPUTE = "compute"
    CONTROLLER = "controller"
    NETWORK = "network"


class IommuKind(enum.Enum):
    INTEL = "intel"
    AMD = "amd"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class NicSpec:
    """One NIC: port p sits at function ``address.function + p`` with netdev ``netdevs[p]``."""

    model: NicModel
    address: PciAddress
    netdevs: tuple[str, ...]
    numa_node: int
    numvfs: int
    driver_bound: bool
    max_enabled: int | None = None   # a driver/firmware that enables fewer VFs than asked
    link_up: bool = True             # the PF's link (operstate up, speed 1000) or down

    def port_addresses(self) -> tuple[PciAddress, ...]:
        a = self.address
        return tuple(PciAddress(a.domain, a.bus, a.slot, a.function + p)
                     for p in range(self.model.ports))


@dataclass(frozen=True, slots=True)
class TopologyHost:
    name: str
    role: Role
    kernel_cmdline: str
    iommu: IommuKind
    interrupt_remapping: bool
    allow_unsafe_interrupts: bool
    vfio: bool
    cpus: int
    memory_mb: int
    nics: tuple[NicSpec, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    path: Path
    hosts: tuple[TopologyHost, ...]

    def host(self, name: str) -> TopologyHost:
        """The host called ``name``; NotFound naming the hosts of the file otherwise."""
        for h in self.hosts:
            if h.name == name:
                return h
        raise NotFound(f"{self.path}: no host {name!r}; hosts: "
                       f"{', '.join(h.name for h in self.hosts)}", field="host", value=name)


_DEFAULT_CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/mapper/rhel-root ro"
_HOST_KEYS = {"name": str, "role": str, "kernel_cmdline": str, "iommu": str,
              "interrupt_remapping": bool, "allow_unsafe_interrupts": bool, "vfio": bool,
              "cpus": int, "memory_mb": int, "nic": list}
_NIC_KEYS = {"model": str, "address": str, "netdevs": list, "numa_node": int, "numvfs": int,
             "driver_bound": bool, "max_enabled": int, "link": str}


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, path: Path, where: str) -> None:
        self.path, self.where = path, where

    def error(self, key: str, message: str, fix: str | None = None) -> ConfigError:
        return ConfigError(message, file=str(self.path), option=f"{self.where}.{key}",
                           fix=fix)

    def check(self, table: dict[str, Any], schema: dict[str, type],
              required: tuple[str, ...]) -> None:
        for key, value in table.items():
            if key not in schema:
                raise self.error(key, f"unknown key {key!r}",
                                 fix=f"use one of: {', '.join(schema)}")
            want = schema[key]
            if not isinstance(value, want) or (want is int and isinstance(value, bool)):
                raise self.error(key, f"{value!r} is a {type(value).__name__}, "
                                 f"expected a {want.__name__}")
        for key in required:
            if key not in table:
                raise self.error(key, f"missing required key {key!r}")

    def enum(self, cls: type[enum.Enum], key: str, value: str) -> Any:
        try:
            return cls(value)
        except ValueError:
            raise self.error(key, f"{value!r} is not valid",
                             fix=f"use one of: {', '.join(m.value for m in cls)}") from None


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file; ConfigError naming file, host and key when wrong."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read topology: {exc.strerror}", file=str(p)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(p)) from exc
    return parse_topology(data, p)


def bundled_topology(name: str = "chapter") -> Topology:
    """A topology shipped in ``host/simulated/topologies`` (``chapter``: the chapter's hosts)."""
    return load_topology(TOPOLOGIES_DIR / f"{name}.toml")


def parse_topology(data: dict[str, Any], path: Path) -> Topology:
    """Validate parsed TOML ``data`` (read from ``path``) into a Topology."""
    top = _Ctx(path, "topology")
    top.check(data, {"host": list}, ("host",))
    hosts = tuple(_host(path, i, t) for i, t in enumerate(data["host"]))
    names = [h.name for h in hosts]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"host name {name!r} is used twice", file=str(path),
                              option="host.name")
    return Topology(path, hosts)


def _host(path: Path, i: int, t: Any) -> TopologyHost:
    if not isinstance(t, dict):
        raise ConfigError("each [[host]] must be a table", file=str(path), option=f"host[{i}]")
    name = t.get("name")
    ctx = _Ctx(path, f"host {name!r}" if isinstance(name, str) else f"host[{i}]")
    ctx.check(t, _HOST_KEYS, ("name", "role"))
    iommu = ctx.enum(IommuKind, "iommu", t.get("iommu", "none"))
    remap = t.get("interrupt_remapping", iommu is not IommuKind.NONE)
    if remap and iommu is IommuKind.NONE:
        raise ctx.error("interrupt_remapping", "interrupt remapping needs an IOMMU",
                        fix='set iommu = "intel" or "amd", or interrupt_remapping = false')
    nics = tuple(_nic(path, ctx.where, j, n) for j, n in enumerate(t.get("nic", [])))
    _check_clashes(ctx, nics)
    for key in ("cpus", "memory_mb"):
        if t.get(key, 1) < 1:
            raise ctx.error(key, f"{t[key]} must be at least 1")
    return TopologyHost(
        name=t["name"], role=ctx.enum(Role, "role", t["role"]),
        kernel_cmdline=t.get("kernel_cmdline", _DEFAULT_CMDLINE), iommu=iommu,
        interrupt_remapping=remap, allow_unsafe_interrupts=t.get("allow_unsafe_interrupts", False),
        vfio=t.get("vfio", iommu is not IommuKind.NONE), cpus=t.get("cpus", 8),
        memory_mb=t.get("memory_mb", 16384), nics=nics)


def _nic(path: Path, host_where: str, j: int, n: Any) -> NicSpec:
    ctx = _Ctx(path, f"{host_where}.nic[{j}]")
    if not isinstance(n, dict):
        raise ctx.error("", "each [[host.nic]] must be a table")
    ctx.check(n, _NIC_KEYS, ("model", "address", "netdevs"))
    if n["model"] not in MODELS:
        raise ctx.error("model", f"unknown NIC model {n['model']!r}",
                        fix=f"use one of: {', '.join(sorted(MODELS))}")
    model = MODELS[n["model"]]
    try:
        address = PciAddress.parse(n["address"])
    except Invalid as exc:
        raise ctx.error("address", exc.message) from None
    if address.function + model.ports > 8:
        raise ctx.error("address", f"{model.key} has {model.ports} ports (functions); "
                        f"they do not fit from function {address.function}",
                        fix="start the NIC at function 0")
    netdevs = n["netdevs"]
    if len(netdevs) != model.ports or not all(isinstance(x, str) and x for x in netdevs):
        raise ctx.error("netdevs", f"{model.key} needs {model.ports} netdev name(s), "
                        f"got {netdevs!r}")
    return _nic_counts(ctx, n, model, address, tuple(netdevs))


def _nic_counts(ctx: _Ctx, n: dict[str, Any], model: NicModel, address: PciAddress,
                netdevs: tuple[str, ...]) -> NicSpec:
    numvfs, bound = n.get("numvfs", 0), n.get("driver_bound", True)
    if not 0 <= numvfs <= model.totalvfs:
        raise ctx.error("numvfs", f"{numvfs} is out of range for {model.key}",
                        fix=f"use 0..{model.totalvfs} (sriov_totalvfs)")
    if numvfs and not bound:
        raise ctx.error("numvfs", "VFs need a bound PF driver",
                        fix="set driver_bound = true or numvfs = 0")
    numa = n.get("numa_node", 0)
    if numa < -1:
        raise ctx.error("numa_node", f"{numa} is not a NUMA node", fix="use -1 (unknown) or 0..")
    max_enabled = n.get("max_enabled")
    if max_enabled is not None and not 1 <= max_enabled <= model.totalvfs:
        raise ctx.error("max_enabled", f"{max_enabled} is out of range",
                        fix=f"use 1..{model.totalvfs}")
    link = n.get("link", "up")
    if link not in ("up", "down"):
        raise ctx.error("link", f"{link!r} is not a link state", fix='use "up" or "down"')
    return NicSpec(model, address, netdevs, numa, numvfs, bound, max_enabled, link == "up")


def _check_clashes(ctx: _Ctx, nics: tuple[NicSpec, ...]) -> None:
    seen_addr: set[PciAddress] = set()
    seen_dev: set[str] = set()
    for nic in nics:
        for addr in nic.port_addresses():
            if addr in seen_addr:
                raise ctx.error("nic.address", f"PCI address {addr} is used by two NICs")
            seen_addr.add(addr)
        for dev in nic.netdevs:
            if dev in seen_dev:
                raise ctx.error("nic.netdevs", f"netdev {dev!r} is used twice")
            seen_dev.add(dev)
