"""Compute v2.1 over HTTP: version documents and microversion negotiation, flavors, servers
(create shapes OSC and the SDK send, list/detail/show, name lookup, delete, fault, actions),
os-hypervisors at 2.1, aggregates and availability zones, and nova's error envelopes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import CIRROS_ID, boot_body, direct_port

# openstack_api_compat.md §4.4: the 2.1 server keys tempest's schema accepted.
SERVER_KEYS = {
    "id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image", "flavor",
    "created", "updated", "addresses", "accessIPv4", "accessIPv6", "links",
    "OS-DCF:diskConfig", "progress", "config_drive", "key_name",
    "OS-EXT-AZ:availability_zone", "OS-EXT-STS:power_state", "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state", "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
    "OS-EXT-SRV-ATTR:instance_name", "OS-SRV-USG:launched_at", "OS-SRV-USG:terminated_at",
    "os-extended-volumes:volumes_attached", "security_groups"}
# §4.5: hypervisor detail at 2.1, exactly.
HYPERVISOR_KEYS = {
    "id", "hypervisor_hostname", "state", "status", "hypervisor_type", "hypervisor_version",
    "host_ip", "service", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
    "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
    "disk_available_least", "cpu_info"}


def test_version_documents_need_no_token_and_list_v20_first(api: Any) -> None:
    root = api.client.get("/compute/")
    assert root.status_code == 200
    assert [v["id"] for v in root.json()["versions"]] == ["v2.0", "v2.1"]
    doc = api.client.get("/compute/v2.1").json()["version"]
    assert (doc["id"], doc["version"], doc["min_version"]) == ("v2.1", "2.79", "2.1")
    assert doc["links"][0]["href"] == "http://testserver/compute/v2.1/"


def test_every_version_self_link_reaches_its_own_document(api: Any) -> None:
    """What tempest's test_get_version_details walks: each listed version's self link
    answers 200 with a document whose self link is the same."""
    for version in api.client.get("/compute/").json()["versions"]:
        (self_link,) = [link["href"] for link in version["links"] if link["rel"] == "self"]
        r = api.client.get(self_link.removeprefix("http://testserver"))
        assert r.status_code == 200, (self_link, r.text)
        doc = r.json()["version"]
        assert doc["id"] == version["id"]
        assert [link["href"] for link in doc["links"] if link["rel"] == "self"] == [self_link]


@pytest.mark.parametrize("headers, echoed", [
    ({}, "2.1"),
    ({"OpenStack-API-Version": "compute 2.1"}, "2.1"),
    ({"X-OpenStack-Nova-API-Version": "2.1"}, "2.1"),
    ({"OpenStack-API-Version": "compute 2.47"}, "2.47"),
    ({"X-OpenStack-Nova-API-Version": "2.79"}, "2.79"),
    ({"OpenStack-API-Version": "compute latest"}, "2.79"),
    ({"OpenStack-API-Version": "identity 3.0, compute 2.9"}, "2.9"),
])
def test_microversion_headers_are_echoed(api: Any, headers: dict[str, str], echoed: str) -> None:
    r = api.client.get("/compute/v2.1/flavors", headers={**api.demo, **headers})
    assert r.status_code == 200
    assert r.headers["OpenStack-API-Version"] == f"compute {echoed}"
    assert r.headers["X-OpenStack-Nova-API-Version"] == echoed
    assert "OpenStack-API-Version" in r.headers["Vary"]


# Nova answers an unsupported microversion with HTTPNotAcceptable, which its Fault wrapper
# (nova/api/openstack/wsgi.py) names "computeFault" (406 is not in its table); a malformed
# version is HTTPBadRequest, "badRequest".
@pytest.mark.parametrize("headers, status, fault", [
    ({"OpenStack-API-Version": "compute 2.80"}, 406, "computeFault"),
    ({"OpenStack-API-Version": "compute 2.0"}, 406, "computeFault"),
    ({"X-OpenStack-Nova-API-Version": "2.100"}, 406, "computeFault"),
    ({"OpenStack-API-Version": "compute 3.0"}, 406, "computeFault"),
    ({"OpenStack-API-Version": "compute two"}, 400, "badRequest"),
])
def test_versions_outside_21_to_279_are_refused_as_nova_does(api: Any, headers: dict[str, str],
                                                      status: int, fault: str) -> None:
    r = api.client.get("/compute/v2.1/flavors", headers={**api.demo, **headers})
    assert r.status_code == status
    [(key, body)] = r.json().items()
    assert key == fault
    assert body["code"] == status and "2.79" in body["message"]


def test_the_406_body_is_novas_word_for_word(api: Any) -> None:
    """The 406 comes through api/errors.py (NotAcceptable), with nova's exact body."""
    r = api.client.get("/compute/v2.1/flavors",
                       headers={**api.demo, "OpenStack-API-Version": "compute 2.100"})
    assert r.status_code == 406
    assert r.json() == {"computeFault": {"code": 406, "message": (
        "Version 2.100 is not supported by the API. Minimum is 2.1 and maximum is 2.79.")}}
    assert r.headers["x-compute-request-id"].startswith("req-")


def test_flavors_are_seeded_and_list_shows_only_id_name_links(api: Any) -> None:
    brief = api.client.get("/compute/v2.1/flavors", headers=api.demo).json()["flavors"]
    assert [(f["id"], f["name"]) for f in brief] == [
        ("1", "m1.tiny"), ("2", "m1.small"), ("3", "m1.medium"), ("4", "m1.large"),
        ("5", "m1.xlarge")]
    assert all(set(f) == {"id", "name", "links"} for f in brief)
    tiny = api.client.get("/compute/v2.1/flavors/1", headers=api.demo).json()["flavor"]
    assert (tiny["ram"], tiny["vcpus"], tiny["disk"], tiny["swap"]) == (512, 1, 1, "")
    assert tiny["os-flavor-access:is_public"] is True


def test_flavor_extra_specs_are_empty_and_unknown_flavors_404(api: Any) -> None:
    # Regression: `openstack flavor show m1.tiny` reads os-extra_specs; a 404 failed the command.
    r = api.client.get("/compute/v2.1/flavors/1/os-extra_specs", headers=api.demo)
    assert r.status_code == 200 and r.json() == {"extra_specs": {}}
    r = api.client.get("/compute/v2.1/flavors/99/os-extra_specs", headers=api.demo)
    assert r.status_code == 404 and r.json()["itemNotFound"]["code"] == 404


@pytest.mark.parametrize("query, ids", [
    ("is_public=None", ["1", "2", "3", "4", "5"]),
    ("minRam=4096", ["3", "4", "5"]),
    ("minDisk=80&limit=1", ["4"]),
    ("marker=3", ["4", "5"]),
])
def test_flavor_filters(api: Any, query: str, ids: list[str]) -> None:
    r = api.client.get(f"/compute/v2.1/flavors/detail?{query}", headers=api.admin)
    assert [f["id"] for f in r.json()["flavors"]] == ids


@pytest.mark.parametrize("path, status, key", [
    ("/compute/v2.1/flavors/m1.small", 404, "itemNotFound"),
    ("/compute/v2.1/flavors/detail?minRam=lots", 400, "badRequest"),
    ("/compute/v2.1/flavors/detail?marker=99", 400, "badRequest"),
    ("/compute/v2.1/servers/vm1", 404, "itemNotFound"),
])
def test_lookups_by_name_and_bad_filters_get_novas_envelope(api: Any, path: str, status: int,
                                                            key: str) -> None:
    r = api.client.get(path, headers=api.demo)
    assert r.status_code == status and r.json()[key]["code"] == status
    assert r.headers["x-compute-request-id"] == r.headers["x-openstack-request-id"]


def test_create_answers_202_then_show_has_the_21_field_set(api: Any, compute_host: str) -> None:
    port = direct_port(api)
    r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    assert r.status_code == 202, r.text
    created = r.json()["server"]
    assert set(created) == {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}
    server = api.client.get(f"/compute/v2.1/servers/{created['id']}",
                            headers=api.admin).json()["server"]
    assert set(server) == SERVER_KEYS
    assert server["status"] == "BUILD" and server["image"]["id"] == CIRROS_ID
    assert server["flavor"]["id"] == "1"
    [addr] = server["addresses"]["web"]
    assert addr["OS-EXT-IPS-MAC:mac_addr"] == port["mac_address"] and addr["version"] == 4


def test_sdk_shape_with_a_network_uuid_and_no_bdm(api: Any, compute_host: str) -> None:
    port = direct_port(api)
    body = {"server": {"name": "sdkvm", "imageRef": CIRROS_ID, "flavorRef": "1",
                       "networks": [{"uuid": port["network_id"]}]}}
    r = api.client.post("/compute/v2.1/servers", json=body, headers=api.admin)
    assert r.status_code == 202, r.text
    server = api.client.get(f"/compute/v2.1/servers/{r.json()['server']['id']}",
                            headers=api.admin).json()["server"]
    assert server["OS-EXT-SRV-ATTR:host"] == "compute-1"  # a normal (ovs) port: no VF needed


def test_name_lookup_is_a_regex_and_lists_are_project_scoped(api: Any) -> None:
    for name in ("vm1", "vm10", "db"):
        body = {"server": {"name": name, "imageRef": CIRROS_ID, "flavorRef": "1"}}
        assert api.client.post("/compute/v2.1/servers", json=body,
                               headers=api.demo).status_code == 202
    found = api.client.get("/compute/v2.1/servers/detail?name=vm1",
                           headers=api.demo).json()["servers"]
    assert sorted(s["name"] for s in found) == ["vm1", "vm10"]
    brief = api.client.get("/compute/v2.1/servers?deleted=False", headers=api.demo).json()
    assert all(set(s) == {"id", "name", "links"} for s in brief["servers"])
    assert api.client.get("/compute/v2.1/servers", headers=api.admin).json()["servers"] == []
    every = api.client.get("/compute/v2.1/servers?all_tenants=1", headers=api.admin).json()
    assert len(every["servers"]) == 3


def test_delete_is_204_then_404(api: Any, compute_host: str) -> None:
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    r = api.client.delete(f"/compute/v2.1/servers/{sid}", headers=api.admin)
    assert r.status_code == 204 and r.content == b""
    assert api.client.get(f"/compute/v2.1/servers/{sid}", headers=api.admin).status_code == 404
    assert api.client.delete(f"/compute/v2.1/servers/{sid}",
                             headers=api.admin).status_code == 404


def test_no_host_means_error_with_a_fault_naming_the_filter(api: Any) -> None:
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    server = api.client.get(f"/compute/v2.1/servers/{sid}", headers=api.admin).json()["server"]
    assert server["status"] == "ERROR"
    assert set(server["fault"]) == {"code", "message", "created"}
    assert server["fault"]["code"] == 500
    assert server["fault"]["message"].startswith("No valid host was found.")


def test_port_in_use_is_409_with_novas_message(api: Any, compute_host: str) -> None:
    port = direct_port(api)
    api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"], "vm2"),
                        headers=api.admin)
    assert r.status_code == 409
    assert r.json() == {"conflictingRequest": {
        "code": 409, "message": f"Port {port['id']} is still in use."}}


@pytest.mark.parametrize("action, status, text", [
    ({"migrate": None}, 409, "while it is in task_state spawning"),
    ({"os-migrateLive": {"host": None, "block_migration": False, "disk_over_commit": False}},
     409, "while it is in task_state spawning"),
    ({"resize": {"flavorRef": "2"}}, 409, "while it is in task_state spawning"),
    ({"confirmResize": None}, 409, "while it is in task_state spawning"),
    ({"resize": {}}, 400, "flavorRef"),
    ({"os-migrateLive": {"host": None, "block_migration": "auto"}}, 400, "2.25"),
    ({"shelve": None}, 409, "spawning"),  # shelve landed with i11-attach
    ({"reboot": {"type": "SOFT"}}, 409, "while it is in task_state spawning"),
    ({}, 400, "exactly one action"),
])
def test_actions_on_an_sriov_server(api: Any, compute_host: str, action: dict[str, Any],
                                    status: int, text: str) -> None:
    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    r = api.client.post(f"/compute/v2.1/servers/{sid}/action", json=action, headers=api.admin)
    assert r.status_code == status
    [(_key, body)] = r.json().items()
    assert text in body["message"]


@pytest.mark.parametrize("server, text", [
    ({"name": "vm", "flavorRef": "1", "imageRef": CIRROS_ID, "colour": "red"}, "colour"),
    ({"name": "vm", "imageRef": CIRROS_ID}, "flavorRef"),
    ({"name": "", "flavorRef": "1", "imageRef": CIRROS_ID}, "name"),
    ({"name": "vm", "flavorRef": "9", "imageRef": CIRROS_ID}, "Flavor 9 could not be found"),
    ({"name": "vm", "flavorRef": "1", "imageRef": "cirros"}, "Can not find requested image"),
    ({"name": "vm", "flavorRef": "1", "imageRef": CIRROS_ID, "max_count": 2}, "max_count"),
    ({"name": "vm", "flavorRef": "1", "imageRef": CIRROS_ID,
      "networks": [{"port": "a", "uuid": "b"}]}, "exactly one of 'port' or 'uuid'"),
    ({"name": "vm", "flavorRef": "1", "imageRef": "",
      "block_device_mapping_v2": [{"source_type": "volume", "destination_type": "volume",
                                   "uuid": "v", "boot_index": 0}]}, "block storage"),
])
def test_bad_create_bodies_are_400_naming_the_field(api: Any, server: dict[str, Any],
                                                    text: str) -> None:
    r = api.client.post("/compute/v2.1/servers", json={"server": server}, headers=api.demo)
    assert r.status_code == 400, r.text
    assert text in r.json()["badRequest"]["message"]


def test_servers_need_a_token(api: Any) -> None:
    r = api.client.post("/compute/v2.1/servers", json=boot_body(), headers={})
    assert r.status_code == 401 and r.json()["unauthorized"]["code"] == 401


def test_hypervisors_at_21_have_exactly_novas_keys(api: Any, compute_host: str) -> None:
    listing = api.client.get("/compute/v2.1/os-hypervisors", headers=api.admin).json()
    [brief] = listing["hypervisors"]
    assert set(brief) == {"id", "hypervisor_hostname", "state", "status"}
    assert (brief["hypervisor_hostname"], brief["state"], brief["status"]) == \
        ("compute-1", "up", "enabled")
    [detail] = api.client.get("/compute/v2.1/os-hypervisors/detail",
                              headers=api.admin).json()["hypervisors"]
    assert set(detail) == HYPERVISOR_KEYS
    assert (detail["vcpus"], detail["memory_mb"], detail["host_ip"]) == (16, 32768, "192.0.2.11")
    assert isinstance(detail["cpu_info"], str)
    show = api.client.get(f"/compute/v2.1/os-hypervisors/{brief['id']}", headers=api.admin)
    assert show.json()["hypervisor"] == detail
    uptime = api.client.get(f"/compute/v2.1/os-hypervisors/{brief['id']}/uptime",
                            headers=api.admin).json()["hypervisor"]
    assert set(uptime) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert api.client.get("/compute/v2.1/os-hypervisors/compute-1",
                          headers=api.admin).status_code == 404
    stats = api.client.get("/compute/v2.1/os-hypervisors/statistics",
                           headers=api.admin).json()["hypervisor_statistics"]
    assert stats["count"] == 1 and stats["vcpus"] == 16


def test_hypervisors_and_aggregates_are_admin_only(api: Any) -> None:
    for path in ("/compute/v2.1/os-hypervisors", "/compute/v2.1/os-aggregates"):
        r = api.client.get(path, headers=api.demo)
        assert r.status_code == 403 and r.json()["forbidden"]["code"] == 403
    assert api.client.get("/compute/v2.1/os-aggregates",
                          headers=api.admin).json() == {"aggregates": []}


def test_availability_zones(api: Any, compute_host: str) -> None:
    r = api.client.get("/compute/v2.1/os-availability-zone", headers=api.demo)
    assert r.json() == {"availabilityZoneInfo": [
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]}
