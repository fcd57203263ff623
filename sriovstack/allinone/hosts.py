"""The simulated hosts of an all-in-one cloud: their trees, their VFs and their config files.

Each host of the topology gets a root under ``<state>/hosts/<name>``, built once and reused on
restart.  Compute hosts get their VFs through the same code paths as ``host set-vfs`` (plan,
apply, read back, systemd persistence) and the chapter's config files with their own PF
netdev and address; the controller gets the files the API reads (20.3, 20.4).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from sriovstack.allinone.machines import open_host
from sriovstack.errors import ConfigError, HostError
from sriovstack.host import (PersistMethod, PersistTarget, VfState, apply, apply_persistence,
                             discover, pf_device_path, plan_persistence, plan_vf_count)
from sriovstack.host.simulated import (NicModel, Role, Topology, TopologyHost, build_host,
                                       is_simulated)

__all__ = ["SimulatedHost", "LiveVf", "prepare_hosts", "prepare_guest_host", "chapter_examples",
           "live_vfs", "NOVA_CONF", "SRIOV_AGENT_INI"]

NOVA_CONF = "etc/nova/nova.conf"
SRIOV_AGENT_INI = "etc/neutron/plugins/ml2/sriov_agent.ini"
_ML2_CONF = "etc/neutron/plugins/ml2/ml2_conf.ini"
_ML2_SRIOV = "etc/neutron/plugins/ml2/ml2_conf_sriov.ini"
_OVS_AGENT = "etc/neutron/plugins/ml2/openvswitch_agent.ini"
# The chapter's PF (20.5, 20.6): the second port of the 82576, as the example files name it.
_CHAPTER_PF_NETDEV, _CHAPTER_PF_ADDRESS = "enp11s0f1", "0000:0b:00.1"


@dataclass(frozen=True, slots=True)
class SimulatedHost:
    """One prepared host: its topology entry, its root and the config files its services read.

    A compute host run as a QEMU guest (``--compute-hosts qemu``) has no simulated tree: its
    root only holds its config files, which the guest reads over its 9p view of this machine."""

    spec: TopologyHost
    root: Path
    config_files: tuple[Path, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def is_compute(self) -> bool:
        return self.spec.role is Role.COMPUTE


@dataclass(frozen=True, slots=True)
class LiveVf:
    """One VF as the host's kernel has it now: its PF netdev, index and netlink state."""

    address: str
    pf_netdev: str
    state: VfState


def live_vfs(root: Path) -> dict[str, LiveVf]:
    """Every VF of the host under ``root`` by PCI address, with its netlink state
    (``ip link show PF``): MAC, VLAN, link state, spoof check."""
    host = open_host(root)
    out: dict[str, LiveVf] = {}
    for pf in discover(host.sysfs).pfs:
        if not pf.netdev or not pf.vfs:
            continue
        states = {s.vf: s for s in host.netlink.get_vfs(pf.netdev)}
        for vf in pf.vfs:
            if vf.index in states:
                out[str(vf.address)] = LiveVf(str(vf.address), pf.netdev, states[vf.index])
    return out


def chapter_examples() -> Path:
    """The chapter's config files (examples/chapter of the source tree); ConfigError if absent."""
    here = Path(__file__).resolve().parents[2] / "examples" / "chapter"
    if not (here / "compute" / "nova.conf").is_file():
        raise ConfigError(f"the chapter's example config files are not at {here}",
                          option="examples/chapter",
                          fix="run from a source checkout (pip install -e .)")
    return here


def prepare_hosts(topology: Topology, state_dir: Path, examples: Path | None = None,
                  nova_defaults: tuple[tuple[str, str], ...] = ()) -> tuple[SimulatedHost, ...]:
    """Build (or reuse) every host of ``topology`` under ``state_dir/hosts``.

    Idempotent: an existing tree is kept as it is and its VF count only topped up; the
    config files are written again each time, ``nova_defaults`` (option, value) pairs set in
    the ``[DEFAULT]`` section of the controller's nova.conf (the API reads it).
    Raises ConfigError for missing example files, HostError when a PF cannot get its VFs.
    """
    source = examples or chapter_examples()
    vf_ids = tuple(dict.fromkeys(f"{nic.model.vendor_id}:{nic.model.vf_device_id}"
                                 for h in topology.hosts for nic in h.nics))
    aliases = pci_aliases(tuple(dict.fromkeys(nic.model for h in topology.hosts
                                              for nic in h.nics)))
    hosts = []
    for spec in topology.hosts:
        root = state_dir / "hosts" / spec.name
        if not is_simulated(root):
            build_host(spec, root)
        if spec.role is Role.COMPUTE:
            _create_vfs(spec, root)
        hosts.append(SimulatedHost(spec, root, _install_config(spec, root, source, vf_ids,
                                                               aliases, nova_defaults)))
    return tuple(hosts)


def prepare_guest_host(spec: TopologyHost, state_dir: Path, pf_address: str,
                       examples: Path | None = None) -> SimulatedHost:
    """The config files of compute host ``spec`` run as a QEMU guest whose ports carry the
    topology's netdev names: the chapter's files with the last port's name and the guest's
    PCI address of that port (``pf_address``), under ``state_dir/hosts/<name>``."""
    source = examples or chapter_examples()
    root = state_dir / "hosts" / spec.name
    vf_ids = tuple(dict.fromkeys(f"{nic.model.vendor_id}:{nic.model.vf_device_id}"
                                 for nic in spec.nics))
    return SimulatedHost(spec, root, _install_config(spec, root, source, vf_ids,
                                                        pf_address=pf_address))


def _create_vfs(spec: TopologyHost, root: Path) -> None:
    """Every port of every NIC gets its model's sriov_totalvfs VFs (7 on an 82576), persisted
    with a systemd unit, as ``sriovstack host set-vfs PF N --persist systemd`` does (20.2)."""
    host = open_host(root)
    for nic in spec.nics:
        for address in nic.port_addresses():
            pf = discover(host.sysfs).find_pf(str(address))
            count = nic.numvfs or nic.model.totalvfs
            result = apply(plan_vf_count(host, pf, count))
            if not result.complete:
                raise HostError(f"{spec.name}: {result.note}", path=str(root))
            target = PersistTarget(pf.address, pf.driver, count,
                                   pf_device_path(host.sysfs, pf.address))
            apply_persistence(root, plan_persistence(root, target, PersistMethod.SYSTEMD))


def pci_aliases(models: tuple[NicModel, ...]) -> str:
    """A ``[pci]`` section with two aliases per NIC model, ``<model>-vf`` (one VF) and
    ``<model>-pf`` (the whole port), for flavors' ``pci_passthrough:alias``."""
    lines = ["", "[pci]",
             "# sriovstack all-in-one: aliases of the topology's NICs for flavors'",
             "# pci_passthrough:alias (nova's [pci] alias grammar)."]
    for model in models:
        short = model.key.split("-", 1)[-1]
        for kind, product in (("vf", model.vf_device_id), ("pf", model.device_id)):
            lines.append(json.dumps({"name": f"{short}-{kind}", "vendor_id": model.vendor_id,
                                     "product_id": product,
                                     "device_type": f"type-{kind.upper()}"})
                         .join(("alias = ", "")))
    return "\n".join(lines) + "\n"


def _install_config(spec: TopologyHost, root: Path, source: Path,
                    vf_ids: tuple[str, ...], aliases: str = "",
                    nova_defaults: tuple[tuple[str, str], ...] = (),
                    pf_address: str | None = None) -> tuple[Path, ...]:
    """Copy the chapter's files for the host's role into its ``/etc``; return their paths.

    ``vf_ids`` (``vvvv:pppp`` of the topology's VFs) join ``supported_pci_vendor_devs``, as a
    deployment with other NICs than the chapter's 82576 must do (20.3), or no VF would bind;
    ``aliases`` (a ``[pci]`` section) is appended to the controller's nova.conf and
    ``nova_defaults`` set in its ``[DEFAULT]`` section.
    """
    if spec.role is Role.COMPUTE:
        pairs = ((source / "compute/nova.conf", NOVA_CONF),
                 (source / "compute/sriov_agent.ini", SRIOV_AGENT_INI),
                 (source / "compute/openvswitch_agent.ini", _OVS_AGENT))
    elif spec.role is Role.CONTROLLER:
        pairs = ((source / "controller/nova.conf", NOVA_CONF),
                 (source / "network/ml2_conf.ini", _ML2_CONF),
                 (source / "network/ml2_conf_sriov.ini", _ML2_SRIOV))
    else:
        pairs = ((source / "network/ml2_conf.ini", _ML2_CONF),
                 (source / "network/ml2_conf_sriov.ini", _ML2_SRIOV))
    written = []
    for src, rel in pairs:
        try:
            text = src.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {src}: {exc.strerror}", file=str(src)) from exc
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = _localise(spec, text, pf_address)
        if rel == _ML2_SRIOV:
            text = _allow_vfs(text, vf_ids)
        if rel == NOVA_CONF and spec.role is Role.CONTROLLER:
            text = _set_defaults(text, nova_defaults) + aliases
        dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return tuple(written)


def _set_defaults(text: str, options: tuple[tuple[str, str], ...]) -> str:
    """``text`` (an ini file) with ``options`` set at the top of its ``[DEFAULT]`` section
    (one made when it has none), marked as the all-in-one's."""
    if not options:
        return text
    block = "# set by sriovstack all-in-one\n" + "".join(f"{name} = {value}\n"
                                                       for name, value in options)
    header = re.search(r"^\[DEFAULT\][ \t]*\n", text, re.MULTILINE)
    if header is None:
        return f"[DEFAULT]\n{block}\n{text}"
    return text[:header.end()] + block + text[header.end():]


def _localise(spec: TopologyHost, text: str, pf_address: str | None = None) -> str:
    """The chapter's PF netdev and address replaced by this host's (its first NIC's last port;
    ``pf_address``: that port's address when it is not the topology's, as in a QEMU guest)."""
    if not spec.nics:
        return text
    nic = spec.nics[0]
    address = pf_address or str(nic.port_addresses()[-1])
    return text.replace(_CHAPTER_PF_NETDEV, nic.netdevs[-1]).replace(_CHAPTER_PF_ADDRESS, address)


def _allow_vfs(text: str, vf_ids: tuple[str, ...]) -> str:
    """``supported_pci_vendor_devs`` with the ids of ``vf_ids`` it lacks appended."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        key, sep, value = line.partition("=")
        if sep and key.strip() == "supported_pci_vendor_devs":
            listed = [v.strip() for v in value.split(",") if v.strip()]
            added = [v for v in vf_ids if v not in listed]
            if added:
                lines[i] = f"{key.rstrip()} = {','.join(listed + added)}\n"
            break
    return "".join(lines)
