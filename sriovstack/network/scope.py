"""What every part of the network service shares: the database, settings, clock and scoping."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sriovstack.clock import Clock, SystemClock
from sriovstack.db import Database
from sriovstack.errors import Conflict, Forbidden
from sriovstack.network.config import Ml2Settings
from sriovstack.network.types import Caller

T = TypeVar("T")

__all__ = ["Env", "new_id", "sees_all", "owner_of", "storable", "retry_races"]


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


_RACE_ATTEMPTS = 20  # every round of a race has one winner: enough for many workers


def retry_races(work: Callable[[], T]) -> T:
    """Run ``work`` (one whole transaction) again when it lost a race at a unique key.

    The database seam turns such an IntegrityError into a bare Conflict (kind "Conflict");
    on the next attempt the winner's row is visible, so the work either picks another
    MAC/address or raises the specific error (MacAddressInUse, FlatNetworkInUse...).
    """
    for attempt in range(_RACE_ATTEMPTS):
        try:
            return work()
        except Conflict as err:
            if err.kind != "Conflict" or attempt == _RACE_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # spread the losers out
    raise AssertionError("unreachable")
