"""NetworkService: the one object other parts hold, wiring networks, subnets, ports, binding,
security groups and agents over one database and one set of ML2 settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from sriovstack.clock import Clock, SystemClock
from sriovstack.db import Database
from sriovstack.errors import Conflict, WriteConflict
from sriovstack.identity import Caller
from sriovstack.mac import MacAddress
from sriovstack.network import segments
from sriovstack.network.agents import Agent, Agents
from sriovstack.network.config import Ml2Settings
from sriovstack.network.env import Env
from sriovstack.network.host_bindings import HostBindings
from sriovstack.network.mechanisms import drivers_for
from sriovstack.network.networks import Networks
from sriovstack.network.port_bindings import BindRefused, DeviceBinding, PortBindings
from sriovstack.network.ports import Ports
from sriovstack.network.quotas import NetworkQuotas
from sriovstack.network.security_groups import SecurityGroups
from sriovstack.network.subnets import Subnets
from sriovstack.network.types import (BindingProfile, Port, PortRequest, PortSpec, PortStatus,
                                      RequestedPort)
from sriovstack.pci import PciAddress
from sriovstack.wire import Heartbeat, UplinkPropagation

__all__ = ["NetworkService"]


class NetworkService:
    """The network service (ML2). Resources hang off it (``networks``, ``subnets``, ``ports``,
    ``security_groups``, ``agents``, ``quotas``, ``host_bindings``); the methods compute calls in process are on it.

    Construction syncs the VLAN allocation table with network_vlan_ranges (neutron does
    this at start), so the database schema must exist.
    """

    def __init__(self, db: Database, settings: Ml2Settings, clock: Clock | None = None) -> None:
        env = Env(db, settings, clock or SystemClock())
        self.settings = settings
        self.networks = Networks(env)
        self.subnets = Subnets(env)
        self.security_groups = SecurityGroups(env)
        self.agents = Agents(env)
        self.bindings = PortBindings(env, drivers_for(settings))
        self.ports = Ports(env, self.security_groups, self.bindings.rebind)
        self.host_bindings = HostBindings(env, self.bindings)
        self.quotas = NetworkQuotas(db)
        self._sync(env)

    @staticmethod
    def _sync(env: Env) -> None:
        for _attempt in range(3):  # another worker starting at once may insert the same rows
            try:
                with env.db.transaction() as session:
                    segments.sync_vlan_allocations(session, env.settings)
                return
            except WriteConflict:
                continue
        raise Conflict("could not sync the VLAN allocation table with network_vlan_ranges")

    # --- what compute uses in process -----------------------------------------------------

    def get_port(self, caller: Caller, port_id: str) -> Port:
        """The port; NotFound (PortNotFound) when unknown or not the caller's."""
        return self.ports.get(caller, port_id)

    def create_port(self, caller: Caller, spec: PortSpec) -> Port:
        """A new port (nova's ``networks: [{uuid}]``); see Ports.create."""
        return self.ports.create(caller, spec)

    def delete_port(self, caller: Caller, port_id: str) -> None:
        self.ports.delete(caller, port_id)

    def port_request(self, caller: Caller, port_id: str) -> PortRequest:
        """The scheduling request for a port; see PortBindings.port_request."""
        return self.bindings.port_request(caller, port_id)

    def requested_ports(self, session: Session, caller: Caller, port_ids: Sequence[str]
                        ) -> tuple[RequestedPort, ...]:
        """The ports a new server asks for, checked, read in the caller's ``session`` (server
        create's one transaction); see PortBindings.requested_ports."""
        return self.bindings.requested_ports(session, caller, port_ids)

    def bind_port(self, port_id: str, host: str, device_id: str, device_owner: str,
                  profile: BindingProfile) -> None:
        """Bind; raises Conflict(kind PortBindingFailed) with the reason on failure."""
        self.bindings.bind_port(port_id, host, device_id, device_owner, profile)

    def bind_devices(self, devices: Sequence[DeviceBinding]) -> list[BindRefused | None]:
        """Bind each device's ports in one transaction; per device None, or the port
        refused and why (``PortBindings.bind_devices``)."""
        return self.bindings.bind_devices(devices)

    def unbind_port(self, port_id: str, device_id: str | None = None) -> Port:
        """Unbind; with ``device_id``, only while that device owns the port."""
        return self.bindings.unbind_port(port_id, device_id)

    def watch_hosts(self, callback: Callable[[str], object]) -> None:
        """Have ``callback(host)`` run after changes a host's agents must apply at once."""
        self.ports.watch_hosts(callback)

    def set_device_status(self, host: str, mac: MacAddress, pci_slot: PciAddress | None,
                          up: bool, uplink: UplinkPropagation = UplinkPropagation.OFF) -> Port:
        return self.bindings.set_device_status(host, mac, pci_slot, up, uplink)

    def report_device(self, host: str, mac: MacAddress, pci_slot: PciAddress | None,
                      up: bool, uplink: UplinkPropagation = UplinkPropagation.OFF
                      ) -> tuple[str, PortStatus]:
        """``set_device_status`` answering only the port's id and status (fewer reads)."""
        return self.bindings.report_device(host, mac, pci_slot, up, uplink)

    def record_heartbeat(self, host: str, beat: Heartbeat,
                         session: Session | None = None) -> Agent:
        return self.agents.record_heartbeat(host, beat, session)

    def live_agents(self, host: str) -> list[Agent]:
        return self.agents.live_agents(host)
