"""The server list sorts and pages in SQL as nova does: sort_key/sort_dir pairs with nova's
enums (400 otherwise), created_at and uuid after them, a ``servers_links`` next link on a full
page, host/node sort keys dropped for project members, a marker from any position."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.api.compute.chapter import CIRROS_ID

SERVERS = "/compute/v2.1/servers"


def _boot(api: Any, name: str) -> str:
    r = api.client.post(SERVERS, headers=api.demo, json={"server": {
        "name": name, "imageRef": CIRROS_ID, "flavorRef": "1"}})
    assert r.status_code == 202, r.text
    return str(r.json()["server"]["id"])


def _names(api: Any, query: str, headers: Any = None) -> list[str]:
    r = api.client.get(f"{SERVERS}?{query}", headers=headers or api.demo)
    assert r.status_code == 200, r.text
    return [s["name"] for s in r.json()["servers"]]


def test_sort_keys_order_the_list_and_pages_follow_next_links(api: Any) -> None:
    for name in ("c", "a", "d", "b"):
        _boot(api, name)
        api.clock.advance(1)
    assert _names(api, "sort_key=display_name&sort_dir=asc") == ["a", "b", "c", "d"]
    assert _names(api, "sort_key=display_name&sort_dir=desc") == ["d", "c", "b", "a"]
    assert _names(api, "sort_key=display_name") == ["d", "c", "b", "a"]  # nova: desc
    assert _names(api, "sort_dir=asc") == ["c", "a", "d", "b"]  # created_at, oldest first
    url, seen = f"{SERVERS}/detail?sort_key=display_name&sort_dir=asc&limit=3", []
    while url:
        body = api.client.get(url, headers=api.demo).json()
        seen += [s["name"] for s in body["servers"]]
        links = body.get("servers_links", [])
        assert all(link["rel"] == "next" for link in links)
        url = f"{SERVERS}/detail?{urlsplit(links[0]['href']).query}" if links else ""
        if links:
            assert "/v2.1/servers/detail?" in links[0]["href"]
            assert parse_qs(urlsplit(links[0]["href"]).query)["sort_key"] == ["display_name"]
    assert seen == ["a", "b", "c", "d"]


def test_a_full_page_has_a_next_link_a_short_one_none(api: Any) -> None:
    ids = [_boot(api, f"vm{i}") for i in range(3)]
    full = api.client.get(f"{SERVERS}?limit=3", headers=api.demo).json()
    assert parse_qs(urlsplit(full["servers_links"][0]["href"]).query)["marker"] == [
        full["servers"][-1]["id"]]
    short = api.client.get(f"{SERVERS}?limit=4", headers=api.demo).json()
    assert "servers_links" not in short and len(short["servers"]) == len(ids)


def test_bad_sort_keys_and_directions_are_400(api: Any) -> None:
    for query, word in (("sort_key=colour", "sort_key"), ("sort_dir=up", "sort_dir"),
                        ("sort_key=display_name&sort_dir=asc&sort_dir=desc", "Sort direction"),
                        ("sort_key=locked&sort_dir=asc", "")):
        r = api.client.get(f"{SERVERS}?{query}", headers=api.demo)
        if query.startswith("sort_key=locked"):
            assert r.status_code == 200, r.text  # below 2.73 nova accepts and ignores it
            continue
        assert r.status_code == 400, (query, r.text)
        assert word in r.json()["badRequest"]["message"]


def test_members_sorting_on_host_get_the_default_order(api: Any) -> None:
    for name in ("x", "y"):
        _boot(api, name)
        api.clock.advance(1)
    assert _names(api, "sort_key=host&sort_dir=asc") == ["y", "x"]  # dropped: newest first


def test_a_name_filter_still_pages(api: Any) -> None:
    for name in ("web-1", "db-1", "web-2", "web-3"):
        _boot(api, name)
        api.clock.advance(1)
    first = _names(api, "name=web&limit=2&sort_key=display_name&sort_dir=asc")
    assert first == ["web-1", "web-2"]
    body = api.client.get(f"{SERVERS}?name=web&limit=2", headers=api.demo).json()
    marker = body["servers"][-1]["id"]
    assert _names(api, f"name=web&limit=2&marker={marker}") == ["web-1"]
