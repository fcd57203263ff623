"""The flavor catalogue: the seeded m1.* flavors, lookups and nova's list filters; create and
delete, private flavors' access lists and extra specs (nova's os-flavor-manage,
os-flavor-access and os-extra-specs)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.orm import Session

from sriovstack.compute.extra_specs import check_extra_spec
from sriovstack.compute.types import Flavor
from sriovstack.db import Database
from sriovstack.db.models import FlavorExtraSpecRow, FlavorProjectRow, FlavorRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound, WriteConflict
from sriovstack.identity import Caller, policy

__all__ = ["FlavorService", "FlavorQuery", "DEFAULT_FLAVORS", "FlavorCreate"]

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


@dataclass(frozen=True, slots=True)
class FlavorCreate:
    """POST /flavors: ``id`` None means a generated UUID (nova's "auto")."""

    name: str
    ram: int
    vcpus: int
    disk: int
    id: str | None = None
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None


# ``get_in``'s read (every server create): the flavor's columns with its extra specs, one
# Core statement built once.
_F, _X = FlavorRow.__table__.c, FlavorExtraSpecRow.__table__.c
_WITH_SPECS = (select(_F.id, _F.name, _F.ram, _F.vcpus, _F.disk, _F.ephemeral, _F.swap,
                      _F.rxtx_factor, _F.is_public, _F.description, _X.key, _X.value)
               .outerjoin(FlavorExtraSpecRow.__table__, _X.flavor_id == _F.id)
               .where(_F.id == bindparam("flavor")))


def _to_flavor(row: FlavorRow | Row[Any], specs: Mapping[str, str] | None = None) -> Flavor:
    return Flavor(id=row.id, name=row.name, ram=row.ram, vcpus=row.vcpus, disk=row.disk,
                  ephemeral=row.ephemeral, swap=row.swap, rxtx_factor=row.rxtx_factor,
                  is_public=row.is_public, description=row.description,
                  extra_specs=tuple(sorted((specs or {}).items())))


def _specs_of(session: Session, flavor_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    if flavor_ids:
        for r in session.scalars(select(FlavorExtraSpecRow).where(
                FlavorExtraSpecRow.flavor_id.in_(flavor_ids))):
            found.setdefault(r.flavor_id, {})[r.key] = r.value
    return found


def _not_found(flavor_id: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} could not be found.", kind=ErrorKind.FLAVOR_NOT_FOUND,
                    field="flavorRef", value=flavor_id)


def _accessible(caller: Caller):  # type: ignore[no-untyped-def]
    """nova's filter for a non-admin: public flavors, or private ones shared with the project."""
    shared = select(FlavorProjectRow.flavor_id).where(
        FlavorProjectRow.project_id == (caller.project_id or ""))
    return or_(FlavorRow.is_public.is_(True), FlavorRow.id.in_(shared))


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

    def get(self, flavor_id: str, *, visible_to: Caller | None = None) -> Flavor:
        """The flavor with this id, with its extra specs; NotFound (nova's "Flavor X could not
        be found.") otherwise, and for a private flavor ``visible_to`` (not admin) may not use.
        """
        with self._db.autocommit() as session:  # reads: see ``Database.autocommit``
            return self.get_in(session, flavor_id, visible_to=visible_to)

    @classmethod
    def get_in(cls, session: Session, flavor_id: str, *,
               visible_to: Caller | None = None) -> Flavor:
        """``get`` in the caller's ``session`` (server create's one transaction): the
        flavor with its extra specs in one statement."""
        found = session.execute(_WITH_SPECS, {"flavor": flavor_id}).all()
        if not found:
            raise _not_found(flavor_id)
        row = found[0]
        cls._check_visible(session, row, visible_to)
        return _to_flavor(row, {r.key: r.value for r in found if r.key is not None})

    @staticmethod
    def _row(session: Session, flavor_id: str, visible_to: Caller | None = None) -> FlavorRow:
        row = session.get(FlavorRow, flavor_id)
        if row is None:
            raise _not_found(flavor_id)
        FlavorService._check_visible(session, row, visible_to)
        return row

    @staticmethod
    def _check_visible(session: Session, row: FlavorRow | Row[Any], visible_to: Caller | None) -> None:
        """NotFound for a private flavor not shared with ``visible_to``'s project (nova)."""
        if visible_to is not None and not visible_to.is_admin and not row.is_public:
            shared = session.get(FlavorProjectRow, (row.id, visible_to.project_id or ""))
            if shared is None:
                raise _not_found(row.id)

    def list(self, query: FlavorQuery = FlavorQuery(), *,
             visible_to: Caller | None = None) -> tuple[Flavor, ...]:
        """Flavors sorted by id (nova sorts by flavorid), filtered and paged as asked.

        For ``visible_to`` that is no admin, nova's rule: public flavors and the private ones
        shared with its project, whatever ``is_public`` asked; an admin asking for public
        flavors also gets those shared with its project.
        Raises Invalid when ``marker`` names no flavor (nova: 400 "marker [x] not found").
        """
        with self._db.transaction() as session:
            stmt = select(FlavorRow).order_by(FlavorRow.id)
            if visible_to is not None and not visible_to.is_admin:
                stmt = stmt.where(_accessible(visible_to))
            elif query.is_public is True and visible_to is not None:
                stmt = stmt.where(_accessible(visible_to))
            elif query.is_public is not None:
                stmt = stmt.where(FlavorRow.is_public == query.is_public)
            if query.min_disk is not None:
                stmt = stmt.where(FlavorRow.disk >= query.min_disk)
            if query.min_ram is not None:
                stmt = stmt.where(FlavorRow.ram >= query.min_ram)
            found = list(session.scalars(stmt))
            specs = _specs_of(session, [r.id for r in found])
            rows = [_to_flavor(r, specs.get(r.id)) for r in found]
        return _page(rows, query.marker, query.limit)

    # -- os-flavor-manage ----------------------------------------------------------------

    def create(self, caller: Caller, spec: FlavorCreate) -> Flavor:
        """Create a flavor (admin). Raises Forbidden, Conflict (FlavorExists for the name,
        FlavorIdExists for the id: nova's 409)."""
        policy.require_admin(caller, "os_compute_api:os-flavor-manage:create")
        flavor_id = spec.id if spec.id is not None else str(uuid.uuid4())
        try:
            with self._db.transaction() as session:
                if session.get(FlavorRow, flavor_id) is not None:
                    raise _id_exists(flavor_id)
                if session.scalar(select(FlavorRow.id).where(
                        FlavorRow.name == spec.name)) is not None:
                    raise _name_exists(spec.name)
                row = FlavorRow(id=flavor_id, name=spec.name, ram=spec.ram, vcpus=spec.vcpus,
                                disk=spec.disk, ephemeral=spec.ephemeral, swap=spec.swap,
                                rxtx_factor=spec.rxtx_factor, is_public=spec.is_public,
                                description=spec.description)
                session.add(row)
                session.flush()
                return _to_flavor(row)
        except WriteConflict as exc:  # a concurrent create took the id or the name
            raise _name_exists(spec.name) from exc

    def delete(self, caller: Caller, flavor_id: str) -> None:
        """Delete the flavor, its extra specs and access list (admin); servers keep running
        with what they were built with. NotFound for an unknown id."""
        policy.require_admin(caller, "os_compute_api:os-flavor-manage:delete")
        with self._db.transaction() as session:
            row = self._row(session, flavor_id)
            for table in (FlavorExtraSpecRow, FlavorProjectRow):
                for child in session.scalars(select(table).where(table.flavor_id == flavor_id)):
                    session.delete(child)
            session.delete(row)

    def set_description(self, caller: Caller, flavor_id: str, description: str | None) -> Flavor:
        """2.55's PUT /flavors/{id}: only the description changes (admin)."""
        policy.require_admin(caller, "os_compute_api:os-flavor-manage:update")
        with self._db.transaction() as session:
            row = self._row(session, flavor_id)
            row.description = description
            return _to_flavor(row, _specs_of(session, [row.id]).get(row.id))

    # -- os-flavor-access ----------------------------------------------------------------

    def access(self, caller: Caller, flavor_id: str) -> tuple[str, ...]:
        """The projects a private flavor is shared with (admin); NotFound for a public one
        (nova: "Access list not available for public flavors.")."""
        policy.require_admin(caller, "os_compute_api:os-flavor-access")
        with self._db.transaction() as session:
            row = self._row(session, flavor_id)
            if row.is_public:
                raise NotFound("Access list not available for public flavors.",
                               kind=ErrorKind.FLAVOR_NOT_FOUND, value=flavor_id)
            return _projects(session, flavor_id)

    def add_access(self, caller: Caller, flavor_id: str, project_id: str) -> tuple[str, ...]:
        """Share a private flavor with a project; Conflict for a public flavor or an entry
        that exists (FlavorAccessExists)."""
        policy.require_admin(caller, "os_compute_api:os-flavor-access:add_tenant_access")
        try:
            with self._db.transaction() as session:
                row = self._row(session, flavor_id)
                if row.is_public:
                    raise Conflict("Can not add access to a public flavor.",
                                   field="flavor_id", value=flavor_id)
                if session.get(FlavorProjectRow, (flavor_id, project_id)) is not None:
                    raise _access_exists(flavor_id, project_id)
                session.add(FlavorProjectRow(flavor_id=flavor_id, project_id=project_id))
                session.flush()
                return _projects(session, flavor_id)
        except WriteConflict as exc:
            raise _access_exists(flavor_id, project_id) from exc

    def remove_access(self, caller: Caller, flavor_id: str,
                      project_id: str) -> tuple[str, ...]:
        """Stop sharing; NotFound (FlavorAccessNotFound) when the project was not on it."""
        policy.require_admin(caller, "os_compute_api:os-flavor-access:remove_tenant_access")
        with self._db.transaction() as session:
            self._row(session, flavor_id)
            entry = session.get(FlavorProjectRow, (flavor_id, project_id))
            if entry is None:
                raise NotFound(f"Flavor access not found for {flavor_id} / {project_id} "
                               "combination.", kind=ErrorKind.FLAVOR_ACCESS_NOT_FOUND,
                               field="tenant", value=project_id)
            session.delete(entry)
            session.flush()
            return _projects(session, flavor_id)

    # -- os-extra-specs ------------------------------------------------------------------

    def set_extra_specs(self, caller: Caller, flavor_id: str,
                        specs: Mapping[str, str]) -> Flavor:
        """Add or replace extra specs (admin), each checked as nova checks known keys
        (Invalid naming the key); the flavor with all its specs."""
        policy.require_admin(caller, "os_compute_api:os-flavor-extra-specs:create")
        for key, value in specs.items():
            check_extra_spec(key, value)
        for attempt in (1, 2):
            try:
                with self._db.transaction() as session:
                    row = self._row(session, flavor_id)
                    for key, value in specs.items():
                        have = session.get(FlavorExtraSpecRow, (flavor_id, key))
                        if have is None:
                            session.add(FlavorExtraSpecRow(flavor_id=flavor_id, key=key,
                                                           value=value))
                        else:
                            have.value = value
                    session.flush()
                    return _to_flavor(row, _specs_of(session, [flavor_id]).get(flavor_id))
            except WriteConflict:  # a concurrent set added the same key: ours replaces it
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def unset_extra_spec(self, caller: Caller, flavor_id: str, key: str) -> None:
        """Remove one extra spec (admin); NotFound (FlavorExtraSpecsNotFound) without it."""
        policy.require_admin(caller, "os_compute_api:os-flavor-extra-specs:delete")
        with self._db.transaction() as session:
            self._row(session, flavor_id)
            have = session.get(FlavorExtraSpecRow, (flavor_id, key))
            if have is None:
                raise _spec_not_found(flavor_id, key)
            session.delete(have)

    def extra_spec(self, caller: Caller, flavor_id: str, key: str) -> str:
        """The value of one extra spec; NotFound (FlavorExtraSpecsNotFound) without it."""
        value = self.get(flavor_id, visible_to=caller).extra_spec(key)
        if value is None:
            raise _spec_not_found(flavor_id, key)
        return value


def _projects(session: Session, flavor_id: str) -> tuple[str, ...]:
    return tuple(session.scalars(select(FlavorProjectRow.project_id).where(
        FlavorProjectRow.flavor_id == flavor_id).order_by(FlavorProjectRow.project_id)))


def _id_exists(flavor_id: str) -> Conflict:
    return Conflict(f"Flavor with ID {flavor_id} already exists.",
                    kind=ErrorKind.FLAVOR_ID_EXISTS, field="id", value=flavor_id)


def _name_exists(name: str) -> Conflict:
    return Conflict(f"Flavor with name {name} already exists.", kind=ErrorKind.FLAVOR_EXISTS,
                    field="name", value=name)


def _access_exists(flavor_id: str, project_id: str) -> Conflict:
    return Conflict(f"Flavor access already exists for flavor {flavor_id} and project "
                    f"{project_id} combination.", kind=ErrorKind.FLAVOR_ACCESS_EXISTS,
                    field="tenant", value=project_id)


def _spec_not_found(flavor_id: str, key: str) -> NotFound:
    return NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.",
                    kind=ErrorKind.FLAVOR_EXTRA_SPECS_NOT_FOUND, field="key", value=key)


def _page(rows: list[Flavor], marker: str | None, limit: int | None) -> tuple[Flavor, ...]:
    if marker is not None:
        ids = [f.id for f in rows]
        if marker not in ids:
            raise Invalid(f"marker [{marker}] not found", field="marker", value=marker)
        rows = rows[ids.index(marker) + 1:]
    if limit is not None:
        rows = rows[:limit]
    return tuple(rows)
