"""The netns data plane of one simulated host: on and off, the hooks its NIC calls, and guests.

With the data plane enabled (root needed), each VF of the host is a veth pair in network
namespaces (``eswitch.py``).  The host's simulated kernel and VF netlink are given the
``HostDataplane`` as their data plane hooks (the simulator's ``DataplaneHooks``) and call
``vfs_changed`` when a PF's VFs come or go and ``vf_changed`` when a VF setting changes, so
settings act on real packets.  The plane reads the host only through its seams (a ``Host``:
sysfs for PFs, VFs, VF MACs and carrier; VF netlink for the settings VFs already have) and
keeps its record, ``dataplane.json``, in the ``PlaneStore`` it is given: the simulated host's
own lock and state, so the plane's changes and the kernel's happen in one order.  Everything
is named with one prefix and lives in namespaces with that prefix: ``disable_dataplane`` and
``cleanup_dataplane`` remove it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path
from typing import Any, Protocol

from sriovstack.conf import DeviceMapping
from sriovstack.dataplane.eswitch import Eswitch, PlaneDoc, PortWire, VfTraffic, VfWire
from sriovstack.dataplane.names import DEFAULT_PREFIX, Names
from sriovstack.dataplane.netns import (NsLinks, create_ns, list_ns, ns_exists, remove_ns,
                                        stop_ns_processes)
from sriovstack.errors import Conflict, Invalid, NotFound, NotSupported
from sriovstack.host import Host, PhysicalFunction, SysfsIO, VfState, discover
from sriovstack.pci import PciAddress

__all__ = ["PlaneStore", "DataplaneInfo", "CleanupReport", "HostDataplane", "enable_dataplane",
           "disable_dataplane", "dataplane_info", "cleanup_dataplane"]

_DOC = "dataplane"
IpInterface = IPv4Interface | IPv6Interface


class PlaneStore(Protocol):
    """The simulated host's lock and state documents (its ``SimState`` fits): the plane keeps
    its record there, under the lock the host's kernel holds when it calls the hooks."""

    def locked(self) -> AbstractContextManager[None]:
        """Hold the host lock (re-entrant within one thread)."""
        ...

    def load(self, name: str) -> dict[str, Any]:
        """Document ``name`` (empty when there is none)."""
        ...

    def save(self, name: str, data: dict[str, Any]) -> None:
        """Replace document ``name`` atomically."""
        ...


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


def _pf_up(sysfs: SysfsIO, doc: PlaneDoc) -> dict[str, bool]:
    """PF netdev → carrier, which ``link_state auto`` VFs follow."""
    up = {}
    for netdev in {vf.pf_netdev for vf in doc.vfs.values()} | set(doc.physnets):
        path = f"/sys/class/net/{netdev}/operstate"
        up[netdev] = sysfs.exists(path) and sysfs.read(path) == "up"
    return up


class HostDataplane:
    """One simulated host's netns data plane: the hooks its NIC calls, and VFs and normal
    ports into guest namespaces for the netns virt driver.

    ``view`` is the simulated host's seams, only read here (opened without these hooks);
    ``store`` its lock and state.  The guest methods raise NotSupported while the plane is off.
    """

    def __init__(self, view: Host, store: PlaneStore) -> None:
        if not view.simulated:
            raise NotSupported(f"the netns data plane emulates the NIC of a simulated host; "
                               f"{view.root} is a real one", fix="use the libvirt virt driver "
                               "on a real host", path=str(view.root))
        self.host = view
        self.root = view.root.resolve()
        self.store = store

    def _live(self) -> PlaneDoc | None:
        """The record, forgotten when its namespace is gone (cleaned up behind our back);
        call it under the host lock."""
        data = self.store.load(_DOC)
        doc = PlaneDoc.from_json(data) if data else None
        if doc is not None and not ns_exists(doc.host_ns):
            self._save(None)
            return None
        return doc

    def _save(self, doc: PlaneDoc | None) -> None:
        self.store.save(_DOC, doc.to_json() if doc is not None else {})

    def _eswitch(self, doc: PlaneDoc) -> Eswitch:
        return Eswitch(doc, _pf_up(self.host.sysfs, doc))

    # --- the hooks of the simulated kernel and VF netlink (no-ops while the plane is off) ---

    def vfs_changed(self, pf: PciAddress) -> None:
        """The VFs of ``pf`` were created or removed: wire or unwire them."""
        with self.store.locked():
            doc = self._live()
            if doc is not None:
                esw = self._eswitch(doc)
                _sync(esw, self.host, pf)
                self._save(esw.doc)

    def vf_changed(self, pf: PciAddress, state: VfState) -> None:
        """VF ``state.vf`` of ``pf`` now has settings ``state``: its traffic follows them."""
        with self.store.locked():
            doc = self._live()
            if doc is None:
                return
            for address, wire in doc.vfs.items():
                if wire.pf_bdf == str(pf) and wire.index == state.vf:
                    if wire.traffic == VfTraffic.of(state):
                        return  # a setting set again (libvirt re-sets MAC and VLAN at plug)
                    self._eswitch(doc).apply(address, VfTraffic.of(state))
                    self._save(doc)
                    return

    def link_changed(self, pf: PciAddress) -> None:
        """PF ``pf``'s carrier changed: its VFs' switch ports follow (the cable is cut)."""
        with self.store.locked():
            doc = self._live()
            if doc is None:
                return
            esw = self._eswitch(doc)
            for address, wire in list(doc.vfs.items()):
                if wire.pf_bdf == str(pf):
                    esw.apply(address, wire.traffic, rules=False)
            esw.write_spoof_rules()
            self._save(esw.doc)

    # --- guests ------------------------------------------------------------------------------

    @contextmanager
    def _switch(self) -> Iterator[Eswitch]:
        with self.store.locked():
            doc = self._live()
            if doc is None:
                raise NotSupported(f"the netns data plane of {self.root} is not enabled",
                                   fix="enable it first (sriovstack all-in-one --dataplane "
                                   "netns, as root)", path=str(self.root))
            esw = self._eswitch(doc)
            try:
                yield esw
            finally:
                self._save(esw.doc)  # what was done, even when a later step failed

    @staticmethod
    def _known(esw: Eswitch, address: PciAddress) -> str:
        if str(address) not in esw.doc.vfs:
            raise NotFound(f"VF {address} has no data plane on {esw.doc.root} (not a VF of "
                           "this host, or its PF's VFs are not enabled)",
                           field="pci_address", value=str(address))
        return str(address)

    def enabled(self) -> bool:
        """Whether the data plane is on (False too after a cleanup removed it)."""
        return dataplane_info(self) is not None

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


def _vf_traffic(host: Host, pf: PhysicalFunction) -> dict[int, VfTraffic]:
    """VF index → the traffic settings its VF netlink state holds now."""
    if pf.netdev is None or not pf.vfs:
        return {}
    return {state.vf: VfTraffic.of(state) for state in host.netlink.get_vfs(pf.netdev)}


def _sync(esw: Eswitch, host: Host, pf: PciAddress) -> None:
    """Give every VF of ``pf`` a veth pair with its current settings, and drop the pairs of
    VFs that are gone."""
    found = [p for p in discover(host.sysfs).pfs if p.address == pf]
    present = {str(vf.address): vf for p in found for vf in p.vfs}
    for address in [a for a, w in esw.doc.vfs.items()
                    if w.pf_bdf == str(pf) and a not in present]:
        esw.remove_vf(address)
    root = esw.doc.root
    for p in found:
        traffic = _vf_traffic(host, p)
        for vf in p.vfs:
            address = str(vf.address)
            if address in esw.doc.vfs:
                continue
            # The VF's own MAC is its host netdev's; "" (no host driver holds the VF): the
            # veth keeps the one the kernel gave it (Eswitch.add_vf).
            esw.add_vf(VfWire(address, str(pf), p.netdev or str(pf), vf.index,
                              esw.names.vf_end(root, address), esw.names.vf_port(root, address),
                              vf.mac or "", traffic.get(vf.index, VfTraffic())), rules=False)
    esw.write_spoof_rules()


def _pf_netdevs(sysfs: SysfsIO) -> set[str]:
    """Every netdev of every SR-IOV PF of the host (all ports of a multi-port function)."""
    names = set()
    for pf in discover(sysfs).pfs:
        net = f"/sys/bus/pci/devices/{pf.address}/net"
        names |= set(sysfs.listdir(net)) if sysfs.exists(net) else set()
    return names


def _check_mappings(plane: HostDataplane, mappings: tuple[DeviceMapping, ...]) -> None:
    known = _pf_netdevs(plane.host.sysfs)
    for m in mappings:
        if m.netdev not in known:
            raise Invalid(f"physical_device_mappings names {m.physnet}:{m.netdev}, but the "
                          f"simulated host at {plane.root} has no PF netdev {m.netdev!r}",
                          fix=f"map a PF of this host: {', '.join(sorted(known)) or 'none'}",
                          field="physical_device_mappings", value=f"{m.physnet}:{m.netdev}")


def _vlan_filtering(names: Names) -> bool:
    scratch = names.probe_ns(os.getpid())
    create_ns(scratch)
    try:
        with NsLinks(scratch) as links:
            return links.vlan_filtering_works(f"{names.prefix}vlanprobe"[:15])
    finally:
        remove_ns(scratch)


def enable_dataplane(plane: HostDataplane, mappings: Iterable[DeviceMapping], *,
                     prefix: str = DEFAULT_PREFIX) -> DataplaneInfo:
    """Give ``plane``'s simulated host a packet data plane; its PFs carry ``mappings``.

    Idempotent for the same prefix and mappings; Conflict when it is on with others.
    Raises NotSupported (not root), Invalid (a mapping names no PF of this host), HostError
    (the kernel refused).  Nothing is left half-made.
    """
    names = Names(prefix)
    if os.geteuid() != 0:
        raise NotSupported("the netns data plane needs root (network namespaces, veth, "
                           "bridges)", fix="run as root, or go on with the simulated-only "
                           "data plane (no packets)")
    wanted = tuple(dict.fromkeys(mappings))
    filtering = _vlan_filtering(names)
    with plane.store.locked():
        _check_mappings(plane, wanted)
        existing = plane._live()
        if existing is not None:
            if existing.prefix != prefix or set(_info(existing).physnets) != set(wanted):
                raise Conflict(f"the data plane of {plane.root} is already on with prefix "
                               f"{existing.prefix!r} and mappings "
                               f"{_mapping_text(_info(existing).physnets)}",
                               fix="disable it first (or clean up its prefix)",
                               field="prefix", value=prefix)
            return _info(existing)
        doc = PlaneDoc(str(plane.root), prefix, filtering, names.host_ns(str(plane.root)),
                       names.fabric_ns, {m.netdev: m.physnet for m in wanted})
        try:
            _build(doc, plane)
        except BaseException:
            _teardown(doc)
            raise
        plane._save(doc)
    return _info(doc)


def _mapping_text(mappings: tuple[DeviceMapping, ...]) -> str:
    return ",".join(f"{m.physnet}:{m.netdev}" for m in mappings) or "(none)"


def _build(doc: PlaneDoc, plane: HostDataplane) -> None:
    create_ns(doc.fabric_ns)
    create_ns(doc.host_ns)
    esw = plane._eswitch(doc)
    esw.write_spoof_rules()
    for pf in discover(plane.host.sysfs).pfs:
        _sync(esw, plane.host, pf.address)


def _teardown(doc: PlaneDoc) -> None:
    """Remove the host's namespace, and the fabric when no host of the prefix is left."""
    stop_ns_processes(doc.host_ns)
    remove_ns(doc.host_ns)
    host_prefix = Names(doc.prefix).host_ns("")[:-8]
    if not any(ns.startswith(host_prefix) for ns in list_ns()):
        stop_ns_processes(doc.fabric_ns)
        remove_ns(doc.fabric_ns)


def disable_dataplane(plane: HostDataplane) -> bool:
    """Remove ``plane``'s data plane; False when it was not on.

    Guest namespaces are the virt driver's and stay (destroy the guests first); the VFs in
    them lose their link, since the pairs die with the host namespace.
    """
    with plane.store.locked():
        data = plane.store.load(_DOC)
        if not data:
            return False
        _teardown(PlaneDoc.from_json(data))
        plane._save(None)
    return True


def dataplane_info(plane: HostDataplane) -> DataplaneInfo | None:
    """``plane``'s data plane when it is on, or None."""
    with plane.store.locked():
        doc = plane._live()
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
