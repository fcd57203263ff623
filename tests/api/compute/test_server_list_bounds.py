"""Issue 10, finding 2: a user's ``?name=`` pattern runs in RE2 (linear time) with nova's
search semantics, a pattern RE2 refuses is a 400 naming ``name``, and every list is bounded
(``limit``/``marker``, at most max_limit servers; PostgreSQL statements time out)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from sriovstack.compute.servers import MAX_LIMIT
from sriovstack.db import Database
from tests.api.compute.chapter import CIRROS_ID

SERVERS = "/compute/v2.1/servers"


def _boot(api: Any, name: str) -> str:
    r = api.client.post(SERVERS, headers=api.demo, json={"server": {
        "name": name, "imageRef": CIRROS_ID, "flavorRef": "1"}})
    assert r.status_code == 202, r.text
    return str(r.json()["server"]["id"])


def test_a_catastrophic_pattern_answers_at_once(api: Any) -> None:
    """``(a+)+$`` against 40 a's and a '!' backtracks 2**40 steps in Python's re (the
    issue's probe: 15 s at 26 a's, stalling every other request); RE2 answers at once."""
    _boot(api, "a" * 40 + "!")
    answers: list[Any] = []
    worker = threading.Thread(target=lambda: answers.append(api.client.get(
        f"{SERVERS}?name=(a%2B)%2B$", headers=api.demo)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert answers, "the name filter did not answer within 60 s"
    assert answers[0].status_code == 200 and answers[0].json()["servers"] == []
    found = api.client.get(f"{SERVERS}?name=a%2B!$", headers=api.demo).json()["servers"]
    assert [s["name"] for s in found] == ["a" * 40 + "!"]


def test_a_pattern_re2_refuses_is_a_400_naming_name(api: Any) -> None:
    for pattern in ("(a)%5C1", "([", "(%3F=a)"):  # a backreference, unbalanced, a lookahead
        r = api.client.get(f"{SERVERS}?name={pattern}", headers=api.demo)
        assert r.status_code == 400, (pattern, r.text)
        assert "name" in r.json()["badRequest"]["message"]
    r = api.client.get(f"{SERVERS}?name={'a' * 256}", headers=api.demo)
    assert r.status_code == 400 and "name" in r.json()["badRequest"]["message"]


def test_limit_and_marker_page_the_list_newest_first(api: Any) -> None:
    for name in ("vm1", "vm2", "vm3"):
        _boot(api, name)
        api.clock.advance(1)
    page = api.client.get(f"{SERVERS}?limit=2", headers=api.demo).json()["servers"]
    assert [s["name"] for s in page] == ["vm3", "vm2"]
    rest = api.client.get(f"{SERVERS}/detail?limit=2&marker={page[-1]['id']}",
                          headers=api.demo).json()["servers"]
    assert [s["name"] for s in rest] == ["vm1"]
    for query in ("limit=-1", "limit=two", "limit=99999999999999999999",
                  "marker=no-such-server"):
        r = api.client.get(f"{SERVERS}?{query}", headers=api.demo)
        assert r.status_code == 400, (query, r.text)
        assert query.split("=")[0] in r.json()["badRequest"]["message"]
    assert MAX_LIMIT == 1000  # nova's [api] max_limit


def test_postgresql_connections_carry_a_statement_timeout(database: Database) -> None:
    if database.dialect != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's; SQLite runs in process")
    with database.engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "30s"
