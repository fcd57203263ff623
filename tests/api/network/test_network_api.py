"""The Networking v2.0 API end to end in process: shapes clients need, the chapter's walk
(20.7), policy, filters and fields, the NeutronError envelope."""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.errors import Conflict
from sriovstack.mac import MacAddress
from sriovstack.network import BindingProfile
from sriovstack.pci.address import PciAddress
from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat
from tests.conftest import Api

N = "/network/v2.0"


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _error(response: Any, status: int, kind: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert set(body) == {"type", "message", "detail"}
    if kind is not None:
        assert body["type"] == kind
    message: str = body["message"]
    return message


def _web(api: Api) -> tuple[str, str]:
    """The chapter's provider network and subnet, made as the CLI sends them."""
    net = _ok(api.client.post(f"{N}/networks", headers=api.admin, json={"network": {
        "name": "web", "admin_state_up": True, "shared": True,
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": "15"}}), 201)["network"]
    sub = _ok(api.client.post(f"{N}/subnets", headers=api.admin, json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4,
        "name": "web-subnet"}}), 201)["subnet"]
    return net["id"], sub["id"]


def test_version_documents_need_no_token(api: Api) -> None:
    versions = _ok(api.client.get("/network/"))["versions"]
    assert versions[0]["id"] == "v2.0" and versions[0]["status"] == "CURRENT"
    assert _ok(api.client.get("/network"))["versions"] == versions
    collections = {r["collection"] for r in _ok(api.client.get(f"{N}/"))["resources"]}
    assert {"networks", "subnets", "ports"} <= collections


def test_extensions_list_and_probe(api: Api) -> None:
    aliases = {e["alias"] for e in _ok(api.client.get(f"{N}/extensions",
                                                      headers=api.demo))["extensions"]}
    assert {"binding", "provider", "port-security", "security-group", "agent"} <= aliases
    assert _ok(api.client.get(f"{N}/extensions/binding", headers=api.demo))["extension"][
        "alias"] == "binding"
    _error(api.client.get(f"{N}/extensions/tag-ports-during-bulk-creation", headers=api.demo),
           404, "ExtensionNotFound")


def test_the_chapters_walk_port_create_direct(api: Api) -> None:
    network_id, subnet_id = _web(api)
    nets = _ok(api.client.get(f"{N}/networks?name=web", headers=api.demo))["networks"]
    assert [n["id"] for n in nets] == [network_id] and nets[0]["subnets"] == [subnet_id]
    _error(api.client.get(f"{N}/networks/web", headers=api.demo), 404, "NetworkNotFound")
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "binding:vnic_type": "direct", "network_id": network_id, "name": "sr-iov",
        "admin_state_up": True}}), 201)["port"]
    assert port["status"] == "DOWN" and port["binding:vnic_type"] == "direct"
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["fixed_ips"] == [{"subnet_id": subnet_id, "ip_address": "10.0.0.2"}]
    assert port["security_groups"] == [] and port["port_security_enabled"] is False
    assert "binding:host_id" not in port  # admin/service only to read
    admin_view = _ok(api.client.get(f"{N}/ports/{port['id']}", headers=api.admin))["port"]
    assert admin_view["binding:vif_type"] == "unbound" and admin_view["binding:profile"] == {}
    _error(api.client.get(f"{N}/ports/sr-iov", headers=api.demo), 404, "PortNotFound")


def test_nova_binds_the_port_and_the_agent_brings_it_active(api: Api) -> None:
    network_id, _ = _web(api)
    net = api.services.network
    net.record_heartbeat("compute-1", Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                                                device_mappings=(("physnet1", ("enp4s0f1",)),)))
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct"}}), 201)["port"]
    profile = {"pci_slot": "0000:81:10.1", "pci_vendor_info": "8086:10ca",
               "physical_network": "physnet1"}
    bound = _ok(api.client.put(f"{N}/ports/{port['id']}", headers=api.service, json={"port": {
        "binding:host_id": "compute-1", "device_id": "vm-1", "device_owner": "compute:nova",
        "binding:profile": profile}}))["port"]
    assert bound["binding:vif_type"] == "hw_veb" and bound["binding:profile"] == profile
    assert bound["binding:vif_details"] == {"port_filter": False, "vlan": "15"}
    assert bound["status"] == "DOWN"
    net.set_device_status("compute-1", MacAddress(port["mac_address"]),
                          PciAddress.parse("0000:81:10.1"), True)
    assert _ok(api.client.get(f"{N}/ports/{port['id']}", headers=api.demo))["port"][
        "status"] == "ACTIVE"
    agents = _ok(api.client.get(f"{N}/agents?host=compute-1", headers=api.admin))["agents"]
    assert agents[0]["alive"] is True
    assert agents[0]["configurations"]["device_mappings"] == {"physnet1": ["enp4s0f1"]}
    _error(api.client.get(f"{N}/agents", headers=api.demo), 403)


def test_binding_to_a_host_without_agent_is_200_binding_failed_with_reason(api: Api) -> None:
    network_id, _ = _web(api)
    port = _ok(api.client.post(f"{N}/ports", headers=api.admin, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct",
        "binding:host_id": "compute-7", "binding:profile": {
            "pci_slot": "0000:81:10.1", "pci_vendor_info": "8086:10ca"}}}), 201)["port"]
    assert port["binding:vif_type"] == "binding_failed"
    assert "no NIC Switch agent registered on host 'compute-7'" in port[
        "binding:failure_reason"]


@pytest.mark.parametrize("body", [
    {"binding:host_id": "compute-1"},
    {"binding:profile": {"pci_slot": "0000:81:10.1"}},
])
def test_tenants_get_403_for_binding_attributes(api: Api, body: dict[str, Any]) -> None:
    network_id, _ = _web(api)
    _error(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, **body}}), 403, "PolicyNotAuthorized")


def test_an_empty_profile_from_a_tenant_is_accepted(api: Api) -> None:
    network_id, _ = _web(api)
    _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:profile": {}}}), 201)


def test_tenants_get_403_for_provider_attributes(api: Api) -> None:
    _error(api.client.post(f"{N}/networks", headers=api.demo, json={"network": {
        "provider:network_type": "vlan"}}), 403, "PolicyNotAuthorized")
    mine = _ok(api.client.post(f"{N}/networks", headers=api.demo,
                               json={"network": {"name": "p"}}), 201)["network"]
    assert "provider:segmentation_id" not in mine
    admin_view = _ok(api.client.get(f"{N}/networks/{mine['id']}", headers=api.admin))
    assert admin_view["network"]["provider:segmentation_id"] == 15


@pytest.mark.parametrize(("port", "words"), [
    ({"binding:vnic_type": "macvtap"}, "macvtap is not supported"),
    ({"binding:vnic_type": "direct", "security_groups": ["default"]},
     "security groups are not supported on direct ports"),
    ({"binding:vnic_type": "foo"}, "binding:vnic_type"),
    ({"colour": "blue"}, "colour"),
    ({"mac_address": "fa:16:3e:00:00"}, "'fa:16:3e:00:00' is not a valid unicast MAC address"),
    ({"mac_address": "01:00:5e:00:00:01"}, "not a valid unicast MAC address"),
    ({"mac_address": "00-00-00-00-00-00"}, "not a valid unicast MAC address"),
])
def test_bad_ports_are_400_saying_why(api: Api, port: dict[str, Any], words: str) -> None:
    network_id, _ = _web(api)
    message = _error(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, **port}}), 400)
    assert words in message


def test_a_requested_mac_is_stored_in_its_one_form(api: Api) -> None:
    network_id, _ = _web(api)
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "mac_address": "FA-16-3E-0A-0B-0C"}}), 201)["port"]
    assert port["mac_address"] == "fa:16:3e:0a:0b:0c"
    _error(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "mac_address": "fa:16:3e:0a:0b:0c"}}), 409,
        "MacAddressInUse")


def test_a_profile_pci_slot_that_is_no_pci_address_is_400(api: Api) -> None:
    network_id, _ = _web(api)
    message = _error(api.client.post(f"{N}/ports", headers=api.admin, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct",
        "binding:profile": {"pci_slot": "slot-7"}}}), 400)
    assert "binding:profile.pci_slot" in message and "not a PCI address" in message


def test_errors_of_the_type_drivers(api: Api) -> None:
    _web(api)
    message = _error(api.client.post(f"{N}/networks", headers=api.admin, json={"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 15}}), 409, "VlanIdInUse")
    assert "VLAN 15 on physical network physnet1 is in use" in message
    for i in range(5):  # 16..20
        _ok(api.client.post(f"{N}/networks", headers=api.demo,
                            json={"network": {"name": f"n{i}"}}), 201)
    _error(api.client.post(f"{N}/networks", headers=api.demo, json={"network": {}}), 503,
           "NoNetworkAvailable")
    _error(api.client.post(f"{N}/networks", headers=api.admin, json={"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": "abc"}}), 400)


def test_subnet_overlap_and_network_delete_rules(api: Api) -> None:
    network_id, subnet_id = _web(api)
    message = _error(api.client.post(f"{N}/subnets", headers=api.admin, json={"subnet": {
        "network_id": network_id, "cidr": "10.0.0.0/25", "ip_version": 4}}), 400)
    assert "overlaps with another subnet" in message
    port = _ok(api.client.post(f"{N}/ports", headers=api.admin,
                               json={"port": {"network_id": network_id}}), 201)["port"]
    _error(api.client.delete(f"{N}/networks/{network_id}", headers=api.admin), 409,
           "NetworkInUse")
    _ok(api.client.delete(f"{N}/ports/{port['id']}", headers=api.admin), 204)
    _error(api.client.delete(f"{N}/ports/{port['id']}", headers=api.admin), 404)
    _ok(api.client.delete(f"{N}/networks/{network_id}", headers=api.admin), 204)
    _error(api.client.get(f"{N}/subnets/{subnet_id}", headers=api.admin), 404,
           "SubnetNotFound")


def test_bulk_create_filters_and_fields(api: Api) -> None:
    network_id, subnet_id = _web(api)
    made = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"ports": [
        {"network_id": network_id, "name": "a"}, {"network_id": network_id, "name": "b",
                                                  "binding:vnic_type": "direct"}]}), 201)
    assert [p["name"] for p in made["ports"]] == ["a", "b"]
    listed = _ok(api.client.get(f"{N}/ports?name=a&name=b&fields=id&fields=name&colour=red",
                                headers=api.demo))["ports"]
    assert sorted(p["name"] for p in listed) == ["a", "b"]
    assert all(set(p) == {"id", "name"} for p in listed)
    direct = _ok(api.client.get(f"{N}/ports?binding:vnic_type=direct&network_id={network_id}",
                                headers=api.demo))["ports"]
    assert [p["name"] for p in direct] == ["b"]
    by_ip = _ok(api.client.get(f"{N}/ports?fixed_ips=ip_address=10.0.0.2",
                               headers=api.demo))["ports"]
    assert [p["name"] for p in by_ip] == ["a"]
    shown = _ok(api.client.get(f"{N}/ports/{listed[0]['id']}?fields=status",
                               headers=api.demo))["port"]
    assert set(shown) == {"status"}
    up = _ok(api.client.get(f"{N}/networks?admin_state_up=True&shared=true",
                            headers=api.demo))["networks"]
    assert [n["id"] for n in up] == [network_id]


def test_other_projects_resources_are_404(api: Api) -> None:
    mine = _ok(api.client.post(f"{N}/networks", headers=api.demo,
                               json={"network": {"name": "demo-only"}}), 201)["network"]
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo,
                               json={"port": {"network_id": mine["id"]}}), 201)["port"]
    # demo cannot see what admin made in the admin project; admin sees demo's port
    admin_net = _ok(api.client.post(f"{N}/networks", headers=api.admin,
                                    json={"network": {"name": "admin-only"}}), 201)["network"]
    _error(api.client.get(f"{N}/networks/{admin_net['id']}", headers=api.demo), 404)
    names = [n["name"] for n in _ok(api.client.get(f"{N}/networks", headers=api.demo))[
        "networks"]]
    assert "admin-only" not in names and "demo-only" in names
    assert _ok(api.client.get(f"{N}/ports/{port['id']}", headers=api.admin))["port"][
        "project_id"] == api.demo_project_id


def test_security_groups_default_by_name_and_rules(api: Api) -> None:
    groups = _ok(api.client.get(f"{N}/security-groups?name=default",
                                headers=api.demo))["security_groups"]
    assert len(groups) == 1 and len(groups[0]["security_group_rules"]) == 4
    network_id, _ = _web(api)
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "security_groups": ["default"]}}), 201)["port"]
    assert port["security_groups"] == [groups[0]["id"]]
    web = _ok(api.client.post(f"{N}/security-groups", headers=api.demo, json={
        "security_group": {"name": "web"}}), 201)["security_group"]
    rule = _ok(api.client.post(f"{N}/security-group-rules", headers=api.demo, json={
        "security_group_rule": {"security_group_id": web["id"], "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 80,
                                "port_range_max": 80}}), 201)["security_group_rule"]
    assert rule["protocol"] == "tcp"
    _error(api.client.post(f"{N}/security-group-rules", headers=api.demo, json={
        "security_group_rule": {"security_group_id": web["id"], "direction": "sideways"}}),
        400)
    _error(api.client.delete(f"{N}/security-groups/{groups[0]['id']}", headers=api.demo),
           409)
    _ok(api.client.delete(f"{N}/security-groups/{web['id']}", headers=api.demo), 204)


def test_in_process_bind_port_raises_port_binding_failed(api: Api) -> None:
    network_id, _ = _web(api)
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct"}}), 201)["port"]
    with pytest.raises(Conflict) as err:
        api.services.network.bind_port(port["id"], "compute-9", "vm", "compute:nova",
                                       BindingProfile(PciAddress.parse("0000:81:10.1"),
                                                      "8086:10ca", "physnet1"))
    assert err.value.kind == "PortBindingFailed"


@pytest.mark.parametrize("path", ["ports/a%00b", "networks/a%00b", "subnets/%00",
                                  "security-groups/a%00", "security-group-rules/%00",
                                  "agents/%00"])
def test_nul_bytes_in_ids_are_404_not_database_errors(api: Api, path: str) -> None:
    _error(api.client.get(f"{N}/{path}", headers=api.admin), 404)


def test_nul_bytes_in_bodies_are_400_naming_the_field(api: Api) -> None:
    message = _error(api.client.post(f"{N}/networks", headers=api.demo,
                                     json={"network": {"name": "a\x00b"}}), 400)
    assert "name" in message and "NUL" in message


def test_updates_return_the_whole_object(api: Api) -> None:
    net = _ok(api.client.post(f"{N}/networks", headers=api.demo,
                              json={"network": {"name": "a"}}), 201)["network"]
    renamed = _ok(api.client.put(f"{N}/networks/{net['id']}", headers=api.demo,
                                 json={"network": {"name": "b"}}))["network"]
    assert renamed["name"] == "b" and renamed["revision_number"] == 2 and "mtu" in renamed
    _error(api.client.put(f"{N}/networks/{net['id']}", headers=api.admin, json={"network": {
        "provider:segmentation_id": 16}}), 400)
    group = _ok(api.client.post(f"{N}/security-groups", headers=api.demo, json={
        "security_group": {"name": "web"}}), 201)["security_group"]
    changed = _ok(api.client.put(f"{N}/security-groups/{group['id']}", headers=api.demo, json={
        "security_group": {"description": "http"}}))["security_group"]
    assert (changed["name"], changed["description"]) == ("web", "http")
    default = _ok(api.client.get(f"{N}/security-groups?name=default",
                                 headers=api.demo))["security_groups"][0]
    _error(api.client.put(f"{N}/security-groups/{default['id']}", headers=api.demo, json={
        "security_group": {"name": "other"}}), 409)


def test_propagate_uplink_status_is_off_by_default_settable_and_shown_to_the_owner(
        api: Api) -> None:
    aliases = {e["alias"] for e in _ok(api.client.get(f"{N}/extensions",
                                                      headers=api.demo))["extensions"]}
    assert {"uplink-status-propagation", "uplink-status-propagation-updatable"} <= aliases
    network_id, _ = _web(api)
    plain = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct"}}), 201)["port"]
    assert plain["propagate_uplink_status"] is False
    asked = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct",
        "propagate_uplink_status": True}}), 201)["port"]
    assert asked["propagate_uplink_status"] is True
    shown = _ok(api.client.get(f"{N}/ports/{asked['id']}", headers=api.demo))["port"]
    assert shown["propagate_uplink_status"] is True
    changed = _ok(api.client.put(f"{N}/ports/{plain['id']}", headers=api.demo, json={
        "port": {"propagate_uplink_status": True}}))["port"]
    assert changed["propagate_uplink_status"] is True
    assert changed["revision_number"] == plain["revision_number"] + 1
    message = _error(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "propagate_uplink_status": "sideways"}}), 400)
    assert "propagate_uplink_status" in message
