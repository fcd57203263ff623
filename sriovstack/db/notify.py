"""Change notifications between processes over the one database: PostgreSQL's LISTEN/NOTIFY.

``notify(session, channel, payload)`` queues a notification in the session's transaction:
PostgreSQL delivers it to every listening connection when the transaction commits, and never
for one rolled back. On SQLite it does nothing (the processes there wake each other only by
re-reading). ``Listener`` holds one dedicated connection per process that LISTENs on a channel
and hands each payload to a callback on its own thread; after a failure it reconnects (with a
growing pause) and calls ``on_live`` again, since notifications sent while it was away are
lost; ``live`` says whether it is listening now, so callers re-read more often while it is not.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

__all__ = ["notify", "Listener", "check_payload"]

_LOG = logging.getLogger(__name__)
_CHECK_EVERY = 10.0  # seconds between checks that an idle listening connection still works
_MAX_PAUSE = 10.0  # longest pause between reconnection attempts
_PAYLOAD_MAX = 7999  # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more


def notify(session: Session, channel: str, payload: str) -> None:
    """Queue ``payload`` on ``channel`` in the session's transaction (PostgreSQL only)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    check_payload(payload)
    session.execute(select(func.pg_notify(channel, payload)))


def check_payload(payload: str) -> None:
    """Refuse a payload PostgreSQL would not deliver (ValueError)."""
    if len(payload.encode()) > _PAYLOAD_MAX:
        raise ValueError(f"a NOTIFY payload is at most {_PAYLOAD_MAX} bytes")


def _conninfo(url: str) -> str:
    """The libpq URI of a SQLAlchemy URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """One process's LISTEN on ``channel`` of the PostgreSQL database at ``url``."""

    def __init__(self, url: str, channel: str, on_payload: Callable[[str], None],
                 on_live: Callable[[], None]) -> None:
        self._conninfo = _conninfo(url)
        self._channel = channel
        self._on_payload = on_payload
        self._on_live = on_live
        self._live = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def live(self) -> bool:
        """True while the connection is up and listening."""
        return self._live.is_set()

    def start(self) -> None:
        """Start listening on a daemon thread (once; later calls do nothing)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"listen-{self._channel}")
                self._thread.start()

    def wait_live(self, timeout: float) -> bool:
        """Block until listening (or ``timeout`` seconds); True when live."""
        return self._live.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=_CHECK_EVERY + 5)

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                self._listen()
                pause = 0.5
            except psycopg.Error as exc:
                # the first failure of a streak is a warning, the retries that follow debug
                level = logging.WARNING if pause == 0.5 else logging.DEBUG
                _LOG.log(level, "LISTEN %s: %s; reconnecting (waiters re-read meanwhile)",
                         self._channel, str(exc).strip().splitlines()[0] if str(exc) else exc)
            finally:
                self._live.clear()
            self._stop.wait(pause)
            pause = min(pause * 2, _MAX_PAUSE)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._live.set()
            self._on_live()  # anything sent before this moment was missed: wake everyone
            checked = time.monotonic()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self._on_payload(note.payload)
                if time.monotonic() - checked > _CHECK_EVERY:
                    conn.execute("SELECT 1")  # a dead connection raises here, not silently
                    checked = time.monotonic()
