"""Compute microversions 2.1..2.79: the table, and each response-shape change on the APIs we
serve, asserted at the version before it and the version that brings it.

Shapes do not depend on the database, so these run on SQLite only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import VERSIONS, ApiVersion
from tests.api.compute.chapter import CIRROS_ID, boot_body
from tests.api.compute.test_compute_api import SERVER_KEYS



@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only (overrides the SQLite + PostgreSQL pair)."""
    return f"sqlite:///{tmp_path / 'sriovstack.db'}"


def at(headers: dict[str, str], version: str) -> dict[str, str]:
    return {**headers, "OpenStack-API-Version": f"compute {version}"}


def _boot(api: Any, headers: dict[str, str], version: str = "2.1", **extra: Any) -> str:
    body = boot_body()
    body["server"].update(extra)
    r = api.client.post("/compute/v2.1/servers", json=body, headers=at(headers, version))
    assert r.status_code == 202, r.text
    sid: str = r.json()["server"]["id"]
    return sid


def _show(api: Any, sid: str, version: str, headers: dict[str, str] | None = None
          ) -> dict[str, Any]:
    r = api.client.get(f"/compute/v2.1/servers/{sid}", headers=at(headers or api.admin, version))
    assert r.status_code == 200, r.text
    server: dict[str, Any] = r.json()["server"]
    return server


def test_the_table_runs_from_21_to_279_one_entry_per_version() -> None:
    assert [str(v.version) for v in VERSIONS] == [f"2.{n}" for n in range(1, 80)]
    assert all(v.change and v.here for v in VERSIONS)
    assert ApiVersion.parse("2.9") < ApiVersion.parse("2.10") < mv.MAX_VERSION
    assert str(mv.EMBEDDED_FLAVOR) == "2.47" and str(mv.LOCKED_REASON) == "2.73"


# (version, keys the admin's GET /servers/{id} gains at it)
STEPS = [
    ("2.3", {"OS-EXT-SRV-ATTR:reservation_id", "OS-EXT-SRV-ATTR:launch_index",
             "OS-EXT-SRV-ATTR:kernel_id", "OS-EXT-SRV-ATTR:ramdisk_id",
             "OS-EXT-SRV-ATTR:hostname", "OS-EXT-SRV-ATTR:root_device_name",
             "OS-EXT-SRV-ATTR:user_data"}),
    ("2.9", {"locked"}), ("2.16", {"host_status"}), ("2.19", {"description"}),
    ("2.26", {"tags"}), ("2.63", {"trusted_image_certificates"}),
    ("2.71", {"server_groups"}), ("2.73", {"locked_reason"}),
]


def test_each_version_adds_its_keys_to_the_server_and_no_others(api: Any,
                                                                compute_host: str) -> None:
    sid = _boot(api, api.admin)
    assert set(_show(api, sid, "2.1")) == SERVER_KEYS
    keys = set(SERVER_KEYS)
    for version, added in STEPS:
        before = ApiVersion.parse(version)
        previous = f"{before.major}.{before.minor - 1}"
        assert set(_show(api, sid, previous)) == keys, previous
        keys |= added
        assert set(_show(api, sid, version)) == keys, version
    assert set(_show(api, sid, "2.79")) == keys


def test_admin_only_keys_stay_hidden_from_members(api: Any, compute_host: str) -> None:
    sid = _boot(api, api.demo)
    server = _show(api, sid, "2.79", api.demo)
    assert "host_status" not in server and "OS-EXT-SRV-ATTR:hostname" not in server
    admin = _show(api, sid, "2.79")
    assert admin["host_status"] == "UP"  # compute-1 heartbeats and is enabled
    assert admin["OS-EXT-SRV-ATTR:hostname"] == "webserver01"


def test_the_values_of_the_added_keys(api: Any, compute_host: str) -> None:
    sid = _boot(api, api.admin, "2.19", description="front end")
    s = _show(api, sid, "2.79")
    assert (s["locked"], s["locked_reason"], s["description"]) == (False, None, "front end")
    assert (s["tags"], s["server_groups"], s["trusted_image_certificates"]) == ([], [], None)
    # 2.47: the flavor by value, without its id.
    assert s["flavor"] == {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0,
                           "original_name": "m1.tiny", "extra_specs": {}}
    assert _show(api, sid, "2.46")["flavor"]["id"] == "1"
    # 2.71's server_groups is on show only, not on the detail list.
    detail = api.client.get("/compute/v2.1/servers/detail",
                            headers=at(api.admin, "2.79")).json()["servers"]
    assert "server_groups" not in detail[0] and "locked_reason" in detail[0]


def test_lock_with_a_reason_blocks_members_not_admins(api: Any, compute_host: str) -> None:
    sid = _boot(api, api.demo)
    action = f"/compute/v2.1/servers/{sid}/action"
    r = api.client.post(action, json={"lock": {"locked_reason": "audit"}},
                        headers=at(api.demo, "2.72"))
    assert r.status_code == 400 and "locked_reason" in r.json()["badRequest"]["message"]
    r = api.client.post(action, json={"lock": {"locked_reason": "audit"}},
                        headers=at(api.demo, "2.73"))
    assert r.status_code == 202, r.text
    shown = _show(api, sid, "2.73", api.demo)
    assert (shown["locked"], shown["locked_reason"]) == (True, "audit")
    r = api.client.put(f"/compute/v2.1/servers/{sid}", json={"server": {"name": "x"}},
                       headers=api.demo)
    assert r.status_code == 409 and "is locked" in r.json()["conflictingRequest"]["message"]
    r = api.client.delete(f"/compute/v2.1/servers/{sid}", headers=api.demo)
    assert r.status_code == 409
    r = api.client.put(f"/compute/v2.1/servers/{sid}", json={"server": {"name": "renamed"}},
                       headers=api.admin)
    assert r.status_code == 200
    assert api.client.post(action, json={"unlock": None}, headers=api.demo).status_code == 202
    assert _show(api, sid, "2.73", api.demo)["locked"] is False


def test_put_renames_and_answers_the_whole_server_from_275(api: Any, compute_host: str) -> None:
    sid = _boot(api, api.admin)
    path = f"/compute/v2.1/servers/{sid}"
    r = api.client.put(path, json={"server": {"name": "vm-a"}}, headers=at(api.admin, "2.74"))
    assert r.status_code == 200 and r.json()["server"]["name"] == "vm-a"
    assert "OS-EXT-STS:vm_state" not in r.json()["server"]  # the basic view below 2.75
    r = api.client.put(path, json={"server": {"name": "vm-b", "description": "d"}},
                       headers=at(api.admin, "2.75"))
    assert r.status_code == 200
    assert r.json()["server"] == _show(api, sid, "2.75") | {"updated": r.json()["server"][
        "updated"]}
    assert _show(api, sid, "2.75")["description"] == "d"
    r = api.client.put(path, json={"server": {"description": "d"}}, headers=at(api.admin, "2.18"))
    assert r.status_code == 400 and "description" in r.json()["badRequest"]["message"]
    r = api.client.put(path, json={"server": {"name": "  "}}, headers=api.admin)
    assert r.status_code == 400


def _net(api: Any, name: str) -> str:
    r = api.client.post("/network/v2.0/networks", headers=api.demo,
                        json={"network": {"name": name}})
    assert r.status_code == 201, r.text
    net_id: str = r.json()["network"]["id"]
    r = api.client.post("/network/v2.0/subnets", headers=api.demo, json={"subnet": {
        "network_id": net_id, "cidr": "10.9.0.0/24" if name == "one" else "10.8.0.0/24",
        "ip_version": 4}})
    assert r.status_code == 201, r.text
    return net_id


def test_networks_are_required_from_237_with_auto_and_none(api: Any,
                                                          compute_host: str) -> None:
    body = {"server": {"name": "n", "imageRef": CIRROS_ID, "flavorRef": "1"}}
    post = "/compute/v2.1/servers"
    assert api.client.post(post, json=body, headers=at(api.demo, "2.36")).status_code == 202
    r = api.client.post(post, json=body, headers=at(api.demo, "2.37"))
    assert r.status_code == 400 and "networks" in r.json()["badRequest"]["message"]
    none = {"server": {**body["server"], "networks": "none"}}
    assert api.client.post(post, json=none, headers=at(api.demo, "2.36")).status_code == 400
    assert api.client.post(post, json=none, headers=at(api.demo, "2.37")).status_code == 202
    auto = {"server": {**body["server"], "networks": "auto"}}
    assert api.client.post(post, json=auto, headers=at(api.demo, "2.37")).status_code == 400
    one = _net(api, "one")
    r = api.client.post(post, json=auto, headers=at(api.demo, "2.37"))
    assert r.status_code == 202, r.text
    server = _show(api, r.json()["server"]["id"], "2.37", api.demo)
    assert list(server["addresses"]) == ["one"]
    ports = api.client.get(f"/network/v2.0/ports?network_id={one}", headers=api.demo).json()
    assert len(ports["ports"]) == 1
    _net(api, "two")
    r = api.client.post(post, json=auto, headers=at(api.demo, "2.37"))
    assert r.status_code == 409 and "Multiple possible networks" in r.text


@pytest.mark.parametrize("version, status", [
    ("2.31", 400), ("2.32", 202), ("2.36", 202), ("2.37", 400), ("2.41", 400), ("2.42", 202)])
def test_network_device_tags_follow_232_237_242(api: Any, version: str, status: int) -> None:
    net = _net(api, "one")
    body = {"server": {"name": "t", "imageRef": CIRROS_ID, "flavorRef": "1",
                       "networks": [{"uuid": net, "tag": "nic1"}]}}
    r = api.client.post("/compute/v2.1/servers", json=body, headers=at(api.demo, version))
    assert r.status_code == status, r.text


def test_create_fields_we_cannot_honour_are_refused_with_a_reason(api: Any) -> None:
    for version, extra, text in (("2.51", {"tags": ["a"]}, "'tags' was unexpected"),
                                 ("2.52", {"tags": ["a"]}, "tags are not supported"),
                                 ("2.73", {"host": "compute-1"}, "'host' was unexpected"),
                                 ("2.74", {"host": "compute-1"}, "'host' at create")):
        body = boot_body()
        body["server"].update(extra, networks="none")
        r = api.client.post("/compute/v2.1/servers", json=body, headers=at(api.demo, version))
        assert r.status_code == 400 and text in r.json()["badRequest"]["message"], r.text


def test_server_list_parameters_by_version(api: Any) -> None:
    for name in ("a", "b", "c"):
        _boot(api, api.demo, name=name)
    detail = "/compute/v2.1/servers/detail"
    r = api.client.get(f"{detail}?status=SLEEPY", headers=at(api.demo, "2.37"))
    assert r.status_code == 200 and r.json()["servers"] == []
    r = api.client.get(f"{detail}?status=SLEEPY", headers=at(api.demo, "2.38"))
    assert r.status_code == 400 and "status" in r.text
    r = api.client.get(f"{detail}?colour=red", headers=at(api.demo, "2.74"))
    assert r.status_code == 200 and len(r.json()["servers"]) == 3
    r = api.client.get(f"{detail}?colour=red", headers=at(api.demo, "2.75"))
    assert r.status_code == 400 and "colour" in r.json()["badRequest"]["message"]
    r = api.client.get(f"{detail}?ip=10.0.0.1", headers=api.demo)
    assert r.status_code == 400 and "'ip' is not supported" in r.text
    every = [s["id"] for s in api.client.get(detail, headers=api.demo).json()["servers"]]
    page = api.client.get(f"{detail}?limit=2", headers=api.demo).json()["servers"]
    rest = api.client.get(f"{detail}?marker={page[-1]['id']}", headers=api.demo).json()
    assert [s["id"] for s in page + rest["servers"]] == every and len(page) == 2
    assert api.client.get(f"{detail}?marker=nope", headers=api.demo).status_code == 400
    r = api.client.get(f"{detail}?deleted=True", headers=api.demo)
    assert r.json()["servers"] == []
    assert len(api.client.get(f"{detail}?flavor=1&image={CIRROS_ID}",
                              headers=api.demo).json()["servers"]) == 3
    assert api.client.get(f"{detail}?flavor=2", headers=api.demo).json()["servers"] == []


@pytest.mark.parametrize("version, swap, added", [
    ("2.1", "", set()), ("2.55", "", {"description"}),
    ("2.61", "", {"description", "extra_specs"}), ("2.75", 0, {"description", "extra_specs"})])
def test_flavor_shapes(api: Any, version: str, swap: Any, added: set[str]) -> None:
    r = api.client.get("/compute/v2.1/flavors/1", headers=at(api.demo, version))
    flavor = r.json()["flavor"]
    assert flavor["swap"] == swap
    base = {"id", "name", "ram", "disk", "vcpus", "swap", "OS-FLV-EXT-DATA:ephemeral",
            "OS-FLV-DISABLED:disabled", "os-flavor-access:is_public", "rxtx_factor", "links"}
    assert set(flavor) == base | added


def test_hypervisors_from_228_and_253(api: Any, compute_host: str) -> None:
    hv = "/compute/v2.1/os-hypervisors"
    [old] = api.client.get(f"{hv}/detail", headers=at(api.admin, "2.27")).json()["hypervisors"]
    [new] = api.client.get(f"{hv}/detail", headers=at(api.admin, "2.28")).json()["hypervisors"]
    assert isinstance(old["cpu_info"], str) and new["cpu_info"] == {}
    # 2.53: the hostname pattern and with_servers are query parameters; /search is gone.
    _boot(api, api.admin)
    r = api.client.get(f"{hv}?hypervisor_hostname_pattern=compute&with_servers=true",
                       headers=at(api.admin, "2.53"))
    [found] = r.json()["hypervisors"]
    assert found["hypervisor_hostname"] == "compute-1" and len(found["servers"]) == 1
    r = api.client.get(f"{hv}?hypervisor_hostname_pattern=nothing", headers=at(api.admin, "2.53"))
    assert r.status_code == 404
    assert api.client.get(f"{hv}/compute/search", headers=at(api.admin, "2.52")).status_code == 200
    assert api.client.get(f"{hv}/compute/search", headers=at(api.admin, "2.53")).status_code == 404
    r = api.client.get(f"{hv}?hypervisor_hostname_pattern=c&limit=1", headers=at(api.admin, "2.53"))
    assert r.status_code == 400
    r = api.client.get(f"{hv}?limit=0", headers=at(api.admin, "2.33"))
    assert r.json()["hypervisors"] == []


def test_negotiation_and_a_cached_token_take_no_trip_to_the_threadpool(api, monkeypatch):
    # Issue 14: negotiate is pure CPU and the token cache answers without the database, so
    # both run on the event loop; as sync dependencies they cost every compute request two
    # hops to a worker thread and back.
    import anyio.to_thread

    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    response = api.client.get("/compute/v2.1/flavors", headers=at(api.admin, "2.60"))
    assert response.status_code == 200
    assert response.headers["OpenStack-API-Version"] == "compute 2.60"
    ours = ("negotiate", "request_context", "TokenService.validate")
    assert not [hop for hop in hops if any(name in hop for name in ours)], hops
    # The handler is sync: it runs in the threadpool, once; its answer is checked against
    # the response model on the event loop, not on a second trip (api/routes.py one_hop).
    assert len(hops) == 1 and "list_flavors" in hops[0], hops
