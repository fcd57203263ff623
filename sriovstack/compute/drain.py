"""Draining a compute host: a plan for every server holding a VF there (where a scheduling
dry run would put it, with VF claims counted but nothing claimed, or why it cannot go), and,
unless a dry run, disabling the host and live-migrating each ACTIVE server to its planned
host (compute/migration.py: a VF claimed there, the binding moved, the source VF reset and
released once the guest runs on the target). A server that cannot go (no host, not ACTIVE,
the move refused) stays where it is with its VF; its step says why."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.hosts import HostInfo, HostRegistry
from sriovstack.compute.migration import MoveKind
from sriovstack.compute.scheduler import Scheduler
from sriovstack.compute.types import SYSTEM_CALLER
from sriovstack.db import Database
from sriovstack.db.models import HostRow, PciDeviceRow, ServerRow
from sriovstack.errors import SriovstackError
from sriovstack.pci import PciAddress

if TYPE_CHECKING:
    from sriovstack.compute.migration import MigrationService
    from sriovstack.compute.servers import ServerService

__all__ = ["DrainService", "DrainPlan", "DrainStep", "DRAIN_REASON", "NO_MIGRATION"]

DRAIN_REASON = "drained by sriovstack host drain"
NO_MIGRATION = ("live migration is not available: nothing was moved; move or delete these "
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
    moved: bool = False  # a live migration to ``destination`` was started


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
                 scheduler: Scheduler, servers: "ServerService | None" = None,
                 migrations: "MigrationService | None" = None) -> None:
        self._servers = servers
        self._migrations = migrations
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
        if dry_run:
            return DrainPlan(host, True, False, False, tuple(steps), "dry run: nothing changed")
        self._hosts.set_enabled(host, False, DRAIN_REASON)
        if self._servers is None or self._migrations is None:
            return DrainPlan(host, False, True, False, tuple(steps),
                             f"host disabled; {NO_MIGRATION}")
        moved = tuple(self._move(step) for step in steps)
        left = [s for s in moved if not s.moved]
        note = ("host disabled; every server is live-migrating off it" if not left else
                f"host disabled; {len(moved) - len(left)} of {len(moved)} servers are "
                "live-migrating off it; the others stay (see each reason), move or delete "
                "them, then `host undrain` when the host is back in service")
        return DrainPlan(host, False, True, not left, moved, note)

    def _move(self, step: DrainStep) -> DrainStep:
        """Live-migrate the server of ``step`` to its planned host; the step says how it went."""
        assert self._servers is not None and self._migrations is not None
        if step.destination is None:
            return step
        try:
            server = self._servers.get(SYSTEM_CALLER, step.server_id)
            self._migrations.move(server, MoveKind.LIVE, "", f"req-drain-{uuid.uuid4()}",
                                  host=step.destination)
        except SriovstackError as exc:
            return dataclasses.replace(step, reason=f"not moved: {exc}")
        return dataclasses.replace(step, moved=True)

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
