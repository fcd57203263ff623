"""GET /metrics: the VF gauges agree with os-sriov-hosts (``host show``) through boots and
deletes; scheduler decisions, no-valid-host by filter and request durations are counted; a
configured bearer token is required when set."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete

from sriovstack.api import create_app
from sriovstack.db.models.compute import ServerRow
from tests.api.compute.chapter import boot_body, direct_port, register_host


def scrape(api: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """name → list of (labels, value), read back with prometheus_client's parser."""
    r = api.client.get("/metrics", headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def gauge(metrics: dict[str, Any], name: str, **labels: str) -> float:
    [value] = [v for got, v in metrics.get(name, []) if labels.items() <= got.items()]
    return float(value)


def host_show(api: Any, host: str = "compute-1") -> dict[str, Any]:
    r = api.client.get(f"/compute/v2.1/os-sriov-hosts/{host}", headers=api.admin)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["host"]
    return body


def assert_agrees_with_host_show(api: Any) -> None:
    metrics, shown = scrape(api), host_show(api)
    for usage in shown["physnets"]:
        labels = {"host": "compute-1", "physnet": usage["physnet"]}
        assert gauge(metrics, "sriovstack_physnet_vfs", **labels) == usage["total"]
        assert gauge(metrics, "sriovstack_physnet_vfs_used", **labels) == usage["used"]
        assert gauge(metrics, "sriovstack_physnet_vfs_free", **labels) == usage["free"]
        assert gauge(metrics, "sriovstack_physnet_vfs_unhealthy", **labels) == 0
    vfs = {labels["vf"]: labels for labels, value in metrics["sriovstack_vf_info"]
           if value == 1}
    shown_vfs = {d["address"]: d for d in shown["devices"] if d["dev_type"] == "type-VF"}
    assert vfs.keys() == shown_vfs.keys()
    for address, device in shown_vfs.items():
        labels = vfs[address]
        assert (labels["pf"], labels["status"], labels["server"], labels["port"]) == (
            device["parent_addr"], device["status"], device["server_id"] or "",
            device["port_id"] or "")
    for pf in {d["parent_addr"] for d in shown_vfs.values()}:
        mine = [d for d in shown_vfs.values() if d["parent_addr"] == pf]
        assert gauge(metrics, "sriovstack_pf_vfs", host="compute-1", pf=pf) == len(mine)
        assert gauge(metrics, "sriovstack_pf_vfs_free", host="compute-1", pf=pf) == sum(
            d["status"] == "available" for d in mine)


def member_port(api: Any, headers: dict[str, str], segment: int) -> dict[str, Any]:
    """A direct port of the caller's project on a shared vlan network of physnet1."""
    network_id = direct_port(api, segment)["network_id"]
    r = api.client.put(f"/network/v2.0/networks/{network_id}", headers=api.admin,
                       json={"network": {"shared": True}})
    assert r.status_code == 200, r.text
    r = api.client.post("/network/v2.0/ports", headers=headers, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct"}})
    assert r.status_code == 201, r.text
    port: dict[str, Any] = r.json()["port"]
    return port


def test_vf_series_follow_host_show_through_boots_and_deletes(api: Any) -> None:
    register_host(api)
    assert_agrees_with_host_show(api)
    servers = []
    for n, who in enumerate((api.admin, api.demo)):
        port = member_port(api, who, 15 + n)
        r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"], f"web{n}"),
                            headers=who)
        assert r.status_code == 202, r.text
        servers.append((r.json()["server"]["id"], port["id"], who))
    metrics = scrape(api)
    assert gauge(metrics, "sriovstack_physnet_vfs_used", host="compute-1",
                 physnet="physnet1") == 2
    held = {labels["server"]: labels for labels, _ in metrics["sriovstack_vf_info"]
            if labels["server"]}
    assert {(s, held[s]["port"]) for s, _, _ in servers} == {(s, p) for s, p, _ in servers}
    assert held[servers[0][0]]["project"] == api.admin_project_id
    assert held[servers[1][0]]["project"] == api.demo_project_id
    assert_agrees_with_host_show(api)

    r = api.client.delete(f"/compute/v2.1/servers/{servers[0][0]}", headers=api.admin)
    assert r.status_code == 204
    assert gauge(scrape(api), "sriovstack_physnet_vfs_free", host="compute-1",
                 physnet="physnet1") == 13
    assert_agrees_with_host_show(api)


def test_decisions_no_valid_host_by_filter_and_request_durations_are_counted(api: Any) -> None:
    register_host(api)
    port = direct_port(api)
    api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    api.services.hosts.set_enabled("compute-1", False, "maintenance")
    other = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": port["network_id"], "binding:vnic_type": "direct"}}).json()["port"]
    r = api.client.post("/compute/v2.1/servers", json=boot_body(other["id"], "web-late"),
                        headers=api.admin)
    assert r.status_code == 202
    assert api.client.get(f"/network/v2.0/ports/{other['id']}", headers=api.admin).is_success
    metrics = scrape(api)
    assert gauge(metrics, "sriovstack_scheduler_decisions_total", outcome="placed") == 1
    assert gauge(metrics, "sriovstack_scheduler_decisions_total", outcome="no_valid_host") == 1
    assert gauge(metrics, "sriovstack_scheduler_no_valid_host_filter_total",
                 filter="ComputeFilter") == 1
    assert gauge(metrics, "sriovstack_scheduler_decision_duration_seconds_count") == 2
    assert gauge(metrics, "sriovstack_hosts", up="true", enabled="false") == 1
    # Routes are templates, not raw paths: one series for every server's POST.
    assert gauge(metrics, "sriovstack_api_request_duration_seconds_count",
                 route="/compute/v2.1/servers", method="POST", status="202") == 2
    assert gauge(metrics, "sriovstack_api_request_duration_seconds_count",
                 route="/network/v2.0/ports", method="POST", status="201") == 2
    assert gauge(metrics, "sriovstack_api_request_duration_seconds_count",
                 route="/network/v2.0/ports/{port_id}", method="GET", status="200") == 1
    assert gauge(metrics, "sriovstack_host_heartbeat_age_seconds", host="compute-1") >= 0
    assert gauge(metrics, "sriovstack_agent_heartbeat_age_seconds", host="compute-1",
                 agent_type="NIC Switch agent") >= 0


def test_a_scrape_needs_no_keystone_token(api: Any) -> None:
    assert api.client.get("/metrics").status_code == 200


def test_a_configured_bearer_token_is_required(api: Any) -> None:
    token = "s3cret-metrics-token-0123"
    settings = dataclasses.replace(api.services.settings, metrics_token=token)
    services = dataclasses.replace(api.services, settings=settings)
    with TestClient(create_app(settings, services)) as client:
        assert client.get("/metrics").status_code == 401
        bad = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401 and "bearer token" in bad.text
        assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}
                          ).status_code == 200


@pytest.mark.parametrize("token", ["short", "has a space in it ok", "x" * 15])
def test_a_weak_metrics_token_stops_the_api_at_start(api: Any, token: str) -> None:
    from sriovstack.errors import ConfigError
    with pytest.raises(ConfigError, match="metrics bearer token"):
        dataclasses.replace(api.services.settings, metrics_token=token)


def test_audit_findings_repairs_and_last_run_are_exported(api: Any) -> None:
    register_host(api)
    port = direct_port(api)
    r = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]), headers=api.admin)
    assert r.status_code == 202, r.text
    server_id = r.json()["server"]["id"]
    assert "sriovstack_audit_findings" not in scrape(api)  # no run yet: no stale zeros
    # A real inconsistency: the server's row goes, its VF claim, allocation and port stay.
    with api.services.db.transaction() as s:
        s.execute(delete(ServerRow).where(ServerRow.id == server_id))
    r = api.client.get("/compute/v2.1/os-sriov-audit", headers=api.admin)
    assert r.status_code == 200, r.text
    metrics = scrape(api)
    found = {labels["check"]: value for labels, value in metrics["sriovstack_audit_findings"]}
    assert found == {"vf-owner-missing": 1, "allocation-owner-missing": 1,
                     "port-server-missing": 1, "server-without-vf": 0,
                     "port-vf-not-owned": 0, "usage-differs": 0}
    assert gauge(metrics, "sriovstack_audit_runs_total") == 1
    assert gauge(metrics, "sriovstack_audit_last_run_timestamp_seconds") == \
        api.services.clock.now().timestamp()
    assert "sriovstack_audit_repairs_total" not in metrics  # nothing repaired yet

    r = api.client.post("/compute/v2.1/os-sriov-audit/repair", headers=api.admin)
    assert r.status_code == 200, r.text
    metrics = scrape(api)
    repairs = {labels["check"]: value
               for labels, value in metrics["sriovstack_audit_repairs_total"]}
    assert repairs == {"vf-owner-missing": 1, "allocation-owner-missing": 1,
                       "port-server-missing": 1}
    assert gauge(metrics, "sriovstack_audit_runs_total") == 2
    api.client.get("/compute/v2.1/os-sriov-audit", headers=api.admin)
    metrics = scrape(api)
    assert {value for _, value in metrics["sriovstack_audit_findings"]} == {0}
    assert gauge(metrics, "sriovstack_audit_repairs_total", check="vf-owner-missing") == 1
