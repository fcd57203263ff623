"""/v2.0/quotas: neutron's defaults, show/default/details for the project's members, update
and reset for admins, and the 409 OverQuota a create over the limit gets (nothing made)."""

from __future__ import annotations

from typing import Any

import pytest

N = "/network/v2.0"
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "security_group": 10,
            "security_group_rule": 100}


def test_a_member_reads_its_projects_quota_and_defaults(api: Any) -> None:
    c, p = api.client, api.demo_project_id
    r = c.get(f"{N}/quotas/{p}", headers=api.demo)
    assert r.status_code == 200, r.text
    assert r.json() == {"quota": DEFAULTS}
    assert c.get(f"{N}/quotas/{p}/default", headers=api.demo).json() == {"quota": DEFAULTS}
    details = c.get(f"{N}/quotas/{p}/details", headers=api.demo).json()["quota"]
    assert details["network"] == {"limit": 100, "used": 0, "reserved": 0}
    r = c.get(f"{N}/quotas/{api.admin_project_id}", headers=api.demo)
    assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert c.put(f"{N}/quotas/{p}", headers=api.demo,
                 json={"quota": {"network": 1}}).status_code == 403
    assert c.get(f"{N}/quotas", headers=api.demo).status_code == 403


def test_admin_sets_lists_and_resets(api: Any) -> None:
    c, p = api.client, api.demo_project_id
    r = c.put(f"{N}/quotas/{p}", headers=api.admin, json={"quota": {"network": "3", "port": 7}})
    assert r.status_code == 200, r.text
    assert r.json()["quota"] == {**DEFAULTS, "network": 3, "port": 7}
    [listed] = c.get(f"{N}/quotas", headers=api.admin).json()["quotas"]
    assert listed["project_id"] == p and listed["network"] == 3
    assert c.delete(f"{N}/quotas/{p}", headers=api.admin).status_code == 204
    assert c.get(f"{N}/quotas/{p}", headers=api.demo).json() == {"quota": DEFAULTS}
    assert c.get(f"{N}/quotas", headers=api.admin).json() == {"quotas": []}


@pytest.mark.parametrize("bad", [{"network": -2}, {"network": "lots"}, {"router": 5}])
def test_bad_values_are_400(api: Any, bad: dict[str, Any]) -> None:
    r = api.client.put(f"{N}/quotas/{api.demo_project_id}", headers=api.admin,
                       json={"quota": bad})
    assert r.status_code == 400, r.text
    assert r.json()["NeutronError"]["message"]


def test_creates_over_quota_are_409_over_quota_and_make_nothing(api: Any) -> None:
    c, p = api.client, api.demo_project_id
    c.put(f"{N}/quotas/{p}", headers=api.admin, json={"quota": {
        "network": 1, "subnet": 1, "port": 1, "security_group": 1,
        "security_group_rule": 3}})
    net = c.post(f"{N}/networks", headers=api.demo, json={"network": {"name": "a"}})
    assert net.status_code == 201, net.text
    r = c.post(f"{N}/networks", headers=api.demo, json={"network": {"name": "b"}})
    assert r.status_code == 409, r.text
    error = r.json()["NeutronError"]
    assert error["type"] == "OverQuota"
    assert error["message"].startswith("Quota exceeded for resources: ['network']. (fix: ")
    assert "openstack quota set --networks" in error["message"]
    assert [n["name"] for n in c.get(f"{N}/networks", headers=api.demo).json()[
        "networks"]] == ["a"]
    net_id = net.json()["network"]["id"]
    assert c.post(f"{N}/subnets", headers=api.demo, json={"subnet": {
        "network_id": net_id, "cidr": "10.1.0.0/24", "ip_version": 4}}).status_code == 201
    r = c.post(f"{N}/subnets", headers=api.demo, json={"subnet": {
        "network_id": net_id, "cidr": "10.2.0.0/24", "ip_version": 4}})
    assert r.status_code == 409 and "'subnet'" in r.text
    # Bulk: two ports against a limit of one are refused together.
    r = c.post(f"{N}/ports", headers=api.demo, json={"ports": [
        {"network_id": net_id}, {"network_id": net_id}]})
    assert r.status_code == 409 and "'port'" in r.text
    assert c.get(f"{N}/ports", headers=api.demo).json()["ports"] == []
    # The default group is neutron's own and does not count against creating it.
    sg = c.post(f"{N}/security-groups", headers=api.demo,
                json={"security_group": {"name": "web"}})
    assert sg.status_code == 409 and "'security_group'" in sg.text
    details = c.get(f"{N}/quotas/{p}/details", headers=api.demo).json()["quota"]
    assert details["network"]["used"] == 1 and details["port"]["used"] == 0


def test_the_extensions_are_listed(api: Any) -> None:
    aliases = {e["alias"] for e in api.client.get(f"{N}/extensions",
                                                  headers=api.demo).json()["extensions"]}
    assert {"quotas", "quota_details"} <= aliases
