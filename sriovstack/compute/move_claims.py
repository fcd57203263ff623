"""How a move hands the source's claims around (compute/migration.py): the server's source
allocation and VFs become the migration's while it runs and come back on a revert or a
rollback; the ports' VF details on the source are kept to bind them there again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sriovstack.db.models import HostAllocationRow, PciDeviceRow, ServerPortRow

__all__ = ["source_ports", "restore_ports", "hand_over", "hand_back", "holds_claims"]


def source_ports(s: Session, server_id: str) -> dict[str, Any]:
    """Each port of the server with its VF on the source (what a return binds again)."""
    return {r.port_id: {"pci_address": r.pci_address, "vendor_id": r.vendor_id,
                        "product_id": r.product_id, "physnet": r.physnet,
                        "generation": r.generation}
            for r in s.scalars(select(ServerPortRow).where(
                ServerPortRow.server_id == server_id).order_by(ServerPortRow.position))}


def restore_ports(s: Session, server_id: str, ports: dict[str, Any]) -> None:
    """The server's port rows get their source VFs back (``ports`` from source_ports)."""
    for row in s.scalars(select(ServerPortRow).where(ServerPortRow.server_id == server_id)):
        dev = ports.get(row.port_id)
        if dev:
            row.pci_address, row.physnet = dev["pci_address"], dev["physnet"]
            row.vendor_id, row.product_id = dev["vendor_id"], dev["product_id"]
            row.generation = dev["generation"]


def hand_over(s: Session, server_id: str, consumer: str) -> None:
    """The server's source allocation and devices become the migration's (same rows,
    same generation: the VF configuration on the source is still the server's)."""
    s.execute(update(HostAllocationRow).where(HostAllocationRow.server_id == server_id)
              .values(server_id=consumer).execution_options(synchronize_session=False))
    s.execute(update(PciDeviceRow).where(PciDeviceRow.owner == server_id)
              .values(owner=consumer).execution_options(synchronize_session=False))


def hand_back(s: Session, consumer: str, server_id: str) -> None:
    """The migration's claims return to the server (after the target's were freed)."""
    if s.get(HostAllocationRow, server_id) is None:
        s.execute(update(HostAllocationRow).where(HostAllocationRow.server_id == consumer)
                  .values(server_id=server_id).execution_options(synchronize_session=False))
    s.execute(update(PciDeviceRow).where(PciDeviceRow.owner == consumer)
              .values(owner=server_id).execution_options(synchronize_session=False))


def holds_claims(s: Session, consumer: str) -> bool:
    """Whether the migration ``consumer`` still holds the source's claims (not handed back:
    once it has, the server's claims are the source's, never to be freed by a re-run)."""
    return s.get(HostAllocationRow, consumer) is not None
