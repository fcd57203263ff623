"""What agents report about their host: heartbeats, inventories, server status, device state.

The internal API calls one method here per endpoint; each forwards to the service that owns
the data (network agents table, host registry, servers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sriovstack.compute.hosts import HostInventoryReport, HostRegistry, InventoryResult
from sriovstack.compute.servers import ServerService
from sriovstack.compute.types import AgentServerStatus, Server
from sriovstack.network.agents import Agent, AgentReport
from sriovstack.network.types import Port

if TYPE_CHECKING:
    from sriovstack.network import NetworkService

__all__ = ["HostReports", "COMPUTE_AGENT_TYPE"]

# The compute agent's agent_type (nova's service "nova-compute"); its heartbeat is what
# marks the host up for ComputeFilter and os-hypervisors.
COMPUTE_AGENT_TYPE = "Compute agent"


class HostReports:
    """Receives agents' reports for one host at a time."""

    def __init__(self, network: "NetworkService", registry: HostRegistry,
                 servers: ServerService) -> None:
        self._network = network
        self._registry = registry
        self._servers = servers

    def heartbeat(self, report: AgentReport) -> Agent:
        """Record an agent's heartbeat (agents table); a compute agent's also marks the host up.

        Raises NotFound for a compute agent whose host never reported an inventory.
        """
        if report.agent_type == COMPUTE_AGENT_TYPE:
            self._registry.record_heartbeat(report.host)
        return self._network.record_heartbeat(report)

    def inventory(self, report: HostInventoryReport) -> InventoryResult:
        """Store the host's resources and whitelisted PCI devices (a heartbeat too)."""
        return self._registry.update_inventory(report)

    def server_status(self, host: str, server_id: str, status: AgentServerStatus,
                      message: str = "") -> Server:
        """The compute agent says the server runs (→ ACTIVE) or failed (→ ERROR + fault)."""
        return self._servers.report_status(host, server_id, status, message)

    def device_status(self, host: str, mac: str, pci_slot: str | None, up: bool) -> Port:
        """The SR-IOV NIC agent says a VF is up or down: the port goes ACTIVE or DOWN."""
        return self._network.set_device_status(host, mac, pci_slot, up)
