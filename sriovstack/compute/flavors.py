"""The flavor catalogue: the seeded m1.* flavors, lookups and nova's list filters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from sriovstack.compute.types import Flavor
from sriovstack.db import Database
from sriovstack.db.models import FlavorRow
from sriovstack.errors import ErrorKind, Invalid, NotFound

__all__ = ["FlavorService", "FlavorQuery", "DEFAULT_FLAVORS"]

# Nova's classic default set (what devstack and the chapter's `--flavor m1.tiny` assume).
DEFAULT_FLAVORS: tuple[Flavor, ...] = (
    Flavor("1", "m1.tiny", ram=512, vcpus=1, disk=1),
    Flavor("2", "m1.small", ram=2048, vcpus=1, disk=20),
    Flavor("3", "m1.medium", ram=4096, vcpus=2, disk=40),
    Flavor("4", "m1.large", ram=8192, vcpus=4, disk=80),
    Flavor("5", "m1.xlarge", ram=16384, vcpus=8, disk=160),
)


@dataclass(frozen=True, slots=True)
class FlavorQuery:
    """Nova's flavor list filters: ``is_public`` None means public and private (admin)."""

    is_public: bool | None = True
    min_disk: int | None = None
    min_ram: int | None = None
    limit: int | None = None
    marker: str | None = None


def _to_flavor(row: FlavorRow) -> Flavor:
    return Flavor(id=row.id, name=row.name, ram=row.ram, vcpus=row.vcpus, disk=row.disk,
                  ephemeral=row.ephemeral, swap=row.swap, rxtx_factor=row.rxtx_factor,
                  is_public=row.is_public, description=row.description)


class FlavorService:
    """Reads flavors; ``seed()`` inserts the default set once (idempotent)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def seed(self, flavors: tuple[Flavor, ...] = DEFAULT_FLAVORS) -> None:
        """Insert each flavor whose id is not present yet."""
        with self._db.transaction() as session:
            have = set(session.scalars(select(FlavorRow.id)))
            for f in flavors:
                if f.id not in have:
                    session.add(FlavorRow(
                        id=f.id, name=f.name, ram=f.ram, vcpus=f.vcpus, disk=f.disk,
                        ephemeral=f.ephemeral, swap=f.swap, rxtx_factor=f.rxtx_factor,
                        is_public=f.is_public, description=f.description))

    def get(self, flavor_id: str) -> Flavor:
        """The flavor with this id; NotFound (nova's "Flavor X could not be found.") otherwise."""
        with self._db.transaction() as session:
            row = session.get(FlavorRow, flavor_id)
            if row is None:
                raise NotFound(f"Flavor {flavor_id} could not be found.",
                               kind=ErrorKind.FLAVOR_NOT_FOUND,
                               field="flavorRef", value=flavor_id)
            return _to_flavor(row)

    def list(self, query: FlavorQuery = FlavorQuery()) -> tuple[Flavor, ...]:
        """Flavors sorted by id (nova sorts by flavorid), filtered and paged as asked.

        Raises Invalid when ``marker`` names no flavor (nova: 400 "marker [x] not found").
        """
        with self._db.transaction() as session:
            stmt = select(FlavorRow).order_by(FlavorRow.id)
            if query.is_public is not None:
                stmt = stmt.where(FlavorRow.is_public == query.is_public)
            if query.min_disk is not None:
                stmt = stmt.where(FlavorRow.disk >= query.min_disk)
            if query.min_ram is not None:
                stmt = stmt.where(FlavorRow.ram >= query.min_ram)
            rows = [_to_flavor(r) for r in session.scalars(stmt)]
        return _page(rows, query.marker, query.limit)


def _page(rows: list[Flavor], marker: str | None, limit: int | None) -> tuple[Flavor, ...]:
    if marker is not None:
        ids = [f.id for f in rows]
        if marker not in ids:
            raise Invalid(f"marker [{marker}] not found", field="marker", value=marker)
        rows = rows[ids.index(marker) + 1:]
    if limit is not None:
        rows = rows[:limit]
    return tuple(rows)
