"""What every resource of the network service is built over: the database, the ML2 settings
and the clock (``Env``), and the form of the ids it hands out (``new_id``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sriovstack.clock import Clock, SystemClock
from sriovstack.db import Database
from sriovstack.network.config import Ml2Settings

__all__ = ["Env", "new_id"]


def new_id() -> str:
    """A new resource id: a uuid4 in its canonical text form, as neutron's."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Env:
    db: Database
    settings: Ml2Settings
    clock: Clock = field(default_factory=SystemClock)
