"""The per-worker token cache over a real database: a cached token costs no query, expiry is
honoured, a revocation (or a role taken away) through another identity service on the same
database is seen once the cache rechecks the identity revision (a second), at once in the
worker that made it, and the cache stays within its bound."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.errors import Unauthorized
from sriovstack.identity import (Caller, IdentityService, NameRef, PasswordAuth, RoleName,
                                 TokenCache)

TTL = timedelta(hours=1)


class Ticker:
    """A monotonic clock for the cache's recheck interval that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """Every SQL statement ``db`` runs inside the block."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _worker(db: Database, clock: FakeClock, ticker: Ticker,
            max_entries: int = 100) -> IdentityService:
    """One API worker's identity service: its own cache over the shared database."""
    return IdentityService(db, clock, TTL, TokenCache(max_entries, recheck=1.0, ticker=ticker))


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def worker_a(database: Database, clock: FakeClock, ticker: Ticker) -> IdentityService:
    service = _worker(database, clock, ticker)
    service.bootstrap("admin-pw", demo_password="demo-pw")
    return service


@pytest.fixture
def worker_b(database: Database, clock: FakeClock, ticker: Ticker) -> IdentityService:
    return _worker(database, clock, ticker)


def _demo_token(service: IdentityService) -> str:
    auth = PasswordAuth(NameRef(name="demo", domain_name="Default"), "demo-pw")
    return service.tokens.issue_password(auth, NameRef(name="demo", domain_name="Default")).secret


ADMIN = Caller("admin", "admin", is_admin=True)


def test_a_cached_token_costs_no_query(worker_a: IdentityService, database: Database) -> None:
    secret = _demo_token(worker_a)
    first = worker_a.tokens.validate(secret)
    with counted(database) as statements:
        again = worker_a.tokens.validate(secret)
    assert again == first
    assert statements == []


def test_the_revision_is_read_once_per_recheck_interval(worker_a: IdentityService,
                                                        database: Database,
                                                        ticker: Ticker) -> None:
    secret = _demo_token(worker_a)
    worker_a.tokens.validate(secret)
    ticker.now += 1.0
    with counted(database) as statements:
        for _ in range(5):
            worker_a.tokens.validate(secret)
    assert len([s for s in statements if "identity_revision" in s]) == 1
    assert len(statements) == 1


def test_cached_answers_without_the_database_or_defers_to_validate(
        worker_a: IdentityService, worker_b: IdentityService, database: Database,
        ticker: Ticker, clock: FakeClock) -> None:
    # The API's auth dependency stays on the event loop when ``cached`` answers, and goes to
    # the threadpool to ``validate`` when it says None: it must never read, and must never
    # answer what validate would refuse once the revision is due.
    secret = _demo_token(worker_a)
    assert worker_a.tokens.cached(secret) is None  # never validated here yet
    first = worker_a.tokens.validate(secret)
    with counted(database) as statements:
        assert worker_a.tokens.cached(secret) == first
    assert statements == []
    worker_b.tokens.revoke(ADMIN, secret)
    ticker.now += 1.0  # the revision re-read is due: the first cached defers, validate re-reads
    with counted(database) as statements:
        assert worker_a.tokens.cached(secret) is None
        # the requests behind it trust the cache while its re-read waits for a thread, as
        # validate's callers do: not every request of a busy worker sent to the threadpool
        assert worker_a.tokens.cached(secret) == first
    assert statements == []
    with counted(database) as statements, pytest.raises(Unauthorized, match="revoked"):
        worker_a.tokens.validate(secret)
    assert any("identity_revision" in s for s in statements)
    assert worker_a.tokens.cached(secret) is None  # the newer revision emptied the cache
    other = _demo_token(worker_a)
    worker_a.tokens.validate(other)
    clock.advance(TTL)
    assert worker_a.tokens.cached(other) is None  # expired: validate says why


def test_a_claimed_recheck_whose_validate_never_comes_is_claimed_again(
        worker_a: IdentityService, worker_b: IdentityService, ticker: Ticker) -> None:
    secret = _demo_token(worker_a)
    worker_a.tokens.validate(secret)
    worker_b.tokens.revoke(ADMIN, secret)
    ticker.now += 1.0
    assert worker_a.tokens.cached(secret) is None  # claimed; its request goes away unserved
    ticker.now += 1.0
    assert worker_a.tokens.cached(secret) is None  # claimed again a recheck later
    with pytest.raises(Unauthorized, match="revoked"):
        worker_a.tokens.validate(secret)


def test_a_cached_token_expires(worker_a: IdentityService, clock: FakeClock) -> None:
    secret = _demo_token(worker_a)
    worker_a.tokens.validate(secret)
    clock.advance(TTL)
    with pytest.raises(Unauthorized, match="expired"):
        worker_a.tokens.validate(secret)


def test_a_revocation_on_another_worker_is_seen_within_the_recheck(
        worker_a: IdentityService, worker_b: IdentityService, ticker: Ticker) -> None:
    secret = _demo_token(worker_a)
    worker_a.tokens.validate(secret)
    worker_b.tokens.revoke(ADMIN, secret)
    ticker.now += 0.5  # inside the interval worker a may still serve it: that is the bound
    worker_a.tokens.validate(secret)
    ticker.now += 0.5
    with pytest.raises(Unauthorized, match="revoked"):
        worker_a.tokens.validate(secret)
    with pytest.raises(Unauthorized, match="revoked"):
        worker_b.tokens.validate(secret)


def test_the_revoking_worker_refuses_at_once(worker_a: IdentityService) -> None:
    secret = _demo_token(worker_a)
    worker_a.tokens.validate(secret)
    worker_a.tokens.revoke(ADMIN, secret)
    with pytest.raises(Unauthorized, match="revoked"):
        worker_a.tokens.validate(secret)


def test_a_role_taken_on_another_worker_leaves_the_cached_roles(
        worker_a: IdentityService, worker_b: IdentityService, ticker: Ticker) -> None:
    secret = _demo_token(worker_a)
    token = worker_a.tokens.validate(secret)
    assert RoleName.MEMBER in {r.name for r in token.roles}
    member = next(r for r in token.roles if r.name == RoleName.MEMBER)
    assert token.project is not None
    worker_b.access.revoke(token.user.id, token.project.id, member.id)
    ticker.now += 1.0
    assert worker_a.tokens.validate(secret).roles == ()


def test_a_deleted_user_is_refused_by_every_worker(worker_a: IdentityService,
                                                   worker_b: IdentityService,
                                                   ticker: Ticker) -> None:
    secret = _demo_token(worker_a)
    user = worker_a.tokens.validate(secret).user
    worker_b.directory.delete_user(user.id)
    ticker.now += 1.0
    with pytest.raises(Unauthorized):
        worker_a.tokens.validate(secret)


def test_the_cache_keeps_at_most_its_bound(database: Database, clock: FakeClock,
                                           ticker: Ticker) -> None:
    service = _worker(database, clock, ticker, max_entries=2)
    service.bootstrap("admin-pw", demo_password="demo-pw")
    first, second, third = (_demo_token(service) for _ in range(3))
    for secret in (first, second, third):
        service.tokens.validate(secret)
    with counted(database) as statements:
        service.tokens.validate(third)
        service.tokens.validate(second)
    assert statements == []
    with counted(database) as statements:
        service.tokens.validate(first)  # evicted: read again
    assert statements


def test_a_token_read_before_a_change_is_not_kept(worker_a: IdentityService,
                                                  ticker: Ticker) -> None:
    token = worker_a.tokens.validate(_demo_token(worker_a))
    cache = TokenCache(recheck=1.0, ticker=ticker)
    cache.put("digest", token, revision=5)
    cache.put("older", token, revision=4)
    assert cache.get("older", token.issued_at, lambda: 5) is None
    assert cache.get("digest", token.issued_at, lambda: 5) == token
    ticker.now += 1.0
    assert cache.get("digest", token.issued_at, lambda: 6) is None  # a newer revision empties
