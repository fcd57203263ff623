"""The database seam: the declarative Base, engines for SQLite and PostgreSQL, transactions."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (ColumnElement, DateTime, MetaData, Table, create_engine, event, func,
                        literal, select)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from sriovstack.errors import ConfigError, ErrorKind, Invalid, Unavailable, WriteConflict

if TYPE_CHECKING:
    from sriovstack.conf import DeploymentConfig

__all__ = ["Base", "Database", "PoolSettings", "UtcDateTime", "NAMING_CONVENTION", "storable",
           "retry_races", "rows_of"]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_SUPPORTED = ("sqlite", "postgresql")
STATEMENT_TIMEOUT_MS = 30_000  # PostgreSQL statement_timeout of every connection
# Each statement is planned once per connection, not at every run. psycopg prepares it at its
# first run (prepare_threshold 0; it keeps the 100 most recent per connection and drops them
# all at a rollback), and PostgreSQL keeps its generic plan (plan_cache_mode): our statements
# find rows by key (a server, a host, an owner), so a plan made for the values at hand is no
# better, and making one cost PostgreSQL 0.1-2 ms per statement (2 ms for a claim) on every
# boot. bench/bench_api_boots.py: PostgreSQL CPU per boot 7.3 -> 5.5 ms after a warm-up.
PREPARE_THRESHOLD = 0
_SESSION_OPTIONS = (f"-c statement_timeout={STATEMENT_TIMEOUT_MS} "
                    "-c plan_cache_mode=force_generic_plan")
POOL_RECYCLE_SECONDS = 3600  # a pooled PostgreSQL connection older than this is opened anew


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """A PostgreSQL engine's connection pool (oslo.db's ``[database]`` options).

    ``size`` connections stay open between transactions; a burst opens up to ``overflow``
    more, each closed when it is returned.  An overflow connection costs a PostgreSQL fork, a
    psycopg connect and a cold backend that has lost its cached catalog and prepared
    statements, for one transaction: a worker has more threads than ``size`` (40 request
    threads, its builds and its sweep), so under load every transaction past the pool's would
    pay it (issue 14: 3-7 ms of PostgreSQL CPU per boot in the boot benchmark).  There is no
    overflow by default: such a transaction waits for a pooled connection instead, up to
    ``timeout`` seconds, then fails as Unavailable (503).
    """

    size: int = 20
    overflow: int = 0
    timeout: float = 30.0

    @classmethod
    def of(cls, deployment: DeploymentConfig | None) -> PoolSettings:
        """The pool the deployment's ``[database]`` options ask for (defaults without one)."""
        if deployment is None:
            return cls()
        d = deployment.database
        return cls(d.max_pool_size.value, d.max_overflow.value, d.pool_timeout.value)


class Base(DeclarativeBase):
    """Every table of sriovstack subclasses this (one metadata for migrations and checks)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite otherwise returns naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given for a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _build_engine(url: str, pool: PoolSettings) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} is not a URL", option="database",
                          fix="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB") from exc
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED:
        raise ConfigError(f"database URL {url!r}: backend {backend!r} is not supported",
                          option="database",
                          fix="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    if backend == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Every statement is bounded: a runaway query (or a lock wait) ends as Unavailable (503)
    # instead of holding a worker and a connection without end.  Connections are not pinged
    # at each checkout (a round trip more per transaction, ~13 per boot): a connection found
    # dead in use fails its transaction with Unavailable and SQLAlchemy then drops every
    # pooled connection older than it, so after a restart or fail-over only the transactions
    # in flight fail and the next ones connect afresh.  Statements are prepared and planned
    # once per connection (see _SESSION_OPTIONS).
    return create_engine(parsed, pool_size=pool.size, max_overflow=pool.overflow,
                         pool_timeout=pool.timeout, pool_recycle=POOL_RECYCLE_SECONDS,
                         connect_args={"options": _SESSION_OPTIONS,
                                       "prepare_threshold": PREPARE_THRESHOLD})


def _first_line(error: BaseException | None) -> str:
    # Driver messages may carry the SQL and its parameters on later lines: keep those out.
    return str(error).strip().splitlines()[0] if error is not None and str(error) else "invalid"


class Database:
    """One database: ``transaction()`` for work, ``create_schema()`` to bring it to head."""

    def __init__(self, url: str, pool: PoolSettings = PoolSettings()) -> None:
        self.url = url
        self.engine: Engine = _build_engine(url, pool)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL only: SQLite has no round trip to save, and its in-memory databases share
        # one connection, whose open transaction a switch to autocommit would commit.
        self._autocommits = self._sessions
        if self.dialect == "postgresql":
            self._autocommits = sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, session: Session | None = None) -> Iterator[Session]:
        """A session that commits on exit and rolls back on any exception; with ``session``
        (a caller's transaction in progress) that session as it is, for the caller's
        transaction to commit or roll back.

        Raises WriteConflict for an integrity violation the service did not translate itself
        (a duplicate name, a dangling reference; ``retry_races`` runs the work again),
        Invalid for a value the database cannot store (PostgreSQL: a NUL byte in text, an
        integer out of range) and Unavailable when the database is down.
        """
        if session is not None:
            yield session
            return
        with self._translated(self._sessions()) as session:
            yield session

    @contextmanager
    def autocommit(self) -> Iterator[Session]:
        """A session whose every statement commits on its own (PostgreSQL; elsewhere a
        ``transaction``): no BEGIN and no COMMIT, two round trips fewer, for work that is one
        statement (a report's UPDATE) or reads that want no snapshot across statements
        (PostgreSQL's READ COMMITTED gives each statement its own in a transaction too).
        Errors as ``transaction``; nothing is rolled back, as every statement has ended."""
        with self._translated(self._autocommits()) as session:
            yield session

    @contextmanager
    def _translated(self, session: Session) -> Iterator[Session]:
        """``session`` committed on exit, rolled back on any exception, closed; the
        database's errors raised as the service's (see ``transaction``)."""
        try:
            yield session
            session.commit()
        except IntegrityError as exc:
            session.rollback()
            raise WriteConflict(f"the change clashes with existing data: {exc.orig}") from exc
        except DataError as exc:
            session.rollback()
            raise Invalid(f"a value in the request cannot be stored: {_first_line(exc.orig)}",
                          kind=ErrorKind.INVALID_INPUT,
                          fix="remove NUL (0x00) characters from text and keep numbers "
                              "within range") from exc
        except OperationalError as exc:
            session.rollback()
            raise Unavailable(f"the database is unavailable: {exc.orig}") from exc
        except PoolTimeout as exc:
            session.rollback()
            raise Unavailable("every database connection of this worker stayed busy for "
                              "[database] pool_timeout seconds",
                              fix="raise [database] max_pool_size or max_overflow, or add "
                                  "API workers") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def on_statement(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` before every SQL statement this database's engine runs (the
        API counts them as a metric: statements per request is the cost a deployment pays)."""
        def _counted(*_args: Any) -> None:
            callback()

        event.listen(self.engine, "before_cursor_execute", _counted)

    def create_schema(self) -> None:
        """Bring the schema to head with Alembic (idempotent; safe on an existing database)."""
        from sriovstack.db import migrations

        migrations.upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"


def storable(text: str) -> bool:
    """False for text no database column can hold or match (PostgreSQL refuses NUL bytes):
    a lookup by such an id is simply "not found", never a database error."""
    return "\x00" not in text


def upsert_into(table: Table, dialect: str) -> Any:
    """``INSERT INTO table`` in ``dialect``'s own construct, the one that can say
    ``on_conflict_do_update`` (PostgreSQL and SQLite spell upserts alike)."""
    return _UPSERTS[dialect](table)


_UPSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def one_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)`` for values fixed when the statement is built, each its own
    plain bind: ``in_`` of a tuple makes one expanding bind, which re-renders the SQL at every
    execution (worth avoiding in a statement every boot runs)."""
    return column.in_([literal(v, column.type) for v in values])


def rows_of(statement: Any) -> ColumnElement[Any]:
    """How many rows ``statement`` (a CTE: a data-modifying one's RETURNING) gives, as a
    scalar subquery; naming it also makes PostgreSQL run the CTE to its end first."""
    return select(func.count()).select_from(statement).scalar_subquery()


_RACE_ATTEMPTS = 20  # every round of a race has one winner: enough for many workers


def retry_races(work: Callable[[], T]) -> T:
    """Run ``work`` (one whole transaction) again when it lost a race at a unique key.

    ``Database.transaction`` turns such an IntegrityError into WriteConflict; on the next
    attempt the winner's row is visible, so the work either picks another MAC/address or
    raises the specific error (MacAddressInUse, FlatNetworkInUse...).  Other errors pass.
    """
    for attempt in range(_RACE_ATTEMPTS):
        try:
            return work()
        except WriteConflict:
            if attempt == _RACE_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # spread the losers out
    raise AssertionError("unreachable")
