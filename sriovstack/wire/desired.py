"""What one host should run: servers, their ports and each VF's settings, at a revision.

``GET /internal/v1/hosts/{host}/desired-state`` answers with a ``DesiredState``.  Agents read
it leniently (a key a newer API adds is ignored), so ``from_json`` never refuses unknown keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv6Interface, ip_interface
from typing import Any

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.wire.codec import Fields
from sriovstack.wire.vocabulary import ServerOutcome, ServerStatus, VnicType

__all__ = ["IpInterface", "DesiredPort", "DesiredServer", "DesiredState", "HostRevision"]

IpInterface = IPv4Interface | IPv6Interface


def _interface(text: str) -> IpInterface:
    return ip_interface(text)


def _address(value: Any, where: str) -> PciAddress:
    """One item of a list of PCI addresses; Invalid naming ``where`` otherwise."""
    try:
        return PciAddress.parse(value) if isinstance(value, str) else PciAddress.parse("")
    except (Invalid, ValueError) as exc:
        raise Invalid(f"{where}: {value!r} is not a PCI address", field=where,
                      value=value if isinstance(value, str) else None) from exc


@dataclass(frozen=True, slots=True)
class DesiredPort:
    """One port of a server and the VF settings it implies.

    ``mac`` None: the port was deleted under the server (its VF must be torn down).
    ``vlan`` is the network segment's VLAN id, 0 on a flat network. ``pci_address`` is the
    device claimed for a direct or direct-physical port (None for a normal port), and
    ``generation`` the claim's, which fences the VF: (server, port, generation) owns it.
    ``physnet`` is the device's physnet, or the segment's for a normal port.
    ``propagate_uplink_status``: the VF's link state is ``auto`` (it follows the PF) rather
    than ``enable`` while the port is admin up (neutron's port attribute; older APIs do not
    send it: false).
    """

    port_id: str
    mac: MacAddress | None
    vnic_type: VnicType
    vlan: int
    pci_address: PciAddress | None
    physnet: str | None
    admin_state_up: bool
    generation: int | None
    # The port's first fixed IP with its subnet's prefix; only emulated (netns) guests use it.
    fixed_ip: IpInterface | None = field(default=None, compare=False)
    propagate_uplink_status: bool = False

    @property
    def is_vf(self) -> bool:
        """A ``direct`` port holding a VF, whose port still exists."""
        return (self.vnic_type is VnicType.DIRECT and self.pci_address is not None
                and self.mac is not None)

    @property
    def is_normal(self) -> bool:
        """A ``normal`` (Open vSwitch) port that still exists, with the physnet it plugs into."""
        return (self.vnic_type is VnicType.NORMAL and self.mac is not None
                and self.physnet is not None)

    def to_json(self) -> dict[str, Any]:
        return {"port_id": self.port_id, "mac": str(self.mac) if self.mac else None,
                "vnic_type": self.vnic_type.value, "vlan": self.vlan,
                "pci_address": str(self.pci_address) if self.pci_address else None,
                "physnet": self.physnet, "admin_state_up": self.admin_state_up,
                "generation": self.generation,
                "fixed_ip": str(self.fixed_ip) if self.fixed_ip else None,
                "propagate_uplink_status": self.propagate_uplink_status}

    @classmethod
    def from_json(cls, data: Any, where: str) -> DesiredPort:
        f = Fields(data, where, strict=False)
        return cls(port_id=f.text("port_id", min_len=1),
                   mac=f.parsed("mac", MacAddress.parse),
                   vnic_type=f.choice("vnic_type", VnicType),
                   vlan=f.optional_integer("vlan", minimum=0) or 0,
                   pci_address=f.parsed("pci_address", PciAddress.parse),
                   physnet=f.optional_text("physnet"),
                   admin_state_up=f.flag("admin_state_up"),
                   generation=f.optional_integer("generation", minimum=0),
                   fixed_ip=f.parsed("fixed_ip", _interface),
                   propagate_uplink_status=f.flag("propagate_uplink_status", False))


@dataclass(frozen=True, slots=True)
class DesiredServer:
    """One server placed on the host, with its flavor's size and its ports in order.

    ``target`` is what its guest should be (running, paused or stopped); ``replug``: destroy
    and spawn the guest again, its VFs re-plugged and their settings re-applied (a hard
    reboot, a start, a rebuild); ``awaiting``: an operation waits for the agent to report the
    guest at ``target``.  ``authorized_keys`` is the public key of the server's key pair
    (nova's key_data: the guest's ``authorized_keys``); ``hostdevs`` are the devices the
    flavor's ``pci_passthrough:alias`` claimed, passed through as plain hostdevs (no MAC or
    VLAN: no port owns them).
    """

    server_id: str
    name: str
    status: ServerStatus
    vcpus: int
    memory_mb: int
    ports: tuple[DesiredPort, ...] = ()
    target: ServerOutcome = ServerOutcome.RUNNING
    replug: bool = False
    awaiting: bool = False
    authorized_keys: str | None = None
    hostdevs: tuple[PciAddress, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.server_id, "name": self.name, "status": self.status.value,
                "vcpus": self.vcpus, "memory_mb": self.memory_mb,
                "ports": [p.to_json() for p in self.ports], "target": self.target.value,
                "replug": self.replug, "awaiting": self.awaiting,
                "authorized_keys": self.authorized_keys,
                "hostdevs": [str(a) for a in self.hostdevs]}

    @classmethod
    def from_json(cls, data: Any, where: str) -> DesiredServer:
        f = Fields(data, where, strict=False)
        return cls(server_id=f.text("id", min_len=1), name=f.text("name"),
                   status=f.choice("status", ServerStatus),
                   vcpus=f.integer("vcpus", minimum=0),
                   memory_mb=f.integer("memory_mb", minimum=0),
                   ports=tuple(DesiredPort.from_json(p, at) for p, at in f.items("ports")),
                   target=f.choice("target", ServerOutcome, ServerOutcome.RUNNING),
                   replug=f.flag("replug", False), awaiting=f.flag("awaiting", False),
                   authorized_keys=f.optional_text("authorized_keys", max_len=16384),
                   hostdevs=tuple(_address(a, at) for a, at in f.items("hostdevs",
                                                                          default=[])))


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything one host should have at ``revision`` (a per-host counter in the database)."""

    host: str
    revision: int
    servers: tuple[DesiredServer, ...]

    def vf_ports(self) -> dict[PciAddress, tuple[DesiredServer, DesiredPort]]:
        """Every VF a desired port holds, with its server and port."""
        return {p.pci_address: (s, p) for s in self.servers for p in s.ports
                if p.is_vf and p.pci_address is not None}

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "revision": self.revision,
                "servers": [s.to_json() for s in self.servers]}

    @classmethod
    def from_json(cls, data: Any) -> DesiredState:
        """The desired-state body; Invalid naming the field (``servers[0].ports[1].mac``)."""
        f = Fields(data, strict=False)
        return cls(host=f.text("host", min_len=1), revision=f.integer("revision", minimum=0),
                   servers=tuple(DesiredServer.from_json(s, at)
                                 for s, at in f.items("servers", max_len=100_000)))


@dataclass(frozen=True, slots=True)
class HostRevision:
    """A host's desired-state revision: ``GET /internal/v1/hosts/{host}/revision?since=N&wait=S``
    answers with it once the revision exceeds ``since`` (or when ``wait`` runs out, unchanged),
    so an agent fetches the whole ``DesiredState`` only when something changed."""

    host: str
    revision: int

    def to_json(self) -> dict[str, Any]:
        return {"revision": {"host": self.host, "revision": self.revision}}

    @classmethod
    def from_json(cls, data: Any) -> HostRevision:
        f = Fields.under(data, "revision")
        return cls(host=f.text("host", min_len=1), revision=f.integer("revision", minimum=0))
