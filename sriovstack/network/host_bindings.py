"""Multiple bindings of one port (neutron's ``binding-extended``): a compute port has one
ACTIVE binding (the port's own ``binding:*`` attributes; none while unbound) and at most one
INACTIVE binding per other host (``net_port_bindings``), made ready before a live migration
and activated at its switch-over.  Only ports owned by ``compute:*`` may have them (neutron's
rule)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sriovstack.db import storable
from sriovstack.db.models import PortHostBindingRow, PortRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound
from sriovstack.identity import Caller, policy
from sriovstack.network.env import Env
from sriovstack.network.port_bindings import COMPUTE_OWNER, PortBindings, clear_binding
from sriovstack.network.ports import load_port_row, profile_json, profile_of
from sriovstack.network.types import (BindingProfile, BindingStatus, HostBinding, VifType,
                                      VnicType)

__all__ = ["HostBindings"]

B = PortHostBindingRow


class HostBindings:
    """List, show, create, activate and delete a port's bindings (admin or service only);
    compute's ``settle_on``."""

    def __init__(self, env: Env, bindings: PortBindings) -> None:
        self._env = env
        self._bindings = bindings

    def list(self, caller: Caller, port_id: str) -> tuple[HostBinding, ...]:
        """The port's bindings, the ACTIVE one first. NotFound (PortNotFound), Invalid for a
        port compute does not own."""
        with self._env.db.transaction() as s:
            row = _compute_port(s, caller, "get_port_binding", port_id)
            return _all(s, row)

    def get(self, caller: Caller, port_id: str, host: str) -> HostBinding:
        """The port's binding for ``host``; NotFound (PortBindingNotFound) when it has none."""
        with self._env.db.transaction() as s:
            row = _compute_port(s, caller, "get_port_binding", port_id)
            for found in _all(s, row):
                if found.host == host:
                    return found
            raise _binding_not_found(port_id, host)

    def create(self, caller: Caller, port_id: str, host: str, vnic: VnicType,
               profile: BindingProfile) -> HostBinding:
        """Bind the port on ``host`` through the mechanism drivers: INACTIVE while another
        binding is active, else ACTIVE (the port's own binding). Conflict
        PortBindingAlreadyExists when ``host`` has one; Conflict PortBindingError (nothing
        stored) when no driver binds it there."""
        with self._env.db.transaction() as s:
            row = _compute_port(s, caller, "create_port_binding", port_id, lock=True)
            if row.binding_host == host or s.get(B, (row.id, host)) is not None:
                raise Conflict(f"Binding for port {port_id} on host {host} already exists.",
                               kind=ErrorKind.PORT_BINDING_ALREADY_EXISTS, field="host",
                               value=host, fix="delete it first or pick another host")
            result = self._bindings.attempt(s, row, host, vnic, profile)
            if result.vif_type is VifType.BINDING_FAILED:
                raise _binding_error(port_id, host, result.failure)
            now = self._env.clock.now()
            if not row.binding_host:
                row.binding_host, row.vnic_type = host, str(vnic)
                row.binding_profile = profile_json(profile)
                self._bindings.rebind(s, row)
                _touch(row, now)
                return _active(row)
            extra = B(port_id=row.id, host=host, vnic_type=str(vnic),
                      profile=profile_json(profile), vif_type=str(result.vif_type),
                      vif_details=dict(result.vif_details), created_at=now)
            s.add(extra)
            s.flush()
            return _inactive(extra)

    def activate(self, caller: Caller, port_id: str, host: str) -> HostBinding:
        """Make the INACTIVE binding for ``host`` the port's ACTIVE one (bound again by the
        drivers); the binding active until now becomes INACTIVE. Conflict
        PortBindingAlreadyActive, NotFound PortBindingNotFound, Conflict PortBindingError
        (nothing changed) when the drivers no longer bind it."""
        with self._env.db.transaction() as s:
            row = _compute_port(s, caller, "activate", port_id, lock=True)
            if row.binding_host == host:
                raise Conflict(f"Binding for port {port_id} on host {host} is already active.",
                               kind=ErrorKind.PORT_BINDING_ALREADY_ACTIVE, field="host",
                               value=host)
            chosen = s.get(B, (row.id, host))
            if chosen is None:
                raise _binding_not_found(port_id, host)
            return self._swap(s, row, chosen)

    def delete(self, caller: Caller, port_id: str, host: str) -> None:
        """Delete the port's binding for ``host``, whatever its status, as neutron's
        ``delete_port_binding`` deletes the row. The ACTIVE one gone, the port has no active
        binding: unbound (``binding:host_id`` empty, vif_type unbound, DOWN) yet still its
        device's, its INACTIVE bindings kept, and the next binding created is ACTIVE.
        NotFound (PortBindingNotFound) for a host without one."""
        with self._env.db.transaction() as s:
            row = _compute_port(s, caller, "delete_port_binding", port_id, lock=True)
            if row.binding_host == host:
                clear_binding(row)
                _touch(row, self._env.clock.now())
                return
            extra = s.get(B, (row.id, host))
            if extra is None:
                raise _binding_not_found(port_id, host)
            s.delete(extra)

    def settle_on(self, caller: Caller, port_id: str, host: str) -> HostBinding | None:
        """Compute's recovery step (idempotent): the binding for ``host`` becomes (or stays)
        the ACTIVE one and the port's INACTIVE bindings are deleted. A port bound elsewhere
        with no binding for ``host`` keeps its active binding (None is returned)."""
        with self._env.db.transaction() as s:
            row = s.get(PortRow, port_id, with_for_update=True) if storable(port_id) else None
            if row is None:
                return None
            active: HostBinding | None = _active(row) if row.binding_host == host else None
            chosen = s.get(B, (row.id, host))
            if active is None and chosen is not None:
                active = self._swap(s, row, chosen, strict=False)
            s.execute(delete(B).where(B.port_id == row.id))
            return active

    def _swap(self, s: Session, row: PortRow, chosen: PortHostBindingRow,
              strict: bool = True) -> HostBinding:
        now = self._env.clock.now()
        old = B(port_id=row.id, host=row.binding_host, vnic_type=row.vnic_type,
                profile=dict(row.binding_profile), vif_type=row.vif_type,
                vif_details=dict(row.vif_details), created_at=now) if row.binding_host else None
        row.binding_host, row.vnic_type = chosen.host, chosen.vnic_type
        row.binding_profile = dict(chosen.profile)
        s.delete(chosen)
        s.flush()
        self._bindings.rebind(s, row)
        if strict and row.vif_type == VifType.BINDING_FAILED.value:
            raise _binding_error(row.id, chosen.host, row.binding_failure)
        if old is not None:
            s.add(old)
        _touch(row, now)
        return _active(row)


def _compute_port(s: Session, caller: Caller, rule: str, port_id: str,
                  lock: bool = False) -> PortRow:
    """The port, for a privileged caller (neutron's policy: ``rule`` is admin only; nova calls
    these with its service user) and only if compute owns it."""
    policy.require_privileged(caller, f"rule:{rule} is disallowed by policy")
    row = load_port_row(s, caller, port_id)
    if lock:
        s.refresh(row, with_for_update=True)
    if not row.device_owner.startswith(COMPUTE_OWNER):
        raise Invalid(f"Port {port_id} has device_owner {row.device_owner!r}: port bindings "
                      "are only for ports a compute service owns.", field="device_owner",
                      value=row.device_owner, fix="attach the port to a server first "
                      "(device_owner compute:<zone>)")
    return row


def _all(s: Session, row: PortRow) -> tuple[HostBinding, ...]:
    rest = s.scalars(select(B).where(B.port_id == row.id).order_by(B.host))
    first = (_active(row),) if row.binding_host else ()
    return first + tuple(_inactive(r) for r in rest)


def _active(row: PortRow) -> HostBinding:
    return HostBinding(port_id=row.id, host=row.binding_host, status=BindingStatus.ACTIVE,
                       vnic_type=VnicType(row.vnic_type), vif_type=VifType(row.vif_type),
                       vif_details=tuple(row.vif_details.items()),
                       profile=profile_of(row.binding_profile))


def _inactive(r: PortHostBindingRow) -> HostBinding:
    return HostBinding(port_id=r.port_id, host=r.host, status=BindingStatus.INACTIVE,
                       vnic_type=VnicType(r.vnic_type), vif_type=VifType(r.vif_type),
                       vif_details=tuple(r.vif_details.items()), profile=profile_of(r.profile))


def _touch(row: PortRow, now: datetime) -> None:
    row.updated_at = now
    row.revision_number += 1


def _binding_not_found(port_id: str, host: str) -> NotFound:
    return NotFound(f"Binding for port {port_id} for host {host} could not be found.",
                    kind=ErrorKind.PORT_BINDING_NOT_FOUND, field="host", value=host)


def _binding_error(port_id: str, host: str, why: str | None) -> Conflict:
    return Conflict(f"Binding for port {port_id} on host {host} could not be created or "
                    f"updated. {why or ''}".rstrip(), kind=ErrorKind.PORT_BINDING_ERROR,
                    field="host", value=host, fix="check the host's agents and the "
                    "network's physnet")
