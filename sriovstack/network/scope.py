"""What every part of the network service shares: the database, settings, clock and scoping."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sriovstack.clock import Clock, SystemClock
from sriovstack.db import Database
from sriovstack.errors import Forbidden
from sriovstack.network.config import Ml2Settings
from sriovstack.network.types import Caller

__all__ = ["Env", "new_id", "sees_all", "owner_of", "storable", "Clock", "SystemClock"]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Env:
    db: Database
    settings: Ml2Settings
    clock: Clock = field(default_factory=SystemClock)


def sees_all(caller: Caller) -> bool:
    """Admins and service users (nova, agents) see every project's resources."""
    return caller.is_admin or caller.is_service


def owner_of(caller: Caller, requested: str | None) -> str:
    """The project a new resource belongs to: the caller's, or (admin only) the one asked."""
    if requested is None or requested == caller.project_id:
        if caller.project_id is None:
            raise Forbidden("creating a resource needs a project-scoped token",
                            kind="PolicyNotAuthorized", fix="ask for a token scoped to a project")
        return caller.project_id
    if not sees_all(caller):
        raise Forbidden("creating a resource for another project is admin only",
                        kind="PolicyNotAuthorized", field="project_id", value=requested,
                        fix="leave project_id/tenant_id out")
    return requested


def storable(text: str) -> bool:
    """False for text no database column can hold or match (PostgreSQL refuses NUL bytes):
    a lookup by such an id is simply "not found", never a database error."""
    return "\x00" not in text
