"""What a piece of work sends the database: each statement, and whether it ran inside a
transaction (the driver's own state after it: psycopg's transaction status, sqlite3's
``in_transaction``), to tell work done in autocommit from work done between BEGIN and
COMMIT."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Ran:
    statement: str
    in_transaction: bool


def _in_transaction(dbapi_connection: Any) -> bool:
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return info.transaction_status.name != "IDLE"
    return bool(dbapi_connection.in_transaction)  # sqlite3


@contextmanager
def recorded(engine: Engine) -> Iterator[list[Ran]]:
    """The statements ``engine`` runs inside the block, in order."""
    ran: list[Ran] = []

    def after(_conn: Any, cursor: Any, statement: str, *_rest: Any) -> None:
        ran.append(Ran(statement, _in_transaction(cursor.connection)))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield ran
    finally:
        event.remove(engine, "after_cursor_execute", after)
