"""What agents report besides the inventory — heartbeats, servers built or failed, VF devices up
or down — and what the API answers to each.

The reports are read strictly (the API refuses a key it does not know); the answers leniently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.wire.codec import Fields
from sriovstack.wire.vocabulary import PortStatus, ServerOutcome, ServerStatus, UplinkPropagation

__all__ = ["Heartbeat", "HeartbeatAnswer", "ServerReport", "ServerAnswer", "DeviceReport",
           "PortAnswer", "MAX_MESSAGE"]

MAX_MESSAGE = 4096  # characters of a server fault message


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One agent state report (neutron's). ``device_mappings`` is ``((physnet, (netdev,
    ...)), ...)`` sorted by physnet (NIC Switch agent); ``devices`` counts VFs in use."""

    agent_type: str
    binary: str
    device_mappings: tuple[tuple[str, tuple[str, ...]], ...] = ()
    devices: int = 0
    extensions: tuple[str, ...] = ()
    start_flag: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"agent_type": self.agent_type, "binary": self.binary,
                "start_flag": self.start_flag,
                "configurations": {"device_mappings": {p: list(n) for p, n in
                                                       self.device_mappings},
                                   "devices": self.devices,
                                   "extensions": list(self.extensions)}}

    @classmethod
    def from_json(cls, data: Any) -> Heartbeat:
        f = Fields(data)
        conf = f.nested("configurations", optional=True)
        mappings = conf.mapping("device_mappings")
        if not all(isinstance(n, list) and all(isinstance(x, str) for x in n)
                   for n in mappings.values()):
            raise conf.refuse("device_mappings", "expected an object of physnet: [netdev, ...]")
        extensions = [x for x, _ in conf.items("extensions", max_len=64, default=[])]
        if not all(isinstance(x, str) for x in extensions):
            raise conf.refuse("extensions", "expected a list of strings")
        beat = cls(agent_type=f.text("agent_type", min_len=1),
                   binary=f.text("binary", min_len=1),
                   device_mappings=tuple((str(p), tuple(n)) for p, n in
                                         sorted(mappings.items())),
                   devices=conf.integer("devices", 0, minimum=0),
                   extensions=tuple(extensions), start_flag=f.flag("start_flag", False))
        conf.done()
        f.done()
        return beat


@dataclass(frozen=True, slots=True)
class HeartbeatAnswer:
    """The agent as the API registered it: ``alive`` once the heartbeat counts."""

    agent_id: str
    host: str
    agent_type: str
    binary: str
    alive: bool
    admin_state_up: bool

    def to_json(self) -> dict[str, Any]:
        return {"agent": {"id": self.agent_id, "host": self.host,
                          "agent_type": self.agent_type, "binary": self.binary,
                          "alive": self.alive, "admin_state_up": self.admin_state_up}}

    @classmethod
    def from_json(cls, data: Any) -> HeartbeatAnswer:
        f = Fields.under(data, "agent")
        return cls(f.text("id"), f.text("host"), f.text("agent_type"), f.text("binary"),
                   f.flag("alive"), f.flag("admin_state_up"))


@dataclass(frozen=True, slots=True)
class ServerReport:
    """The compute agent's word on one server: its guest runs, or it failed and why (the
    message becomes the server's fault; only its first MAX_MESSAGE characters are sent)."""

    outcome: ServerOutcome
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"status": self.outcome.value, "message": self.message[:MAX_MESSAGE]}

    @classmethod
    def from_json(cls, data: Any) -> ServerReport:
        f = Fields(data)
        report = cls(f.choice("status", ServerOutcome),
                     f.text("message", "", max_len=MAX_MESSAGE))
        f.done()
        return report


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    """The server's status after a report (running → ACTIVE, error → ERROR)."""

    server_id: str
    status: ServerStatus

    def to_json(self) -> dict[str, Any]:
        return {"server": {"id": self.server_id, "status": self.status.value}}

    @classmethod
    def from_json(cls, data: Any) -> ServerAnswer:
        f = Fields.under(data, "server")
        return cls(f.text("id"), f.choice("status", ServerStatus))


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """The NIC agent saw the VF device (``mac`` on ``pci_slot``) up or down; ``pci_slot``
    None matches the port by MAC alone. ``uplink``: what became of the port's
    propagate_uplink_status on the VF (absent from older agents: off)."""

    mac: MacAddress
    pci_slot: PciAddress | None
    up: bool
    uplink: UplinkPropagation = UplinkPropagation.OFF

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"mac": str(self.mac),
                                "pci_slot": str(self.pci_slot) if self.pci_slot else None,
                                "up": self.up}
        if self.uplink is not UplinkPropagation.OFF:  # an older API reads reports strictly
            body["uplink_propagation"] = self.uplink.value
        return body

    @classmethod
    def from_json(cls, data: Any) -> DeviceReport:
        f = Fields(data)
        report = cls(f.required("mac", MacAddress.parse),
                     f.parsed("pci_slot", PciAddress.parse), f.flag("up"),
                     f.choice("uplink_propagation", UplinkPropagation, UplinkPropagation.OFF))
        f.done()
        return report


@dataclass(frozen=True, slots=True)
class PortAnswer:
    """The port on that device after a report (ACTIVE when bound, up and admin up)."""

    port_id: str
    status: PortStatus

    def to_json(self) -> dict[str, Any]:
        return {"port": {"id": self.port_id, "status": self.status.value}}

    @classmethod
    def from_json(cls, data: Any) -> PortAnswer:
        f = Fields.under(data, "port")
        return cls(f.text("id"), f.choice("status", PortStatus))
