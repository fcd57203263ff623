"""Neutron lists sort and page as neutron does: sort_key/sort_dir pairs, limit/marker/page_reverse
with ``<collection>_links``, 400 for a bad limit or sort, the resource's 404 for a marker."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import Api

N = "/network/v2.0"


def _ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def _error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["NeutronError"]["message"]
    return message


def _ports(api: Api, names: list[str]) -> tuple[str, list[str]]:
    net = _ok(api.client.post(f"{N}/networks", headers=api.demo,
                              json={"network": {"name": "paged"}}))["network"]["id"]
    made = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"ports": [
        {"network_id": net, "name": name, "device_id": f"dev-{name}"} for name in names]}))
    return net, [p["id"] for p in made["ports"]]


def _marker(link: dict[str, str]) -> dict[str, list[str]]:
    return parse_qs(urlsplit(link["href"]).query)


def test_pages_follow_the_next_links_to_the_end_in_the_sort_order(api: Api) -> None:
    names = ["e", "b", "d", "a", "c"]
    _ports(api, names)
    url = f"{N}/ports?sort_key=name&sort_dir=asc&limit=2&fields=name"
    seen: list[str] = []
    while True:
        page = _ok(api.client.get(url, headers=api.demo))
        seen += [p["name"] for p in page["ports"]]
        following = [link for link in page.get("ports_links", []) if link["rel"] == "next"]
        if not following:
            break
        assert following[0]["href"].startswith("http")
        url = N + "/ports?" + urlsplit(following[0]["href"]).query
    assert seen == sorted(names)
    assert len(page["ports"]) < 2  # the last page is short, so it has no next link


def test_descending_sort_and_page_reverse(api: Api) -> None:
    _ports(api, ["a", "b", "c", "d"])
    down = _ok(api.client.get(f"{N}/ports?sort_key=name&sort_dir=desc", headers=api.demo))
    assert [p["name"] for p in down["ports"]] == ["d", "c", "b", "a"]
    assert "ports_links" not in down  # no limit: no paging, no links
    by_name = {p["name"]: p["id"] for p in down["ports"]}
    before_c = _ok(api.client.get(
        f"{N}/ports?sort_key=name&sort_dir=asc&limit=2&marker={by_name['c']}&page_reverse=true",
        headers=api.demo))
    assert [p["name"] for p in before_c["ports"]] == ["a", "b"]
    rels = {link["rel"]: _marker(link) for link in before_c["ports_links"]}
    assert rels["next"]["marker"] == [by_name["b"]]
    assert rels["previous"]["marker"] == [by_name["a"]]


def test_filters_apply_before_the_page(api: Api) -> None:
    _net, ids = _ports(api, ["x1", "x2", "x3"])
    one = _ok(api.client.get(f"{N}/ports?device_id=dev-x2&limit=5", headers=api.demo))
    assert [p["id"] for p in one["ports"]] == [ids[1]]
    both = "device_id=dev-x1&device_id=dev-x3"
    whole = [p["id"] for p in _ok(api.client.get(f"{N}/ports?{both}", headers=api.demo))[
        "ports"]]
    assert sorted(whole) == sorted([ids[0], ids[2]])
    first = _ok(api.client.get(f"{N}/ports?{both}&limit=1", headers=api.demo))
    assert [p["id"] for p in first["ports"]] == whole[:1]
    second = _ok(api.client.get(f"{N}/ports?{both}&limit=1&marker={whole[0]}",
                                headers=api.demo))
    assert [p["id"] for p in second["ports"]] == whole[1:]


def test_network_and_subnet_lists_page_too(api: Api) -> None:
    for name in ("n1", "n2", "n3"):
        net = _ok(api.client.post(f"{N}/networks", headers=api.demo,
                                  json={"network": {"name": name}}))["network"]
        _ok(api.client.post(f"{N}/subnets", headers=api.demo, json={"subnet": {
            "network_id": net["id"], "cidr": f"10.{name[1]}.0.0/24", "ip_version": 4,
            "name": f"s{name[1]}"}}))
    nets = _ok(api.client.get(f"{N}/networks?sort_key=name&sort_dir=desc&limit=2",
                              headers=api.demo))
    assert [n["name"] for n in nets["networks"]] == ["n3", "n2"]
    assert [link["rel"] for link in nets["networks_links"]] == ["next", "previous"]
    subs = _ok(api.client.get(f"{N}/subnets?sort_key=cidr&sort_dir=asc&limit=5",
                              headers=api.demo))
    assert [s["name"] for s in subs["subnets"]] == ["s1", "s2", "s3"]
    assert [link["rel"] for link in subs["subnets_links"]] == ["previous"]


def test_bad_limits_sorts_and_markers_are_neutrons_errors(api: Api) -> None:
    message = _error(api.client.get(f"{N}/ports?limit=abc", headers=api.demo), 400)
    assert "Limit must be an integer 0 or greater and not 'abc'" in message
    _error(api.client.get(f"{N}/ports?limit=-1", headers=api.demo), 400)
    assert "is invalid attribute for sort_keys" in _error(
        api.client.get(f"{N}/ports?sort_key=colour&sort_dir=asc", headers=api.demo), 400)
    assert "must be same" in _error(
        api.client.get(f"{N}/ports?sort_key=name", headers=api.demo), 400)
    assert "is invalid value for sort_dirs" in _error(
        api.client.get(f"{N}/networks?sort_key=name&sort_dir=up", headers=api.demo), 400)
    # binding:host_id is hidden from project members: not a sort key for them
    _error(api.client.get(f"{N}/ports?sort_key=binding:host_id&sort_dir=asc",
                          headers=api.demo), 400)
    _ok(api.client.get(f"{N}/ports?sort_key=binding:host_id&sort_dir=asc", headers=api.admin))
    gone = "4a3f0c3e-0000-4000-8000-000000000000"
    assert "could not be found" in _error(
        api.client.get(f"{N}/ports?limit=1&marker={gone}", headers=api.demo), 404)
    _error(api.client.get(f"{N}/networks?limit=1&marker={gone}", headers=api.demo), 404)
    _error(api.client.get(f"{N}/subnets?limit=1&marker={gone}", headers=api.demo), 404)
    # neutron looks the marker up only for a page: without a limit it is ignored
    _ok(api.client.get(f"{N}/ports?marker={gone}", headers=api.demo))
