"""A server as its rows store it: ``servers``, ``server_ports`` and ``faults`` into a ``Server``."""

from __future__ import annotations

from collections.abc import Sequence

from sriovstack.compute.types import Fault, Server, ServerPort, ServerStatus
from sriovstack.db.models import FaultRow, ServerPortRow, ServerRow
from sriovstack.pci import PciAddress
from sriovstack.wire import VnicType

__all__ = ["server_of"]


def server_of(row: ServerRow, ports: Sequence[ServerPortRow],
              fault_row: FaultRow | None, powered_off: bool = False) -> Server:
    """The server of ``row`` with ``ports`` (in position order) and its fault, if any."""
    fault = (Fault(fault_row.code, fault_row.message, fault_row.created, fault_row.details)
             if fault_row is not None else None)
    return Server(
        id=row.id, name=row.name, project_id=row.project_id, user_id=row.user_id,
        status=ServerStatus(row.status), task_state=row.task_state, flavor_id=row.flavor_id,
        image_id=row.image_id, host=row.host, availability_zone=row.availability_zone,
        access_ipv4=row.access_ipv4, access_ipv6=row.access_ipv6,
        metadata=tuple(sorted((str(k), str(v)) for k, v in row.meta.items())),
        key_name=row.key_name, created_at=row.created_at, updated_at=row.updated_at,
        launched_at=row.launched_at, fault=fault, description=row.description,
        locked=bool(row.locked), locked_reason=row.locked_reason, powered_off=powered_off,
        ports=tuple(ServerPort(port_id=p.port_id, network_id=p.network_id,
                               created_by_compute=p.created_by_compute,
                               vnic_type=VnicType(p.vnic_type),
                               pci_address=PciAddress.parse(p.pci_address) if p.pci_address
                               else None, vendor_id=p.vendor_id,
                               product_id=p.product_id, physnet=p.physnet,
                               generation=p.generation) for p in ports))
