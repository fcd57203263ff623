"""The virt seam's vocabulary: the ``VirtDriver`` Protocol and the guest and VF values it takes.

A guest is one server's domain; its SR-IOV interfaces are VFs passed through whole
(``<interface type='hostdev'>``, reference/linux_host.md §5.1), each carrying the port's MAC and
VLAN, and found again by the port id (the interface alias ``ua-sriov-<port id>``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface
from typing import Protocol, runtime_checkable

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["VfInterface", "GuestSpec", "Guest", "VirtDriver", "DOMAIN_PREFIX",
           "ALIAS_PREFIX", "domain_name", "server_id_of"]

DOMAIN_PREFIX = "sriovstack-"
# libvirt keeps user aliases only when they start with "ua-" and use [A-Za-z0-9_-].
ALIAS_PREFIX = "ua-sriov-"
_PORT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_VLAN = 4094  # 802.1Q: 0 = untagged, 4095 reserved


def _check_mac(mac: MacAddress) -> None:
    """Invalid unless ``mac`` is a MacAddress a guest's VF can carry: unicast, not zero."""
    if not isinstance(mac, MacAddress):
        raise Invalid(f"mac {mac!r} is not a MacAddress (parse it first)", field="mac",
                      value=str(mac))
    if mac.is_multicast:
        raise Invalid(f"mac {mac} is a multicast address; a VF needs a unicast MAC "
                      "(first octet even, e.g. fa:16:3e:...)", field="mac", value=str(mac))
    if mac.is_zero:
        raise Invalid(f"mac {mac} is the VF's reset value, not a guest MAC",
                      field="mac", value=str(mac))


@dataclass(frozen=True, slots=True)
class VfInterface:
    """One VF given to a guest for one port: ``vlan`` 0 means untagged (a flat network).

    ``fixed_ip`` is the port's address with its subnet's prefix: a real guest gets it by DHCP,
    the netns driver's emulated guest has it configured; the other drivers ignore it (and
    leave it out of equality, so a guest read back compares equal to the spec).
    """

    pci_address: PciAddress
    mac: MacAddress
    vlan: int
    port_id: str
    # Not part of the VF's identity: drivers that cannot read it back report None.
    fixed_ip: IPv4Interface | IPv6Interface | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_mac(self.mac)
        if isinstance(self.vlan, bool) or not isinstance(self.vlan, int) \
                or not 0 <= self.vlan <= _MAX_VLAN:
            raise Invalid(f"vlan {self.vlan!r} of port {self.port_id} is out of range "
                          f"(expected 0 for flat, or a VLAN id 1-{_MAX_VLAN})",
                          field="vlan", value=self.vlan)
        if not _PORT_ID.match(self.port_id):
            raise Invalid(f"port id {self.port_id!r} cannot name a libvirt alias "
                          "(expected 1-64 of A-Z a-z 0-9 _ -, e.g. a UUID)",
                          field="port_id", value=self.port_id)
        if self.fixed_ip is not None and not isinstance(self.fixed_ip,
                                                        (IPv4Interface, IPv6Interface)):
            raise Invalid(f"fixed_ip {self.fixed_ip!r} of port {self.port_id} is not an "
                          "address with prefix (expected e.g. ip_interface('10.0.0.5/24'))",
                          field="fixed_ip", value=str(self.fixed_ip))

    @property
    def alias(self) -> str:
        """The stable device alias that detach looks for."""
        return f"{ALIAS_PREFIX}{self.port_id}"


def _check_server_id(server_id: str) -> str:
    try:
        parsed = uuid.UUID(server_id)
    except (ValueError, AttributeError, TypeError):
        parsed = None
    if parsed is None or str(parsed) != server_id:
        raise Invalid(f"server id {server_id!r} is not a lower-case UUID "
                      "(expected e.g. 6695eb01-f6a4-8304-79aa-97f2502e193f)",
                      field="server_id", value=server_id)
    return server_id


def _check_name(name: str) -> None:
    # libvirt refuses a <title> with a newline; XML 1.0 cannot carry other control chars.
    if not name or len(name) > 255 or any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
        raise Invalid(f"server name {name!r} must be 1-255 printable characters "
                      "(no newlines or control characters)", field="name", value=name)


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """What the compute agent asks for: one server's guest and the VFs it boots with.

    ``hostdevs`` are devices passed through as they are (a flavor's PCI alias: no MAC or
    VLAN); ``authorized_keys`` is the server's key pair, for the guest's authorized_keys.
    """

    server_id: str
    name: str
    vcpus: int
    memory_mb: int
    interfaces: tuple[VfInterface, ...] = ()
    hostdevs: tuple[PciAddress, ...] = ()
    authorized_keys: str | None = None

    def __post_init__(self) -> None:
        _check_server_id(self.server_id)
        _check_name(self.name)
        for fname, value in (("vcpus", self.vcpus), ("memory_mb", self.memory_mb)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise Invalid(f"{fname} {value!r} of server {self.server_id} must be a "
                              "positive integer", field=fname, value=value)
        object.__setattr__(self, "interfaces", tuple(self.interfaces))
        object.__setattr__(self, "hostdevs", tuple(self.hostdevs))

    @property
    def domain_name(self) -> str:
        return domain_name(self.server_id)


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest as the hypervisor has it now: what the agent reconciles against."""

    server_id: str
    running: bool
    interfaces: tuple[VfInterface, ...]

    @property
    def domain_name(self) -> str:
        return domain_name(self.server_id)


def domain_name(server_id: str) -> str:
    """The libvirt domain name of a server: ``sriovstack-<server id>``."""
    return f"{DOMAIN_PREFIX}{server_id}"


def server_id_of(name: str) -> str | None:
    """The server id in one of our domain names, or None for a domain that is not ours."""
    if not name.startswith(DOMAIN_PREFIX):
        return None
    rest = name[len(DOMAIN_PREFIX):]
    try:
        return _check_server_id(rest)
    except Invalid:
        return None


@runtime_checkable
class VirtDriver(Protocol):
    """Guests with VFs passed through: libvirt on a real host, a recording fake in tests.

    Every method raises only sriovstack errors: NotFound (no such guest, port or VF),
    Conflict (a VF or port already attached, the guest already exists), NotSupported
    (the address is not a VF), VirtError (the hypervisor refused).
    """

    def spawn(self, guest: GuestSpec) -> Guest:
        """Define and start ``guest`` with its VFs; nothing is left defined when it fails."""
        ...

    def destroy(self, server_id: str) -> tuple[VfInterface, ...]:
        """Stop and undefine the guest; returns the VFs it held, for the agent to reset."""
        ...

    def attach_vf(self, server_id: str, vf: VfInterface) -> None:
        """Hot-plug ``vf`` (live when running, and in the persistent definition)."""
        ...

    def detach_vf(self, server_id: str, port_id: str) -> VfInterface:
        """Unplug the VF of ``port_id``; returns it, for the agent to reset to the baseline.

        libvirt puts back only the MAC and VLAN it saved at attach (linux_host.md §5.3, §5.5):
        spoof check, trust, rates and link state are the agent's to reset.
        """
        ...

    def list_guests(self) -> tuple[Guest, ...]:
        """Every guest this driver manages (ours by name prefix), sorted by server id."""
        ...

    def get_guest(self, server_id: str) -> Guest:
        """One guest as it is now; NotFound when there is none."""
        ...
