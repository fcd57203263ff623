"""Compute quotas (nova's os-quota-sets, os-quota-class-sets, limits, os-simple-tenant-usage
counts): the limits with nova's defaults, usage counted from the servers table, and the
check a new server must pass (nova's 403 "Quota exceeded for ...").

Beyond nova: one resource per physnet, ``sriov_vfs:<physnet>``, the VFs a project's servers
may hold there (unlimited by default), counted from their direct ports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from sriovstack.db import Database
from sriovstack.db.models import FlavorRow, PciDeviceRow, ServerPortRow, ServerRow
from sriovstack.errors import ErrorKind, Forbidden, Invalid
from sriovstack.identity import Caller, policy
from sriovstack.quota import UNLIMITED, QuotaBook, overages
from sriovstack.wire import ServerStatus, VnicType

__all__ = ["ComputeQuotas", "QuotaDetail", "COMPUTE_DEFAULTS", "LEGACY_NETWORK_DEFAULTS",
           "VF_PREFIX", "vf_resource"]

# nova's [quota] defaults (nova/conf/quota.py).
COMPUTE_DEFAULTS: Mapping[str, int] = {
    "instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128,
    "injected_files": 5, "injected_file_content_bytes": 10240,
    "injected_file_path_bytes": 255, "key_pairs": 100, "server_groups": 10,
    "server_group_members": 10,
}
# The nova-network quotas nova still shows below 2.36 (fixed, never enforced with neutron).
LEGACY_NETWORK_DEFAULTS: Mapping[str, int] = {
    "fixed_ips": -1, "floating_ips": 10, "security_groups": 10, "security_group_rules": 20,
}
VF_PREFIX = "sriov_vfs:"
_DELETED = ServerStatus.DELETED.value

# ``usage``'s reads (a create's quota check when a limit applies), built once: the live
# servers of a project with their flavors' size, and their direct ports per physnet.
_S, _F, _P = ServerRow.__table__.c, FlavorRow.__table__.c, ServerPortRow.__table__.c
_LIVE = (_S.project_id == bindparam("project"), _S.status != _DELETED)
_SERVERS_USED = (select(func.count(_S.id), func.coalesce(func.sum(_F.vcpus), 0),
                        func.coalesce(func.sum(_F.ram), 0))
                 .select_from(ServerRow.__table__)
                 .outerjoin(FlavorRow.__table__, _F.id == _S.flavor_id).where(*_LIVE))
_VFS_USED = (select(_P.physnet, func.count())
             .join(ServerRow.__table__, _S.id == _P.server_id)
             .where(*_LIVE, _P.vnic_type == str(VnicType.DIRECT), _P.physnet.is_not(None))
             .group_by(_P.physnet))


def vf_resource(physnet: str) -> str:
    """The quota resource of the VFs of ``physnet``: ``sriov_vfs:<physnet>``."""
    return f"{VF_PREFIX}{physnet}"


@dataclass(frozen=True, slots=True)
class QuotaDetail:
    """One resource of a project as 2.1's ``/detail`` shows it."""

    limit: int
    in_use: int
    reserved: int = 0


class ComputeQuotas:
    """Limits (QuotaBook ``compute``), usage and the create check of compute resources."""

    def __init__(self, db: Database, physnets: Iterable[str] = ()) -> None:
        self._db = db
        self._book = QuotaBook("compute", {**COMPUTE_DEFAULTS, **LEGACY_NETWORK_DEFAULTS})
        self._physnets = tuple(physnets)

    # -- reading ---------------------------------------------------------------------------

    def resources(self, session: Session) -> tuple[str, ...]:
        """Every compute resource: nova's, then ``sriov_vfs:<physnet>`` for each physnet the
        ML2 settings or a host's whitelisted devices name."""
        devices = session.scalars(select(PciDeviceRow.physnet).distinct().where(
            PciDeviceRow.physnet.is_not(None)))
        physnets = sorted({*self._physnets, *(str(p) for p in devices)})
        return (*COMPUTE_DEFAULTS, *LEGACY_NETWORK_DEFAULTS, *(vf_resource(p) for p in physnets))

    def limits(self, caller: Caller, project_id: str) -> dict[str, int]:
        """``project_id``'s limits; Forbidden unless it is the caller's project or an admin."""
        _check_reader(caller, project_id)
        with self._db.transaction() as session:
            return self._book.project_limits(session, project_id, self.resources(session))

    def detail(self, caller: Caller, project_id: str) -> dict[str, QuotaDetail]:
        """``project_id``'s limits with what it uses (reserved is always 0, as nova's)."""
        _check_reader(caller, project_id)
        with self._db.transaction() as session:
            limits = self._book.project_limits(session, project_id, self.resources(session))
            used = self.usage(session, project_id)
        return {r: QuotaDetail(limit, used.get(r, 0)) for r, limit in limits.items()}

    def defaults(self) -> dict[str, int]:
        """What a project without limits of its own gets (the ``default`` class)."""
        with self._db.transaction() as session:
            return self._book.defaults(session, self.resources(session))

    def class_limits(self, caller: Caller, name: str) -> dict[str, int]:
        """The limits of quota class ``name`` (admin only)."""
        policy.require_admin(caller, "os-quota-class-sets")
        with self._db.transaction() as session:
            return self._book.class_limits(session, name, self.resources(session))

    def used(self, project_id: str) -> dict[str, int]:
        """What ``project_id`` holds now (instances, cores, ram, VFs per physnet)."""
        with self._db.transaction() as session:
            return self.usage(session, project_id)

    @staticmethod
    def usage(session: Session, project_id: str) -> dict[str, int]:
        """Counts in ``session``: servers not being deleted, their flavors' vCPUs and RAM,
        and the direct (VF) ports they hold per physnet."""
        params = {"project": project_id}
        count, cores, ram = session.execute(_SERVERS_USED, params).one()
        out = {"instances": int(count), "cores": int(cores), "ram": int(ram)}
        vfs = session.execute(_VFS_USED, params).all()
        out.update({vf_resource(str(physnet)): int(n) for physnet, n in vfs})
        return out

    # -- writing ---------------------------------------------------------------------------

    def update(self, caller: Caller, project_id: str, changes: Mapping[str, int],
               force: bool = False) -> dict[str, int]:
        """Set ``project_id``'s limits (admin only); without ``force`` a limit below what the
        project uses is Invalid (nova's 400); the project's limits after the change."""
        policy.require_admin(caller, "updating quotas")
        with self._db.transaction() as session:
            names = self.resources(session)
            _known(changes, names)
            if not force:
                used = self.usage(session, project_id)
                for resource, limit in changes.items():
                    if limit != -1 and limit < used.get(resource, 0):
                        raise Invalid(
                            f"Quota limit {limit} for {resource} must be greater than or "
                            f"equal to already used and reserved {used[resource]}.",
                            field=resource, value=limit, fix="raise it, or pass force")
            self._book.set_project(session, project_id, changes)
            return self._book.project_limits(session, project_id, names)

    def revert(self, caller: Caller, project_id: str) -> None:
        """Drop ``project_id``'s own limits: back to the defaults (admin only)."""
        policy.require_admin(caller, "deleting quotas")
        with self._db.transaction() as session:
            self._book.revert_project(session, project_id)

    def update_class(self, caller: Caller, name: str,
                     changes: Mapping[str, int]) -> dict[str, int]:
        """Set quota class ``name``'s limits (admin only; ``default`` is every project's
        default); the class's limits after the change."""
        policy.require_admin(caller, "os-quota-class-sets")
        with self._db.transaction() as session:
            names = self.resources(session)
            _known(changes, names)
            self._book.set_class(session, name, changes)
            return self._book.class_limits(session, name, names)

    # -- enforcing -------------------------------------------------------------------------

    def check_new_server(self, session: Session, project_id: str, *, size: tuple[int, int],
                         metadata_items: int, ports: Sequence[tuple[VnicType, str | None]]
                         ) -> None:
        """Run in the transaction that inserted a server of ``project_id`` and its ports:
        Forbidden (nova's 403 "Quota exceeded for ...") when the project now holds more
        than a limit allows; the caller's rollback then leaves nothing behind.  What the
        caller just inserted is given, not read again: the flavor's (vcpus, RAM MB), the
        number of metadata items and each port's (vnic_type, physnet)."""
        requested = {"instances": 1, "cores": size[0], "ram": size[1]}
        for vnic_type, physnet in ports:
            if vnic_type is not VnicType.DIRECT or physnet is None:
                continue
            key = vf_resource(physnet)
            requested[key] = requested.get(key, 0) + 1
        # Every limit this check needs, read at once (the metadata one is checked first).
        limits = self._book.project_limits(session, project_id,
                                           ("metadata_items", *requested))
        items, allowed = metadata_items, limits.pop("metadata_items")
        if allowed != -1 and items > allowed:
            raise Forbidden(f"Maximum number of metadata items exceeds {allowed}",
                            kind=ErrorKind.OVER_QUOTA, field="metadata", value=items,
                            fix=f"give at most {allowed} metadata items")
        if all(limits[r] == UNLIMITED for r in requested):
            return  # nothing asked for is limited: no need to count what the project holds
        with_new = self.usage(session, project_id)
        held = {r: with_new.get(r, 0) - n for r, n in requested.items()}
        over = overages(limits, held, requested)
        if over:
            names = ", ".join(o.resource for o in over)
            raise Forbidden(
                f"Quota exceeded for {names}: Requested "
                f"{', '.join(str(o.requested) for o in over)}, but already used "
                f"{', '.join(str(o.used) for o in over)} of "
                f"{', '.join(str(o.allowed) for o in over)} {names}",
                kind=ErrorKind.OVER_QUOTA, field=over[0].resource,
                fix="delete servers, or ask an admin to raise the quota "
                    "(openstack quota set / sriovstack quota set-vfs)")


def _check_reader(caller: Caller, project_id: str) -> None:
    # nova's default policy: a project's quotas are shown to its members and to admins.
    if not policy.in_scope(caller, project_id):
        raise policy.denied(f"quotas of project {project_id} are shown to its members and "
                            "to admins only", value=project_id)


def _known(changes: Mapping[str, int], names: Iterable[str]) -> None:
    known = set(names)
    for resource in changes:
        if resource not in known:
            raise Invalid(f"Bad quota resource {resource!r}: not one of "
                          f"{', '.join(sorted(known))}", field=resource,
                          fix="VF quotas are named sriov_vfs:<physnet> of a known physnet")

