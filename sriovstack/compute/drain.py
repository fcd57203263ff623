"""Draining a compute host: a plan for every server holding a VF there (where a scheduling
dry run would put it, with VF claims counted but nothing claimed, or why it cannot go), and
disabling the host. Moving the servers needs live migration, which sriovstack does not have
yet: a drain plans, disables, and says that it moved nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.hosts import HostInfo, HostRegistry
from sriovstack.compute.scheduler import Scheduler
from sriovstack.db import Database
from sriovstack.db.models import HostRow, PciDeviceRow, ServerRow
from sriovstack.pci import PciAddress

__all__ = ["DrainService", "DrainPlan", "DrainStep", "DRAIN_REASON", "NO_MIGRATION"]

DRAIN_REASON = "drained by sriovstack host drain"
NO_MIGRATION = ("live migration is not available yet: nothing was moved; move or delete these "
                "servers, then `host undrain` when the host is back in service")


@dataclass(frozen=True, slots=True)
class DrainStep:
    """One server holding VFs on the drained host: where it would go, or why it cannot."""

    server_id: str
    server_name: str
    project_id: str
    vfs: tuple[PciAddress, ...]
    destination: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DrainPlan:
    """The plan for ``host``; ``disabled`` when this drain disabled it (not a dry run)."""

    host: str
    dry_run: bool
    disabled: bool
    migrated: bool
    steps: tuple[DrainStep, ...]
    note: str


class DrainService:
    """``drain(host, dry_run)`` and ``undrain(host)`` (admin only; the API checks)."""

    def __init__(self, db: Database, hosts: HostRegistry, builder: ServerBuilder,
                 scheduler: Scheduler) -> None:
        self._db = db
        self._hosts = hosts
        self._builder = builder
        self._scheduler = scheduler

    def drain(self, host: str, dry_run: bool) -> DrainPlan:
        """Plan every server holding a VF on ``host``; unless ``dry_run``, disable the host
        (ComputeFilter then places nothing there). NotFound for an unknown host."""
        self._hosts.get(host)
        held = self._held_vfs(host)
        requests = [r for r in (self._builder.build_request(s) for s in held) if r is not None]
        placements = {p.server_id: p for p in
                      self._scheduler.dry_run(requests, leaving=frozenset({host}))}
        steps = []
        for server_id, (name, project, vfs) in held.items():
            placed = placements.get(server_id)
            steps.append(DrainStep(server_id, name, project, vfs,
                                   placed.host if placed else None,
                                   placed.reason if placed else "the server is gone"))
        if not dry_run:
            self._hosts.set_enabled(host, False, DRAIN_REASON)
        return DrainPlan(host, dry_run, not dry_run, False, tuple(steps),
                         "dry run: nothing changed" if dry_run else
                         f"host disabled; {NO_MIGRATION}")

    def undrain(self, host: str) -> HostInfo:
        """Enable ``host`` again; NotFound for an unknown host."""
        return self._hosts.set_enabled(host, True)

    def _held_vfs(self, host: str) -> dict[str, tuple[str, str, tuple[PciAddress, ...]]]:
        """Server id → (name, project, its VFs on ``host``), by server name."""
        d = PciDeviceRow
        query = (select(ServerRow.id, ServerRow.name, ServerRow.project_id, d.address)
                 .join(HostRow, HostRow.id == d.host_id)
                 .join(ServerRow, ServerRow.id == d.owner)
                 .where(HostRow.name == host, d.dev_type == "type-VF")
                 .order_by(ServerRow.name, ServerRow.id, d.address))
        out: dict[str, tuple[str, str, tuple[PciAddress, ...]]] = {}
        with self._db.transaction() as s:
            for server_id, name, project, address in s.execute(query):
                _, _, vfs = out.get(server_id, (name, project, ()))
                out[server_id] = (name, project, (*vfs, PciAddress.parse(address)))
        return out
