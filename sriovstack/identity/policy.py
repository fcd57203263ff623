"""Who may do what: every authorization rule of the APIs and services, in one place.

Rules take the ``Caller`` (never a web request), so API handlers and services ask the same
questions.  Predicates answer; the others raise ``Forbidden`` (403, ``PolicyNotAuthorized``)
naming what was refused.

    rule                  passes for
    caller_of(token)      (builds the Caller: admin implies member implies reader, as keystone)
    is_privileged         admin or service (nova, the agents): every project, admin-only fields
    in_scope              privileged, or a resource of the caller's own project
    require_admin         the admin role
    require_privileged    admin or service
    require_service       the service role only (the agents' internal API; admins refused)
    require_writer        admin, member or service (a reader-only caller may only look)
    require_project_scope a token scoped to a project (what creates a resource needs one)
    owner_of              a new resource: the caller's project, or (privileged) the one asked
    require_self_or_admin nova's "rule:admin_api or user_id:%(user_id)s" (key pairs)
    sees_host_attributes  admin: a server's host, hypervisor_hostname, instance_name, 2.3's
                          attributes and 2.16's host_status (nova's default policy)
"""

from __future__ import annotations

from typing import Any

from sriovstack.errors import ErrorKind, Forbidden
from sriovstack.identity.values import Caller, RoleName, Token

__all__ = ["caller_of", "is_privileged", "in_scope", "denied", "require_admin",
           "require_privileged", "require_service", "require_writer", "require_project_scope",
           "owner_of", "require_self_or_admin", "sees_host_attributes"]

_WRITERS = frozenset({RoleName.ADMIN, RoleName.MEMBER, RoleName.SERVICE})


def caller_of(token: Token) -> Caller:
    """The Caller a valid token stands for: its user, project and what its roles allow."""
    roles = token.role_names
    return Caller(token.user.id, token.project.id if token.project else None,
                  is_admin=RoleName.ADMIN in roles, is_service=RoleName.SERVICE in roles,
                  is_reader_only=not (roles & _WRITERS))


def is_privileged(caller: Caller) -> bool:
    """Admin or service: sees every project's resources and the admin-only fields."""
    return caller.is_admin or caller.is_service


def in_scope(caller: Caller, project_id: str) -> bool:
    """True when the caller may see and change a resource of ``project_id``."""
    return is_privileged(caller) or project_id == caller.project_id


def denied(message: str, **fields: Any) -> Forbidden:
    """The error every refused rule raises (neutron's and nova's PolicyNotAuthorized)."""
    return Forbidden(message, kind=ErrorKind.POLICY_NOT_AUTHORIZED, **fields)


def require_admin(caller: Caller, what: str) -> None:
    """Forbidden ("<what> is admin only") unless the caller has the admin role."""
    if not caller.is_admin:
        raise denied(f"{what} is admin only")


def require_privileged(caller: Caller, message: str, **fields: Any) -> None:
    """Forbidden with ``message`` (and ``fields``) unless the caller is admin or service."""
    if not is_privileged(caller):
        raise denied(message, **fields)


def require_service(caller: Caller, what: str) -> None:
    """Forbidden unless the caller has the service role (admins too are refused)."""
    if not caller.is_service:
        raise denied(f"{what} is for service users (role 'service') only")


def require_writer(caller: Caller, what: str) -> None:
    """Forbidden for a reader-only caller."""
    if caller.is_reader_only:
        raise denied(f"{what} needs the member role; the reader role may only read")


def require_project_scope(caller: Caller, what: str) -> str:
    """The caller's project; Forbidden ("<what> needs a project-scoped token") without one."""
    if caller.project_id is None:
        raise denied(f"{what} needs a project-scoped token",
                     fix="ask for a token scoped to a project")
    return caller.project_id


def owner_of(caller: Caller, requested: str | None = None) -> str:
    """The project a new resource belongs to: the caller's own, or (privileged callers only)
    the one ``requested``.  Forbidden for a token with no project scope."""
    if requested is None or requested == caller.project_id:
        return require_project_scope(caller, "creating a resource")
    if not is_privileged(caller):
        raise denied("creating a resource for another project is admin only",
                     field="project_id", value=requested, fix="leave project_id/tenant_id out")
    return requested


def require_self_or_admin(caller: Caller, user_id: str, rule: str) -> None:
    """Forbidden (nova's "Policy doesn't allow <rule> to be performed.") unless the caller
    is ``user_id`` or an admin: nova's default for the per-user key pairs."""
    if not caller.is_admin and user_id != caller.user_id:
        raise denied(f"Policy doesn't allow {rule} to be performed.", field="user_id",
                     value=user_id)


def sees_host_attributes(caller: Caller) -> bool:
    """True for admins: nova's default policy shows where a server runs (OS-EXT-SRV-ATTR:*,
    host_status) to admins only; members see the opaque hostId."""
    return caller.is_admin
