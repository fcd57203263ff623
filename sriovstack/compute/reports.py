"""What agents report about their host: heartbeats, inventories, server status, device state.

The internal API calls one method here per endpoint with the report as the contract declares
it (``sriovstack.wire``) and answers with what this returns; each forwards to the service that
owns the data (network agents table, host registry, servers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.servers import ServerService
from sriovstack.db import Database
from sriovstack.wire import (COMPUTE_AGENT_TYPE, DeviceReport, Heartbeat, HeartbeatAnswer,
                             InventoryCounts, InventoryReport, LinkAnswer, LinkReport,
                             PortAnswer, ServerAnswer, ServerReport)

if TYPE_CHECKING:
    from sriovstack.network import NetworkService

__all__ = ["HostReports"]


class HostReports:
    """Receives agents' reports for one host at a time."""

    def __init__(self, db: Database, network: "NetworkService", registry: HostRegistry,
                 servers: ServerService) -> None:
        self._db = db
        self._network = network
        self._registry = registry
        self._servers = servers

    def heartbeat(self, host: str, beat: Heartbeat) -> HeartbeatAnswer:
        """Record an agent's heartbeat (agents table); a compute agent's also marks the host up.

        Raises NotFound for a compute agent whose host never reported an inventory.
        """
        # On PostgreSQL each statement of a beat commits on its own (no BEGIN or COMMIT: two
        # round trips fewer, 133 beats a second at 1,000 hosts): a compute beat marks its
        # host up, then its agent, each fact whole; an unknown host raises before anything
        # is written.
        with self._db.autocommit() as session:
            if beat.agent_type == COMPUTE_AGENT_TYPE:
                self._registry.record_heartbeat(host, session)
            agent = self._network.record_heartbeat(host, beat, session)
        return HeartbeatAnswer(agent.id, agent.host, agent.agent_type, agent.binary,
                               agent.alive, agent.admin_state_up)

    def inventory(self, host: str, report: InventoryReport) -> InventoryCounts:
        """Store the host's resources and whitelisted PCI devices (a heartbeat too)."""
        return self._registry.update_inventory(host, report)

    def server_status(self, host: str, server_id: str, report: ServerReport) -> ServerAnswer:
        """The compute agent says the server runs (→ ACTIVE) or failed (→ ERROR + fault).

        Raises NotFound when the server is unknown, Conflict when it is not placed on ``host``.
        """
        return ServerAnswer(*self._servers.report_status(host, server_id, report))

    def device_status(self, host: str, report: DeviceReport) -> PortAnswer:
        """The SR-IOV NIC agent says a VF is up or down: the port goes ACTIVE or DOWN."""
        return PortAnswer(*self._network.report_device(host, report.mac, report.pci_slot,
                                                       report.up, report.uplink))

    def links(self, host: str, report: LinkReport, request_id: str = "",
              user_id: str = "") -> LinkAnswer:
        """The SR-IOV NIC agent says which PFs have carrier: their VFs become unhealthy (not
        scheduled) or healthy again, and each server holding one gets an instance action
        recorded under ``request_id`` by ``user_id``. NotFound for an unregistered host."""
        return self._registry.report_links(host, report, request_id, user_id)
