"""The emulated NIC's embedded switch on one simulated host: what each VF's settings do to traffic.

Each VF is a veth pair (reference/linux_host.md §6.4): its netdev end (in the host namespace
while the host driver holds it, in a guest namespace once attached) and its switch port end,
which sits in the bridge of its (physical network, VLAN) segment — the isolation a VF in VLAN
switch tagging gives, since the guest sends untagged.  Each segment bridge is cabled to the
fabric's bridge of the same segment, the physical switch that joins the hosts.  Link state
``disable`` takes the port down, ``auto`` follows the PF; a PF without carrier (its cable
pulled) takes all its VFs' ports down, since every path off the host runs through that cable
(a simplification: VFs of one PF would still reach each other on real hardware); ``spoofchk`` drops foreign source
MACs (nftables, ``spoof.py``); ``max_tx_rate`` shapes the VF's transmit side with tbf.  A VF
given to a guest announces the guest's MAC once its port forwards (a RARP, as QEMU sends
after a migration), so the bridges learn a moved guest's new place at once.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from ipaddress import IPv4Interface, IPv6Interface
from typing import Any

from sriovstack.errors import Conflict
from sriovstack.host import LinkState, VfState
from sriovstack.dataplane.names import Names
from sriovstack.dataplane.netns import NsLinks, announce, ns_exists
from sriovstack.dataplane.spoof import SpoofRule, apply_spoof_rules
from sriovstack.mac import MacAddress

__all__ = ["VfTraffic", "VfWire", "PortWire", "PlaneDoc", "Eswitch"]

IpInterface = IPv4Interface | IPv6Interface
_FORWARD_WAIT = 2.0  # seconds a VF's switch port may take to forward once its netdev is up


@dataclass(frozen=True, slots=True)
class VfTraffic:
    """The VF settings that act on its traffic (the rest are state only: trust, min rate)."""

    mac: str = str(MacAddress.ZERO)  # as text: the plane's state file is JSON
    vlan: int = 0
    spoofchk: bool = True
    link_state: LinkState = LinkState.AUTO
    max_tx_rate: int = 0

    @classmethod
    def of(cls, state: VfState) -> VfTraffic:
        return cls(str(state.mac), state.vlan, state.spoofchk is not False, state.link_state,
                   state.max_tx_rate)


@dataclass(frozen=True, slots=True)
class VfWire:
    """One VF's veth pair: ``end`` is its netdev, ``port`` its switch port; ``hw_mac`` the
    VF's own MAC ("" until ``Eswitch.add_vf`` reads it off the veth)."""

    address: str
    pf_bdf: str
    pf_netdev: str
    index: int
    end: str
    port: str
    hw_mac: str
    traffic: VfTraffic = VfTraffic()
    guest_ns: str | None = None
    guest_ifname: str | None = None

    @property
    def allowed_mac(self) -> str:
        """The source MAC spoof checking lets through: the admin MAC, else the VF's own."""
        return self.traffic.mac if self.traffic.mac != str(MacAddress.ZERO) else self.hw_mac


@dataclass(frozen=True, slots=True)
class PortWire:
    """A normal (Open vSwitch) port's veth: ``peer`` on the fabric segment, the other end in
    the guest as ``guest_ifname``."""

    port_id: str
    peer: str
    physnet: str
    vlan: int
    guest_ns: str
    guest_ifname: str


@dataclass(slots=True)
class PlaneDoc:
    """The data plane's record of one simulated host (kept as ``dataplane.json``)."""

    root: str
    prefix: str
    vlan_filtering: bool  # the kernel could filter VLANs; per-VLAN bridges are used anyway
    host_ns: str
    fabric_ns: str
    physnets: dict[str, str]  # PF netdev -> physical network
    vfs: dict[str, VfWire] = field(default_factory=dict)
    ports: dict[str, PortWire] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def vf(w: VfWire) -> dict[str, Any]:
            data = asdict(w)
            data["traffic"]["link_state"] = int(w.traffic.link_state)
            return data
        return {"root": self.root, "prefix": self.prefix, "vlan_filtering": self.vlan_filtering,
                "host_ns": self.host_ns, "fabric_ns": self.fabric_ns,
                "physnets": self.physnets, "vfs": {a: vf(w) for a, w in self.vfs.items()},
                "ports": {p: asdict(w) for p, w in self.ports.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlaneDoc:
        def vf(d: dict[str, Any]) -> VfWire:
            t = d.pop("traffic")
            return VfWire(**d, traffic=VfTraffic(**{**t,
                                                    "link_state": LinkState(t["link_state"])}))
        return cls(data["root"], data["prefix"], bool(data["vlan_filtering"]), data["host_ns"],
                   data["fabric_ns"], dict(data["physnets"]),
                   {a: vf(dict(d)) for a, d in data["vfs"].items()},
                   {p: PortWire(**d) for p, d in data["ports"].items()})


class Eswitch:
    """Wires one host's VFs and normal ports as its ``PlaneDoc`` says; updates the doc."""

    def __init__(self, doc: PlaneDoc, pf_up: dict[str, bool]) -> None:
        self.doc = doc
        self.names = Names(doc.prefix)
        self._pf_up = pf_up

    # --- segments ------------------------------------------------------------------------

    def segment(self, physnet: str, vlan: int) -> str:
        """The host bridge of (physnet, vlan), made and cabled to the fabric when new."""
        bridge = self.names.segment_bridge(physnet, vlan)
        up = self.names.uplink(self.doc.root, physnet, vlan)
        peer = self.names.uplink_peer(self.doc.root, physnet, vlan)
        with NsLinks(self.doc.fabric_ns) as fabric:
            fabric.add_bridge(bridge)
            with NsLinks(self.doc.host_ns) as host:
                host.add_bridge(bridge)
                if not host.has(up):
                    host.add_veth(up, peer, peer_ns=self.doc.fabric_ns)
                    host.set_master(up, bridge)
                    host.set_state(up, up=True)
                    fabric.set_master(peer, bridge)
                    fabric.set_state(peer, up=True)
        return bridge

    # --- VFs -----------------------------------------------------------------------------

    def add_vf(self, wire: VfWire, *, rules: bool = True) -> None:
        """Create the VF's veth pair in the host namespace and wire it per its settings
        (``rules=False``: the caller rewrites the spoof rules once, after a batch)."""
        with NsLinks(self.doc.host_ns) as host:
            host.delete(wire.port)  # a stale pair from an interrupted run
            host.add_veth(wire.port, wire.end)
            if wire.hw_mac:
                host.set_mac(wire.end, wire.hw_mac)
            else:  # no host driver gave the VF a MAC: it keeps the one the kernel gave it
                wire = replace(wire, hw_mac=host.mac(wire.end))
        self.doc.vfs[wire.address] = wire
        self.apply(wire.address, wire.traffic, rules=rules)

    def remove_vf(self, address: str) -> None:
        """Delete the VF's pair (wherever its netdev is: a veth takes its peer along); the
        caller rewrites the spoof rules."""
        wire = self.doc.vfs.pop(address)
        with NsLinks(self.doc.host_ns) as host:
            host.delete(wire.port)

    def apply(self, address: str, traffic: VfTraffic, *, rules: bool = True) -> None:
        """Make the VF's traffic follow ``traffic``: bridge, link state, rate, spoof check."""
        wire = replace(self.doc.vfs[address], traffic=traffic)
        physnet = self.doc.physnets.get(wire.pf_netdev)
        bridge = self.segment(physnet, traffic.vlan) if physnet else None
        carrier = self._pf_up.get(wire.pf_netdev, False)
        link_up = carrier and traffic.link_state is not LinkState.DISABLE
        with NsLinks(self.doc.host_ns) as host:
            host.set_master(wire.port, bridge)
            host.set_state(wire.port, up=link_up)
        self._shape(wire)
        self.doc.vfs[address] = wire
        if rules:
            self.write_spoof_rules()

    def _shape(self, wire: VfWire) -> None:
        # max_tx_rate limits what the VF transmits: the egress of its netdev end.
        ns = wire.guest_ns or self.doc.host_ns
        name = wire.guest_ifname or wire.end
        with NsLinks(ns) as links:
            links.set_tbf(name, wire.traffic.max_tx_rate)

    def write_spoof_rules(self) -> None:
        rules = [SpoofRule(w.port, w.allowed_mac) for w in self.doc.vfs.values()
                 if w.traffic.spoofchk]
        apply_spoof_rules(self.doc.host_ns, rules)

    def move_in(self, address: str, ns: str, ifname: str, mac: str,
                ip: IpInterface | None) -> None:
        """Give the VF's netdev to guest namespace ``ns`` as ``ifname`` with ``mac``/``ip``."""
        wire = self.doc.vfs[address]
        if wire.guest_ns is not None:
            raise Conflict(f"VF {address} is already in guest namespace {wire.guest_ns}",
                           field="pci_address", value=address)
        with NsLinks(ns) as guest:
            if guest.has(ifname):
                raise Conflict(f"guest namespace {ns} already has an interface {ifname}",
                               field="ifname", value=ifname)
        with NsLinks(self.doc.host_ns) as host:
            host.set_state(wire.end, up=False)
            host.move(wire.end, ns)
        wire = replace(wire, guest_ns=ns, guest_ifname=ifname)
        self.doc.vfs[address] = wire
        _configure(ns, wire.end, ifname, mac, ip)
        self._shape(wire)
        self._announce(wire, mac)

    def _announce(self, wire: VfWire, mac: str) -> None:
        """Once the VF's switch port forwards, announce the guest's MAC from it (QEMU does
        after a migration, a booting guest's stack does too), so the switches stop sending it
        to where the guest was before a move. The kernel's own announcement (arp_notify)
        leaves as the link comes up, before the bridge has seen the port's carrier: lost."""
        physnet = self.doc.physnets.get(wire.pf_netdev)
        if (physnet is None or not self._pf_up.get(wire.pf_netdev, False)
                or wire.traffic.link_state is LinkState.DISABLE):
            return  # the port is down: nothing would hear it
        assert wire.guest_ns is not None and wire.guest_ifname is not None
        deadline = time.monotonic() + _FORWARD_WAIT
        with NsLinks(self.doc.host_ns) as host:
            while not host.forwards(wire.port):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
        announce(wire.guest_ns, wire.guest_ifname, mac)

    def move_out(self, address: str) -> None:
        """Bring the VF's netdev back to the host namespace, down and without addresses."""
        wire = self.doc.vfs[address]
        if wire.guest_ns is None:
            return
        returned = False
        if ns_exists(wire.guest_ns):
            with NsLinks(wire.guest_ns) as guest:
                if wire.guest_ifname and guest.has(wire.guest_ifname):
                    guest.flush_addresses(wire.guest_ifname)
                    guest.set_state(wire.guest_ifname, up=False)
                    guest.rename(wire.guest_ifname, wire.end)
                    guest.move(wire.end, self.doc.host_ns)
                    returned = True
        self.doc.vfs[address] = replace(wire, guest_ns=None, guest_ifname=None)
        if not returned:
            # The guest namespace went away with the netdev in it, and took the pair along:
            # the VF comes back as the host driver would bring it up again.
            self.add_vf(self.doc.vfs[address])
            return
        with NsLinks(self.doc.host_ns) as host:
            host.set_mac(wire.end, wire.hw_mac)
        self._shape(self.doc.vfs[address])

    # --- normal ports --------------------------------------------------------------------

    def plug_port(self, wire: PortWire, mac: str, ip: IpInterface | None) -> None:
        """A normal port: a veth from the fabric's segment bridge into the guest."""
        if wire.port_id in self.doc.ports:
            raise Conflict(f"port {wire.port_id} is already plugged into guest namespace "
                           f"{self.doc.ports[wire.port_id].guest_ns}", field="port_id",
                           value=wire.port_id)
        with NsLinks(wire.guest_ns) as guest:
            if guest.has(wire.guest_ifname):
                raise Conflict(f"guest namespace {wire.guest_ns} already has an interface "
                               f"{wire.guest_ifname}", field="ifname", value=wire.guest_ifname)
        self.segment(wire.physnet, wire.vlan)
        end = self.names.port_end(wire.port_id)
        with NsLinks(self.doc.fabric_ns) as fabric:
            fabric.delete(wire.peer)
            fabric.add_veth(wire.peer, end, peer_ns=wire.guest_ns)
            fabric.set_master(wire.peer, self.names.segment_bridge(wire.physnet, wire.vlan))
            fabric.set_state(wire.peer, up=True)
        self.doc.ports[wire.port_id] = wire
        _configure(wire.guest_ns, end, wire.guest_ifname, mac, ip)

    def unplug_port(self, port_id: str) -> PortWire | None:
        """Remove a normal port's veth (both ends); None when it was not plugged."""
        wire = self.doc.ports.pop(port_id, None)
        if wire is not None and ns_exists(self.doc.fabric_ns):
            with NsLinks(self.doc.fabric_ns) as fabric:
                fabric.delete(wire.peer)
        return wire


def _configure(ns: str, current: str, ifname: str, mac: str, ip: IpInterface | None) -> None:
    """Name, address and bring up an interface that just arrived in guest namespace ``ns``."""
    with NsLinks(ns) as guest:
        guest.rename(current, ifname)
        guest.set_mac(ifname, mac)
        if ip is not None:
            guest.add_address(ifname, ip)
        guest.set_state(ifname, up=True)
