"""Issue 10, findings 4-7, over the whole API on SQLite and PostgreSQL alike: integers past
what the databases store, NUL characters, missing validation, and two ports naming one VF.
Each answer is the status and envelope the OpenStack service gives."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.compute.chapter import (CIRROS_ID, COMPUTE_HEARTBEAT, INVENTORY, boot_body,
                                       direct_port)

SERVERS = "/compute/v2.1/servers"


def _server(**fields: Any) -> dict[str, Any]:
    return {"server": {"name": "vm", "imageRef": CIRROS_ID, "flavorRef": "1", **fields}}


def _bad_request(r: Any, field: str) -> None:
    assert r.status_code == 400, r.text
    assert field in r.text, r.text


# -- finding 4: integer overflow ---------------------------------------------------------

@pytest.mark.parametrize("value", [str(2**63), str(10**19)])
def test_a_flavor_filter_past_the_integer_range_is_a_400(api: Any, value: str) -> None:
    _bad_request(api.client.get(f"/compute/v2.1/flavors?minRam={value}", headers=api.demo),
                 "minRam")
    _bad_request(api.client.get(f"/compute/v2.1/flavors/detail?minDisk={value}",
                                headers=api.demo), "minDisk")


def test_an_inventory_past_the_integer_range_is_a_400(api: Any) -> None:
    body = copy.deepcopy(INVENTORY)
    body["resources"]["vcpus"] = 2**63
    r = api.client.put("/internal/v1/hosts/compute-1/inventory", json=body, headers=api.service)
    _bad_request(r, "vcpus")


# -- finding 5: NUL refused at the edge --------------------------------------------------

@pytest.mark.parametrize("fields, where", [
    ({"name": "a\u0000b"}, "server.name"),
    ({"availability_zone": "nova\u0000"}, "server.availability_zone"),
    ({"metadata": {"k\u0000": "v"}}, "server.metadata"),
])
def test_a_nul_in_a_server_create_is_a_400_before_anything_is_stored(
        api: Any, fields: dict[str, Any], where: str) -> None:
    r = api.client.post(SERVERS, json=_server(**fields), headers=api.demo)
    _bad_request(r, where)
    assert "badRequest" in r.json()
    assert api.client.get(SERVERS, headers=api.demo).json()["servers"] == []


def test_a_nul_in_a_network_name_or_a_query_is_a_400_in_neutrons_envelope(api: Any) -> None:
    r = api.client.post("/network/v2.0/networks", headers=api.admin,
                        json={"network": {"name": "web\u0000"}})
    _bad_request(r, "network.name")
    assert "NeutronError" in r.json()
    r = api.client.get("/network/v2.0/networks?name=web%00", headers=api.admin)
    _bad_request(r, "query string")


def test_a_get_whose_framing_declares_a_body_still_has_it_searched_for_nul(api: Any) -> None:
    # The edge skips buffering only a GET that has no body by its framing (no Content-Length,
    # no Transfer-Encoding); one that declares a body is read and searched like a POST's.
    r = api.client.request("GET", "/network/v2.0/networks", headers=api.admin,
                           content=b'{"name": "web\\u0000"}')
    _bad_request(r, "name")
    assert api.client.get("/network/v2.0/networks", headers=api.admin).status_code == 200


# -- finding 6: validation -----------------------------------------------------------------

@pytest.mark.parametrize("address", ["10.0.0.0", "10.0.0.255"])
def test_a_fixed_ip_on_the_network_or_broadcast_address_is_a_400(api: Any,
                                                                 address: str) -> None:
    port = direct_port(api)
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": port["network_id"], "fixed_ips": [{"ip_address": address}]}})
    _bad_request(r, address)


def _rule(api: Any, **fields: Any) -> Any:
    group = api.client.post("/network/v2.0/security-groups", headers=api.demo,
                            json={"security_group": {"name": "web"}}).json()["security_group"]
    return api.client.post("/network/v2.0/security-group-rules", headers=api.demo, json={
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                **fields}})


def test_security_group_rules_are_checked_as_neutron_checks_them(api: Any) -> None:
    _bad_request(_rule(api, protocol="icmp", port_range_min=300), "port_range_min")
    _bad_request(_rule(api, protocol="icmp", port_range_min=8, port_range_max=256),
                 "port_range_max")
    _bad_request(_rule(api, ethertype="IPv4", remote_ip_prefix="::/0"), "remote_ip_prefix")
    _bad_request(_rule(api, protocol="tcp", port_range_min=70000), "port_range_min")
    ok = _rule(api, protocol="icmp", port_range_min=8, port_range_max=0)  # type 8 code 0
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("fields, field", [
    ({"key_name": "k" * 256}, "key_name"),
    ({"accessIPv4": "1" * 100_000}, "accessIPv4"),
    ({"accessIPv4": "::1"}, "accessIPv4"),
    ({"accessIPv6": "10.0.0.1"}, "accessIPv6"),
    ({"metadata": {"k" * 256: "v"}}, "metadata"),
    ({"metadata": {"k": "v" * 256}}, "metadata"),
])
def test_server_fields_over_novas_limits_are_a_400(api: Any, fields: dict[str, Any],
                                                   field: str) -> None:
    _bad_request(api.client.post(SERVERS, json=_server(**fields), headers=api.demo), field)


def test_valid_access_ips_are_kept(api: Any) -> None:
    r = api.client.post(SERVERS, json=_server(accessIPv4="192.0.2.5", accessIPv6="2001:db8::5"),
                        headers=api.demo)
    assert r.status_code == 202, r.text


def test_an_agent_host_name_over_255_characters_is_a_400(api: Any) -> None:
    r = api.client.post(f"/internal/v1/hosts/{'h' * 10_000}/heartbeat",
                        json=COMPUTE_HEARTBEAT, headers=api.service)
    _bad_request(r, "host")


# -- finding 7: two ports cannot name one VF ---------------------------------------------

def test_an_admin_port_naming_a_vf_another_server_holds_is_a_409(api: Any,
                                                                 compute_host: str) -> None:
    port = direct_port(api)
    r = api.client.post(SERVERS, json=boot_body(port["id"]), headers=api.admin)
    assert r.status_code == 202, r.text
    bound = api.client.get(f"/network/v2.0/ports/{port['id']}",
                           headers=api.admin).json()["port"]
    profile = bound["binding:profile"]
    assert profile["pci_slot"]
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": port["network_id"], "binding:vnic_type": "direct",
        "binding:host_id": compute_host, "binding:profile": profile}})
    assert r.status_code == 409, r.text
    assert profile["pci_slot"] in r.json()["NeutronError"]["message"]
    free = {**profile, "pci_slot": "0000:0b:10.3"}  # a VF nobody holds
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": port["network_id"], "binding:vnic_type": "direct",
        "binding:host_id": compute_host, "binding:profile": free}})
    assert r.status_code == 201, r.text
