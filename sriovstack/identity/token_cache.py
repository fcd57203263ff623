"""Each API worker's cache of validated tokens (with their roles), bounded and kept honest by
the identity revision: one counter row that every change to what a token says bumps.

A cached token is served without the database while it has not expired and the revision the
cache last read is current; the cache re-reads that one row at most once per ``recheck``
seconds (a second by default), so a token revoked through any worker is refused by every worker
within that time, and at once by the worker that revoked it (its cache empties on commit).
Every entry was read at the revision the cache holds: one read at an older revision is not
kept, and a newer revision empties the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from sriovstack.db.models import IdentityRevisionRow
from sriovstack.identity.values import Token

__all__ = ["TokenCache", "identity_revision"]

_ROW = 1
DEFAULT_ENTRIES = 10_000  # ~2 KB each: a worker holds ~20 MB at most
DEFAULT_RECHECK = 1.0  # seconds: how late another worker's revocation may be seen


# ``identity_revision``'s read, built once (a token check reads it every ``recheck``).
_REVISION = select(IdentityRevisionRow.value).where(IdentityRevisionRow.id == _ROW)


def identity_revision(session: Session) -> int:
    """The identity revision as ``session`` sees it (0 for a schema without the row)."""
    return int(session.scalar(_REVISION) or 0)


class TokenCache:
    """Validated tokens by the SHA-256 of their secret, least recently used out first."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES, recheck: float = DEFAULT_RECHECK,
                 ticker: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("a token cache holds at least one entry")
        self._max = max_entries
        self._recheck = recheck
        self._ticker = ticker
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Token] = OrderedDict()
        self._revision = -1
        self._checked = float("-inf")
        self._owed = False  # a ``peek`` claimed the due re-read; the next ``get`` makes it

    def get(self, digest: str, now: datetime, revision: Callable[[], int]) -> Token | None:
        """The cached token for ``digest`` if it is still valid at ``now``; None otherwise.

        ``revision`` reads the identity revision (its own transaction); it is called when
        the last read is ``recheck`` seconds old, outside the cache's lock.
        """
        with self._lock:
            tick = self._ticker()
            due = self._owed or tick - self._checked >= self._recheck
            if due:  # this caller checks; the others trust the cache meanwhile
                self._checked, self._owed = tick, False
        if due:
            self._advance(revision())
        with self._lock:
            token = self._entries.get(digest)
            if token is None:
                return None
            if token.expires_at <= now:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return token

    def peek(self, digest: str, now: datetime) -> Token | None:
        """``get`` without any database read: the cached token, or None when it is not
        cached, has expired, or the revision is due for its re-read (then ``get`` it).

        The first caller to find the re-read due claims it, and its ``get`` makes it; the
        callers after it trust the cache meanwhile, as ``get``'s do. Were they all sent to
        ``get`` until one got there, a busy worker would send every request to its
        threadpool while the first waited for a thread: half of them, under load. A claim
        whose ``get`` never comes (its request gone) is made again a ``recheck`` later, or by
        the next ``get`` at all."""
        with self._lock:
            tick = self._ticker()
            if tick - self._checked >= self._recheck:
                self._checked, self._owed = tick, True
                return None
            token = self._entries.get(digest)
            if token is None or token.expires_at <= now:
                return None
            self._entries.move_to_end(digest)
            return token

    def put(self, digest: str, token: Token, revision: int) -> None:
        """Keep ``token``, read in a transaction that saw ``revision`` first."""
        self._advance(revision)
        with self._lock:
            if revision != self._revision:
                return  # read before a change this cache already knows of
            self._entries[digest] = token
            self._entries.move_to_end(digest)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def note_change(self, session: Session) -> None:
        """Bump the identity revision in ``session``'s transaction (call it in every
        transaction that changes what a token says); this worker's cache empties on commit."""
        r = IdentityRevisionRow
        value = session.scalar(update(r).where(r.id == _ROW).values(value=r.value + 1)
                               .returning(r.value).execution_options(synchronize_session=False))
        if value is None:  # a schema not made by the migrations: start the counter
            session.execute(insert(r).values(id=_ROW, value=1))
        event.listen(session, "after_commit", self._forget_all, once=True)

    def _advance(self, revision: int) -> None:
        with self._lock:
            if revision > self._revision:
                self._entries.clear()
                self._revision = revision

    def _forget_all(self, _session: Session) -> None:
        with self._lock:
            self._entries.clear()
            self._checked = float("-inf")  # the next lookup reads the new revision
