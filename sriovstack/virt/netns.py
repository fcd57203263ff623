"""NetnsVirtDriver: guests as network namespaces on a simulated host with the netns data plane.

Each guest is namespace ``<prefix>g-<hash of the server id>-<hash of the host>`` running a UDP
echo service (per host, so the two ends of a live migration are two namespaces);
attaching a VF sets its MAC and VLAN through the PF as libvirt does (reference/linux_host.md
§5.3) and moves the VF's netdev into the guest as ``ethN`` with the port's MAC and fixed IP.
Normal (Open vSwitch) ports are plugged as a veth onto the same physnet/VLAN segment.  The
guest records and the rules every driver checks are the cross-process ``FakeVirtDriver``'s.

The guest's files are the host's, except what ``ip netns exec`` binds over ``/etc`` from
``/etc/netns/<namespace>/``: the server's key pair is written there as
``ssh/authorized_keys/root``, so inside the guest it is ``/etc/ssh/authorized_keys/root``
(sshd's ``AuthorizedKeysFile /etc/ssh/authorized_keys/%u``; ``sriovstack guest exec SERVER --
cat /etc/ssh/authorized_keys/root`` shows it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from pathlib import Path
from typing import Protocol, runtime_checkable

from sriovstack.dataplane import (DEFAULT_PREFIX, EchoResult, EchoStart, HostDataplane, Names,
                                  NsLinks, create_ns, echo_probe, list_ns, ns_exists,
                                  remove_ns, set_ns_sysctls, stop_ns_processes)
from sriovstack.errors import Conflict, Invalid, NotFound, NotSupported
from sriovstack.host import Host, VfMac, VfVlan, discover
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.virt.fake import FakeVirtDriver
from sriovstack.virt.rules import find_port
from sriovstack.virt.types import Guest, GuestSpec, VfInterface, domain_name, server_id_of

__all__ = ["NetnsVirtDriver", "NormalPort", "PortPlugger", "guest_netns", "server_guests",
           "run_in_guest", "ping_from_guest"]

_MAX_IFACES = 64
# An emulated guest's network stack speaks only when spoken to (the defaults of its
# namespace, which every interface moved in takes): no IPv6 autoconfiguration, so no
# link-local address and no duplicate address detection. That detection had a moved guest's
# old copy, still up on its old host, answer for the new copy's link-local address and so
# point the switches back at the old place, where the guest was lost once the old copy went.
# (The data plane announces each plugged VF's MAC itself: Eswitch.move_in.)
_GUEST_STACK = {
    "ipv6/conf/default/addr_gen_mode": "1",  # none
    "ipv6/conf/default/accept_dad": "0",  # nor for a fixed IPv6 address
}


@dataclass(frozen=True, slots=True)
class NormalPort:
    """A port of vnic_type normal: reaches its network's (physnet, VLAN) segment by OVS."""

    port_id: str
    mac: MacAddress
    physnet: str
    vlan: int
    fixed_ip: IPv4Interface | IPv6Interface | None = field(default=None, compare=False)


@runtime_checkable
class PortPlugger(Protocol):
    """A virt driver that also plugs normal (Open vSwitch) ports into its guests."""

    def plug_port(self, server_id: str, port: NormalPort) -> str:
        """Plug ``port`` into the guest; returns its interface name there."""
        ...

    def unplug_port(self, server_id: str, port_id: str) -> None:
        """Remove the port from the guest; NotFound when it is not plugged there."""
        ...

    def plugged_ports(self, server_id: str) -> tuple[str, ...]:
        """The ids of the normal ports plugged into the guest, sorted."""
        ...


def server_guests(server_id: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, ...]:
    """The namespaces of ``server_id``'s emulated guests on every host of the data plane:
    one normally, two while a live migration has both ends up."""
    if server_id_of(domain_name(server_id)) is None:
        raise Invalid(f"server {server_id!r} is not a server id (expected a lower-case UUID)",
                      field="server", value=server_id)
    stem = Names(prefix).guest_ns_stem(server_id)
    return tuple(ns for ns in list_ns() if ns.startswith(stem))


def guest_netns(server_id: str, prefix: str = DEFAULT_PREFIX, *,
                host_root: Path | None = None) -> str:
    """The namespace of ``server_id``'s guest on the simulated host at ``host_root`` (or, with
    no host, its only guest); NotFound when there is none, Conflict when, with no host, it has
    guests on several hosts."""
    found = server_guests(server_id, prefix)
    if host_root is not None:
        ns = Names(prefix).guest_ns(str(host_root.resolve()), server_id)
        found = (ns,) if ns in found else ()
    if not found:
        where = f"on {host_root}" if host_root is not None else "here"
        raise NotFound(f"server {server_id} has no emulated guest {where} (no network "
                       f"namespace {Names(prefix).guest_ns_stem(server_id)}*)",
                       fix="is the server ACTIVE on a host with the netns data plane, and is "
                       "--prefix the data plane's?", field="server", value=server_id)
    if len(found) > 1:
        raise Conflict(f"server {server_id} has emulated guests on {len(found)} hosts "
                       f"({', '.join(found)}): a live migration is under way",
                       fix="name the server's host (--state-dir lets the CLI ask the API "
                       "which host it is on), or wait for the migration to end",
                       field="server", value=server_id)
    return found[0]


def run_in_guest(server_id: str, argv: Sequence[str], prefix: str = DEFAULT_PREFIX, *,
                 host_root: Path | None = None) -> int:
    """Run ``argv`` inside the guest (as ``virsh console`` reaches a real one); its exit code."""
    if not argv:
        raise Invalid("no command to run in the guest", fix="give one after --, e.g. "
                      "`sriovstack guest exec SERVER -- ip addr`", field="command")
    ns = guest_netns(server_id, prefix, host_root=host_root)
    try:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], check=False).returncode
    except FileNotFoundError as exc:
        raise NotSupported("`ip` (iproute2) is needed to enter a guest namespace",
                           fix="apt-get install iproute2") from exc


def ping_from_guest(server_id: str, target: IPv4Address | IPv6Address, *, count: int = 3,
                    prefix: str = DEFAULT_PREFIX, timeout: float = 1.0,
                    host_root: Path | None = None) -> EchoResult:
    """UDP echo round trips from the guest to ``target``'s echo service (no ping needed)."""
    if count < 1:
        raise Invalid(f"--count {count} must be at least 1", field="count", value=count)
    return echo_probe(guest_netns(server_id, prefix, host_root=host_root), target, count=count,
                      timeout=timeout)


class NetnsVirtDriver:
    """VirtDriver for a simulated ``host`` with its data ``plane`` on; records in ``state_dir``.

    ``host`` and ``plane`` come from whoever opened the simulated host (the edges: cli/,
    allinone/), with the plane as the host's data plane hooks.
    """

    def __init__(self, host: Host, plane: HostDataplane, state_dir: Path, *,
                 prefix: str = DEFAULT_PREFIX, etc_netns: Path = Path("/etc/netns")) -> None:
        self._host = host  # a plane exists only for a simulated host (HostDataplane checks)
        self._etc_netns = etc_netns  # what `ip netns exec` binds over /etc, per namespace
        self._names = Names(prefix)
        self._plane = plane
        self._records = FakeVirtDriver(Path(state_dir), host.sysfs)

    def guest_netns(self, server_id: str) -> str:
        """The namespace name of ``server_id``'s guest on this host (whether or not it exists)."""
        return self._names.guest_ns(str(self._plane.root), server_id)

    def list_guests(self) -> tuple[Guest, ...]:
        return self._records.list_guests()

    def get_guest(self, server_id: str) -> Guest:
        return self._records.get_guest(server_id)

    def spawn(self, guest: GuestSpec) -> Guest:
        self._plane.info()  # NotSupported before anything is recorded when the plane is off
        live = self._records.spawn(guest)
        ns = self.guest_netns(guest.server_id)
        try:
            if ns_exists(ns):  # this host's own, left by a guest it no longer records
                self._teardown(ns, guest.interfaces)
            create_ns(ns, exist_ok=False)  # never adopt one: only this host makes this name
        except BaseException:
            self._records.destroy(guest.server_id)
            raise
        echo: EchoStart | None = None
        try:
            set_ns_sysctls(ns, _GUEST_STACK)
            echo = EchoStart(ns)  # its interpreter starts while the VFs are plugged
            self._write_keys(ns, guest.authorized_keys)
            for vf in guest.interfaces:
                self._plug(ns, vf)
            echo.ready()
        except BaseException:
            if echo is not None:
                echo.abandon()
            self._teardown(ns, guest.interfaces)
            self._records.destroy(guest.server_id)
            raise
        return live

    def destroy(self, server_id: str) -> tuple[VfInterface, ...]:
        held = self._records.get_guest(server_id).interfaces
        self._teardown(self.guest_netns(server_id), held)
        return self._records.destroy(server_id)

    def attach_vf(self, server_id: str, vf: VfInterface) -> None:
        self._records.attach_vf(server_id, vf)
        try:
            self._plug(self.guest_netns(server_id), vf)
        except BaseException:
            self._plane.detach_vf(vf.pci_address)
            self._records.detach_vf(server_id, vf.port_id)
            raise

    def detach_vf(self, server_id: str, port_id: str) -> VfInterface:
        vf = find_port(self._records.get_guest(server_id), port_id)
        self._plane.detach_vf(vf.pci_address)
        return self._records.detach_vf(server_id, port_id)

    def plug_port(self, server_id: str, port: NormalPort) -> str:
        """Plug a normal port into the guest; returns its interface name there."""
        self._records.get_guest(server_id)  # NotFound for an unknown server
        ns = self.guest_netns(server_id)
        ifname = self._free_ifname(ns)
        self._plane.plug_port(port.port_id, port.physnet, port.vlan, ns, ifname, str(port.mac),
                              port.fixed_ip)
        return ifname

    def plugged_ports(self, server_id: str) -> tuple[str, ...]:
        """The normal ports plugged into ``server_id``'s guest, sorted."""
        return self._plane.ports_in(self.guest_netns(server_id))

    def unplug_port(self, server_id: str, port_id: str) -> None:
        """Remove a normal port from the guest; NotFound when it is not plugged there."""
        if port_id not in self.plugged_ports(server_id):
            raise NotFound(f"port {port_id} is not plugged into server {server_id}",
                           field="port_id", value=port_id)
        self._plane.unplug_port(port_id)

    # --- internals -----------------------------------------------------------------------

    def _plug(self, ns: str, vf: VfInterface) -> None:
        pf_netdev, index = self._pf_of(vf.pci_address)
        # As libvirt does for <interface type='hostdev'>: MAC and VLAN set through the PF.
        self._host.netlink.set_vf(pf_netdev, index, VfMac(vf.mac))
        self._host.netlink.set_vf(pf_netdev, index, VfVlan(vf.vlan))
        self._plane.attach_vf(vf.pci_address, ns, self._free_ifname(ns), str(vf.mac),
                              vf.fixed_ip)

    def _write_keys(self, ns: str, keys: str | None) -> None:
        """The guest's ``/etc/ssh/authorized_keys/root`` (written atomically, mode 0600)."""
        if keys is None:
            return
        where = self._etc_netns / ns / "ssh" / "authorized_keys"
        where.mkdir(parents=True, exist_ok=True)
        tmp = where / ".root.partial"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(keys.rstrip("\n") + "\n")
        os.replace(tmp, where / "root")

    def _pf_of(self, address: PciAddress) -> tuple[str, int]:
        """(PF netdev, VF index) of VF ``address``, as host discovery reads them."""
        pf, vf = discover(self._host.sysfs).find_vf(address)
        if pf.netdev is None:
            raise NotSupported(f"PF {pf.address} of VF {address} has no netdev (driver unbound?): "
                               "its VFs cannot be configured",
                               path=f"/sys/bus/pci/devices/{pf.address}/net")
        return pf.netdev, vf.index

    @staticmethod
    def _free_ifname(ns: str) -> str:
        with NsLinks(ns) as links:
            for n in range(_MAX_IFACES):
                if not links.has(f"eth{n}"):
                    return f"eth{n}"
        raise NotSupported(f"guest namespace {ns} already has {_MAX_IFACES} interfaces")

    def _teardown(self, ns: str, vfs: Sequence[VfInterface]) -> None:
        """Stop the guest's processes, give its VFs back to the host, unplug, delete it."""
        stop_ns_processes(ns)
        if self._plane.enabled():  # after a cleanup there is nothing to give back
            for vf in vfs:
                try:
                    self._plane.detach_vf(vf.pci_address)
                except NotFound:
                    continue  # the VF went away with its PF's VFs
            for port_id in self._plane.ports_in(ns):
                self._plane.unplug_port(port_id)
        remove_ns(ns)
        shutil.rmtree(self._etc_netns / ns, ignore_errors=True)  # the guest's /etc files
