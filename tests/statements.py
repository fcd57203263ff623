"""What a piece of work sends the database: each statement, whether it ran inside a
transaction (the driver's own state after it: psycopg's transaction status, sqlite3's
``in_transaction``), to tell work done in autocommit from work done between BEGIN and
COMMIT, and whether SQLAlchemy could cache its compiled form (a statement without a cache
key is compiled again at every run)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.default import NO_CACHE_KEY


@dataclass(frozen=True)
class Ran:
    statement: str
    in_transaction: bool
    compiled_each_run: bool = False


def _in_transaction(dbapi_connection: Any) -> bool:
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return info.transaction_status.name != "IDLE"
    return bool(dbapi_connection.in_transaction)  # sqlite3


def inside_transactions(ran: list[Ran]) -> list[str]:
    """The statements of ``ran`` that ran inside a transaction (their first 90 characters)."""
    return [r.statement[:90] for r in ran if r.in_transaction]


@contextmanager
def recorded(engine: Engine) -> Iterator[list[Ran]]:
    """The statements ``engine`` runs inside the block, in order."""
    ran: list[Ran] = []

    def after(_conn: Any, cursor: Any, statement: str, _params: Any, context: Any,
              _many: bool) -> None:
        ran.append(Ran(statement, _in_transaction(cursor.connection),
                       getattr(context, "cache_hit", None) == NO_CACHE_KEY))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield ran
    finally:
        event.remove(engine, "after_cursor_execute", after)
