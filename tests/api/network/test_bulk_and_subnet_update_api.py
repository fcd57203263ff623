"""Neutron's bulk create of networks and subnets (all or none) and subnet updates of the
gateway, nameservers, host routes and allocation pools with neutron's checks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

N = "/network/v2.0"


def _net(api: Api, name: str = "n1") -> str:
    r = api.client.post(f"{N}/networks", headers=api.demo, json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    return str(r.json()["network"]["id"])


def _subnet(api: Api, net: str, **extra: Any) -> dict[str, Any]:
    r = api.client.post(f"{N}/subnets", headers=api.demo, json={"subnet": {
        "network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4, **extra}})
    assert r.status_code == 201, r.text
    return dict(r.json()["subnet"])


def test_bulk_networks_are_created_together(api: Api) -> None:
    r = api.client.post(f"{N}/networks", headers=api.demo, json={"networks": [
        {"name": "bulk-a"}, {"name": "bulk-b", "admin_state_up": False}]})
    assert r.status_code == 201, r.text
    made = r.json()["networks"]
    assert [(n["name"], n["admin_state_up"]) for n in made] == [("bulk-a", True),
                                                                ("bulk-b", False)]
    segments = {api.client.get(f"{N}/networks/{n['id']}", headers=api.admin)
                .json()["network"]["provider:segmentation_id"] for n in made}
    assert len(segments) == 2  # each got its own project VLAN


def test_a_bad_network_in_a_bulk_request_creates_none(api: Api) -> None:
    r = api.client.post(f"{N}/networks", headers=api.demo, json={"networks": [
        {"name": "ok"}, {"name": "bad", "provider:network_type": "vlan"}]})
    assert r.status_code == 403, r.text
    names = {n["name"] for n in api.client.get(f"{N}/networks", headers=api.demo)
             .json()["networks"]}
    assert "ok" not in names


def test_both_forms_at_once_is_400(api: Api) -> None:
    r = api.client.post(f"{N}/networks", headers=api.demo,
                        json={"network": {"name": "a"}, "networks": [{"name": "b"}]})
    assert r.status_code == 400 and "exactly one" in r.json()["NeutronError"]["message"]


def test_bulk_subnets_all_or_none(api: Api) -> None:
    net = _net(api)
    r = api.client.post(f"{N}/subnets", headers=api.demo, json={"subnets": [
        {"network_id": net, "cidr": "10.1.0.0/24", "ip_version": 4},
        {"network_id": net, "cidr": "10.2.0.0/24", "ip_version": 4}]})
    assert r.status_code == 201, r.text
    assert [s["cidr"] for s in r.json()["subnets"]] == ["10.1.0.0/24", "10.2.0.0/24"]
    r = api.client.post(f"{N}/subnets", headers=api.demo, json={"subnets": [
        {"network_id": net, "cidr": "10.3.0.0/24", "ip_version": 4},
        {"network_id": net, "cidr": "10.3.0.0/25", "ip_version": 4}]})  # overlaps the first
    assert r.status_code == 400 and "overlaps" in r.json()["NeutronError"]["message"]
    cidrs = {s["cidr"] for s in api.client.get(f"{N}/subnets", headers=api.demo)
             .json()["subnets"]}
    assert cidrs == {"10.1.0.0/24", "10.2.0.0/24"}


def _update(api: Api, subnet_id: str, **change: Any) -> Any:
    return api.client.put(f"{N}/subnets/{subnet_id}", headers=api.demo,
                          json={"subnet": change})


def test_subnet_set_gateway_dns_routes_and_pools(api: Api) -> None:
    sub = _subnet(api, _net(api), allocation_pools=[{"start": "10.9.0.10",
                                                     "end": "10.9.0.100"}])
    r = _update(api, sub["id"], gateway_ip="10.9.0.254",
                dns_nameservers=["8.8.8.8", "1.1.1.1"],
                host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.9.0.2"}])
    assert r.status_code == 200, r.text
    body = r.json()["subnet"]
    assert body["gateway_ip"] == "10.9.0.254"
    assert body["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]
    assert body["host_routes"] == [{"destination": "192.168.0.0/16", "nexthop": "10.9.0.2"}]
    r = _update(api, sub["id"], allocation_pools=[{"start": "10.9.0.10", "end": "10.9.0.50"},
                                                  {"start": "10.9.0.60", "end": "10.9.0.70"}])
    assert r.status_code == 200, r.text
    assert r.json()["subnet"]["allocation_pools"] == [
        {"start": "10.9.0.10", "end": "10.9.0.50"}, {"start": "10.9.0.60", "end": "10.9.0.70"}]
    r = _update(api, sub["id"], gateway_ip=None)
    assert r.status_code == 200 and r.json()["subnet"]["gateway_ip"] is None


@pytest.mark.parametrize("change, status, kind, words", [
    ({"gateway_ip": "10.9.0.20"}, 409, "GatewayConflictWithAllocationPools", "conflicts"),
    ({"gateway_ip": "10.9.0.255"}, 400, "InvalidInput", "Gateway is not valid"),
    ({"gateway_ip": "10.8.0.1"}, 400, "InvalidInput", "not in subnet"),
    ({"allocation_pools": [{"start": "10.9.0.0", "end": "10.9.0.5"}]}, 400,
     "OutOfBoundsAllocationPool", "spans beyond"),
    ({"allocation_pools": [{"start": "10.9.0.1", "end": "10.9.0.9"}]}, 409,
     "GatewayConflictWithAllocationPools", "10.9.0.1"),
    ({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, 400, "InvalidInput", "Duplicate nameserver"),
    ({"dns_nameservers": ["dns.example"]}, 400, "InvalidInput", "not a valid nameserver"),
    ({"dns_nameservers": [f"10.0.0.{i}" for i in range(1, 7)]}, 400,
     "DNSNameServersExhausted", "exceeds the limit 5"),
    ({"host_routes": [{"destination": "10.1.0.1/16", "nexthop": "10.9.0.2"}]}, 400,
     "InvalidInput", "not a valid route"),
    ({"host_routes": [{"destination": "fd00::/64", "nexthop": "10.9.0.2"}]}, 400,
     "InvalidInput", "not IPv4"),
    ({"cidr": "10.10.0.0/24"}, 400, None, "cidr"),
])
def test_subnet_updates_refused_as_neutron_does(api: Api, change: dict[str, Any], status: int,
                                                kind: str | None, words: str) -> None:
    sub = _subnet(api, _net(api), allocation_pools=[{"start": "10.9.0.10",
                                                     "end": "10.9.0.100"}])
    r = _update(api, sub["id"], **change)
    assert r.status_code == status, r.text
    error = r.json()["NeutronError"]
    assert words in error["message"] and (kind is None or error["type"] == kind), error
    after = api.client.get(f"{N}/subnets/{sub['id']}", headers=api.demo).json()["subnet"]
    assert (after["gateway_ip"], after["allocation_pools"], after["dns_nameservers"]) == (
        sub["gateway_ip"], sub["allocation_pools"], sub["dns_nameservers"])


def test_create_checks_nameservers_and_routes_too(api: Api) -> None:
    net = _net(api)
    r = api.client.post(f"{N}/subnets", headers=api.demo, json={"subnet": {
        "network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4,
        "dns_nameservers": ["not-an-ip"]}})
    assert r.status_code == 400 and "not a valid nameserver" in r.text
