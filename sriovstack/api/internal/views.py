"""Internal agent API response bodies."""

from __future__ import annotations

from typing import Any

from sriovstack.compute.hosts import InventoryResult
from sriovstack.compute.types import DesiredState
from sriovstack.network.agents import Agent

__all__ = ["agent_view", "inventory_view", "desired_state_view"]


def agent_view(agent: Agent) -> dict[str, Any]:
    return {"id": agent.id, "host": agent.host, "agent_type": agent.agent_type,
            "binary": agent.binary, "alive": agent.alive,
            "admin_state_up": agent.admin_state_up}


def inventory_view(result: InventoryResult) -> dict[str, int]:
    return {"added": result.added, "updated": result.updated, "removed": result.removed,
            "kept_in_use": result.kept_in_use}


def desired_state_view(state: DesiredState) -> dict[str, Any]:
    """``{host, revision, servers: [{id, name, status, vcpus, memory_mb, ports: [...]}]}``."""
    return {"host": state.host, "revision": state.revision, "servers": [
        {"id": s.server_id, "name": s.name, "status": s.status.value, "vcpus": s.vcpus,
         "memory_mb": s.memory_mb, "ports": [
             {"port_id": p.port_id, "mac": p.mac, "vnic_type": p.vnic_type, "vlan": p.vlan,
              "pci_address": p.pci_address, "physnet": p.physnet,
              "admin_state_up": p.admin_state_up, "generation": p.generation,
              "fixed_ip": p.fixed_ip}
             for p in s.ports]}
        for s in state.servers]}
