"""The emulated NIC data plane of simulated hosts: enable and disable it per host, and its hooks.

With the data plane enabled for a simulated host (root needed), each of its VFs is a veth
pair in network namespaces (``eswitch.py``) and the simulated kernel and VF netlink call the
hooks here: ``sync_vfs`` when a PF's VFs are created or removed, ``apply_vf_state`` when a VF
setting changes, so settings act on real packets.  Its record is ``dataplane.json`` in the
host's marker dir, changed under the host lock.  Everything is named with one prefix and
lives in namespaces with that prefix: ``disable_dataplane`` and ``cleanup_dataplane`` remove it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path

from sriovstack.conf.parsers import DeviceMapping
from sriovstack.errors import Conflict, Invalid, NotFound, NotSupported
from sriovstack.host.netlink import LinkState, VfState
from sriovstack.host.simulated.drivers import vf_mac
from sriovstack.dataplane.eswitch import Eswitch, PlaneDoc, PortWire, VfTraffic, VfWire
from sriovstack.dataplane.names import DEFAULT_PREFIX, Names
from sriovstack.dataplane.netns import (NsLinks, create_ns, list_ns, ns_exists, remove_ns,
                                             stop_ns_processes)
from sriovstack.host.simulated.state import SimState, is_simulated
from sriovstack.host.simulated.tree import CLASS_NET, Tree
from sriovstack.pci.address import PciAddress

__all__ = ["DataplaneInfo", "CleanupReport", "HostDataplane", "enable_dataplane",
           "disable_dataplane", "dataplane_info", "cleanup_dataplane", "sync_vfs",
           "apply_vf_state"]

_DOC = "dataplane"
IpInterface = IPv4Interface | IPv6Interface


@dataclass(frozen=True, slots=True)
class DataplaneInfo:
    """One host's enabled data plane: its namespaces and which PF carries which physnet.

    ``vlan_filtering`` says whether this kernel has 802.1Q bridge filtering; VLANs are kept
    apart with one bridge per (physnet, VLAN) either way (the same isolation).
    """

    root: Path
    prefix: str
    host_ns: str
    fabric_ns: str
    vlan_filtering: bool
    physnets: tuple[DeviceMapping, ...]


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What ``cleanup_dataplane`` removed."""

    namespaces: tuple[str, ...]
    processes: tuple[int, ...]


def _info(doc: PlaneDoc) -> DataplaneInfo:
    return DataplaneInfo(Path(doc.root), doc.prefix, doc.host_ns, doc.fabric_ns,
                         doc.vlan_filtering, tuple(DeviceMapping(p, n) for n, p in
                                                   sorted(doc.physnets.items())))


def _load(state: SimState) -> PlaneDoc | None:
    data = state.load(_DOC)
    return PlaneDoc.from_json(data) if data else None


def _save(state: SimState, doc: PlaneDoc | None) -> None:
    state.save(_DOC, doc.to_json() if doc is not None else {})


def _pf_up(tree: Tree, doc: PlaneDoc) -> dict[str, bool]:
    """PF netdev → carrier, which ``link_state auto`` VFs follow."""
    up = {}
    for vf in doc.vfs.values():
        path = f"{CLASS_NET}/{vf.pf_netdev}/operstate"
        up[vf.pf_netdev] = tree.exists(path) and tree.read(path) == "up"
    for netdev in doc.physnets:
        path = f"{CLASS_NET}/{netdev}/operstate"
        up[netdev] = tree.exists(path) and tree.read(path) == "up"
    return up


def _traffic(saved: dict[str, object] | None) -> VfTraffic:
    """The traffic settings of a VF from the simulated netlink's record (defaults if none)."""
    if not saved:
        return VfTraffic()
    return VfTraffic(str(saved["mac"]), int(str(saved["vlan"])), saved["spoofchk"] is not False,
                     LinkState(int(str(saved["link_state"]))), int(str(saved["max_tx_rate"])))


def _sync(esw: Eswitch, tree: Tree, state: SimState, pf_bdf: str) -> None:
    """Give every VF of ``pf_bdf`` a veth pair, and drop the pairs of VFs that are gone."""
    pf_dev = tree.device_dir(pf_bdf)
    netdevs = state.load("pfs").get(pf_bdf, {}).get("netdevs", [])
    pf_netdev = str(netdevs[0]) if netdevs else pf_bdf
    present: dict[str, int] = {}
    for name in tree.listdir(pf_dev):
        if name.startswith("virtfn") and name[len("virtfn"):].isdigit():
            present[os.path.basename(tree.resolve(f"{pf_dev}/{name}"))] = int(name[6:])
    for address in [a for a, w in esw.doc.vfs.items()
                    if w.pf_bdf == pf_bdf and a not in present]:
        esw.remove_vf(address)
    saved = state.load("netlink").get(pf_bdf, {})
    root = esw.doc.root
    for address, index in sorted(present.items(), key=lambda item: item[1]):
        if address in esw.doc.vfs:
            continue
        esw.add_vf(VfWire(address, pf_bdf, pf_netdev, index, esw.names.vf_end(root, address),
                          esw.names.vf_port(root, address), vf_mac(PciAddress.parse(address)),
                          _traffic(saved.get(str(index)))), rules=False)
    esw.write_spoof_rules()


def _check_mappings(state: SimState, root: Path, mappings: tuple[DeviceMapping, ...]) -> None:
    known = {str(n) for pf in state.load("pfs").values() for n in pf.get("netdevs", [])}
    for m in mappings:
        if m.netdev not in known:
            raise Invalid(f"physical_device_mappings names {m.physnet}:{m.netdev}, but the "
                          f"simulated host at {root} has no PF netdev {m.netdev!r}",
                          fix=f"map a PF of this host: {', '.join(sorted(known)) or 'none'}",
                          field="physical_device_mappings", value=f"{m.physnet}:{m.netdev}")


def _check_can_run(root: Path) -> None:
    if not is_simulated(root):
        raise NotFound(f"{root} does not hold a simulated host (no .sriovstack-sim/)",
                       fix="build one with `sriovstack host simulate` or the fixture builder",
                       path=str(root))
    if os.geteuid() != 0:
        raise NotSupported("the netns data plane needs root (network namespaces, veth, "
                           "bridges)", fix="run as root, or go on with the simulated-only "
                           "data plane (no packets)")


def _vlan_filtering(names: Names) -> bool:
    scratch = names.probe_ns(os.getpid())
    create_ns(scratch)
    try:
        with NsLinks(scratch) as links:
            return links.vlan_filtering_works(f"{names.prefix}vlanprobe"[:15])
    finally:
        remove_ns(scratch)


def enable_dataplane(root: str | Path, mappings: Iterable[DeviceMapping], *,
                     prefix: str = DEFAULT_PREFIX) -> DataplaneInfo:
    """Give the simulated host at ``root`` a packet data plane; its PFs carry ``mappings``.

    Idempotent for the same prefix and mappings; Conflict when it is on with others.
    Raises NotFound (not a simulated host), NotSupported (not root), Invalid (a mapping
    names no PF of this host), HostError (the kernel refused).  Nothing is left half-made.
    """
    names = Names(prefix)
    rootp = Path(root).resolve()
    _check_can_run(rootp)
    wanted = tuple(dict.fromkeys(mappings))
    filtering = _vlan_filtering(names)
    state, tree = SimState(rootp), Tree(rootp)
    with state.locked():
        _check_mappings(state, rootp, wanted)
        existing = _load(state)
        if existing is not None and ns_exists(existing.host_ns):
            if existing.prefix != prefix or set(_info(existing).physnets) != set(wanted):
                raise Conflict(f"the data plane of {rootp} is already on with prefix "
                               f"{existing.prefix!r} and mappings "
                               f"{_mapping_text(_info(existing).physnets)}",
                               fix="disable it first (or clean up its prefix)",
                               field="prefix", value=prefix)
            return _info(existing)
        doc = PlaneDoc(str(rootp), prefix, filtering, names.host_ns(str(rootp)),
                       names.fabric_ns, {m.netdev: m.physnet for m in wanted})
        try:
            _build(doc, tree, state)
        except BaseException:
            _teardown(doc)
            raise
        _save(state, doc)
    return _info(doc)


def _mapping_text(mappings: tuple[DeviceMapping, ...]) -> str:
    return ",".join(f"{m.physnet}:{m.netdev}" for m in mappings) or "(none)"


def _build(doc: PlaneDoc, tree: Tree, state: SimState) -> None:
    create_ns(doc.fabric_ns)
    create_ns(doc.host_ns)
    esw = Eswitch(doc, _pf_up(tree, doc))
    esw.write_spoof_rules()
    for bdf in sorted(state.load("pfs")):
        if tree.exists(f"/sys/bus/pci/devices/{bdf}/sriov_numvfs"):
            _sync(esw, tree, state, bdf)


def _teardown(doc: PlaneDoc) -> None:
    """Remove the host's namespace, and the fabric when no host of the prefix is left."""
    stop_ns_processes(doc.host_ns)
    remove_ns(doc.host_ns)
    host_prefix = Names(doc.prefix).host_ns("")[:-8]
    if not any(ns.startswith(host_prefix) for ns in list_ns()):
        stop_ns_processes(doc.fabric_ns)
        remove_ns(doc.fabric_ns)


def disable_dataplane(root: str | Path) -> bool:
    """Remove the data plane of the host at ``root``; False when it was not on.

    Guest namespaces are the virt driver's and stay (destroy the guests first); the VFs in
    them lose their link, since the pairs die with the host namespace.
    """
    state = SimState(Path(root).resolve())
    with state.locked():
        doc = _load(state)
        if doc is None:
            return False
        _teardown(doc)
        _save(state, None)
    return True


def dataplane_info(root: str | Path) -> DataplaneInfo | None:
    """The enabled data plane of the host at ``root``, or None when it is off."""
    rootp = Path(root).resolve()
    if not is_simulated(rootp):
        return None
    state = SimState(rootp)
    with state.locked():
        doc = _live(state)
    return _info(doc) if doc is not None else None


def cleanup_dataplane(prefix: str = DEFAULT_PREFIX) -> CleanupReport:
    """Remove every namespace named with ``prefix`` and end the processes inside them."""
    names = Names(prefix)
    removed, pids = [], []
    for ns in list_ns():
        if names.owns_ns(ns):
            pids += stop_ns_processes(ns)
            if remove_ns(ns):
                removed.append(ns)
    return CleanupReport(tuple(removed), tuple(pids))


def _live(state: SimState) -> PlaneDoc | None:
    """The record, forgotten when its namespace is gone (cleaned up behind our back)."""
    doc = _load(state)
    if doc is not None and not ns_exists(doc.host_ns):
        _save(state, None)
        return None
    return doc


# --- hooks of the simulated kernel and netlink (called under the host lock) -------------------

def sync_vfs(state: SimState, root: Path, pf_bdf: str) -> None:
    """The VFs of ``pf_bdf`` were created or removed: wire or unwire them."""
    doc = _live(state)
    if doc is None:
        return
    tree = Tree(root)
    _sync(Eswitch(doc, _pf_up(tree, doc)), tree, state, pf_bdf)
    _save(state, doc)


def apply_vf_state(state: SimState, root: Path, pf_bdf: str, vf: VfState) -> None:
    """VF ``vf.vf`` of ``pf_bdf`` now has settings ``vf``: make its traffic follow them."""
    doc = _live(state)
    if doc is None:
        return
    for address, wire in doc.vfs.items():
        if wire.pf_bdf == pf_bdf and wire.index == vf.vf:
            Eswitch(doc, _pf_up(Tree(root), doc)).apply(address, VfTraffic.of(vf))
            _save(state, doc)
            return


class HostDataplane:
    """One simulated host's data plane as the netns virt driver uses it: VFs and normal ports
    into guest namespaces.  Every method raises NotSupported when the data plane is off."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._state = SimState(self.root)
        self._tree = Tree(self.root)

    @contextmanager
    def _switch(self) -> Iterator[Eswitch]:
        with self._state.locked():
            doc = _live(self._state) if is_simulated(self.root) else None
            if doc is None:
                raise NotSupported(f"the netns data plane of {self.root} is not enabled",
                                   fix="enable it first (sriovstack all-in-one --dataplane "
                                   "netns, as root)", path=str(self.root))
            esw = Eswitch(doc, _pf_up(self._tree, doc))
            try:
                yield esw
            finally:
                _save(self._state, esw.doc)  # what was done, even when a later step failed

    @staticmethod
    def _known(esw: Eswitch, address: PciAddress) -> str:
        if str(address) not in esw.doc.vfs:
            raise NotFound(f"VF {address} has no data plane on {esw.doc.root} (not a VF of "
                           "this host, or its PF's VFs are not enabled)",
                           field="pci_address", value=str(address))
        return str(address)

    def enabled(self) -> bool:
        """Whether the data plane is on (False too after a cleanup removed it)."""
        return dataplane_info(self.root) is not None

    def info(self) -> DataplaneInfo:
        with self._switch() as esw:
            return _info(esw.doc)

    def attach_vf(self, address: PciAddress, guest_ns: str, ifname: str, mac: str,
                  ip: IpInterface | None = None) -> None:
        """Move VF ``address``'s netdev into ``guest_ns`` as ``ifname``, with ``mac``/``ip``."""
        with self._switch() as esw:
            esw.move_in(self._known(esw, address), guest_ns, ifname, mac, ip)

    def detach_vf(self, address: PciAddress) -> None:
        """Bring VF ``address``'s netdev back to the host (no-op when it is there)."""
        with self._switch() as esw:
            esw.move_out(self._known(esw, address))

    def vf_netdev(self, address: PciAddress) -> tuple[str, str]:
        """(namespace, interface name) where VF ``address``'s netdev is now."""
        with self._switch() as esw:
            wire = esw.doc.vfs[self._known(esw, address)]
            if wire.guest_ns and wire.guest_ifname:
                return wire.guest_ns, wire.guest_ifname
            return esw.doc.host_ns, wire.end

    def plug_port(self, port_id: str, physnet: str, vlan: int, guest_ns: str, ifname: str,
                  mac: str, ip: IpInterface | None = None) -> None:
        """Plug a normal port into ``guest_ns``: a veth onto the (physnet, vlan) segment."""
        with self._switch() as esw:
            wire = PortWire(port_id, esw.names.port_peer(port_id), physnet, vlan, guest_ns,
                            ifname)
            esw.plug_port(wire, mac, ip)

    def unplug_port(self, port_id: str) -> bool:
        """Remove a normal port's veth; False when it was not plugged."""
        with self._switch() as esw:
            return esw.unplug_port(port_id) is not None

    def ports_in(self, guest_ns: str) -> tuple[str, ...]:
        """The normal ports plugged into ``guest_ns``."""
        with self._switch() as esw:
            return tuple(sorted(p for p, w in esw.doc.ports.items() if w.guest_ns == guest_ns))
