"""Placement as osc-placement reads it: microversions 1.0-1.39, resource classes and traits
(standard, the physnet trait, custom), provider traits/aggregates/allocations, consumer
allocations, project usages and allocation candidates from the scheduler's own counts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.compute.chapter import PFS, boot_body, direct_port


def _get(api: Any, path: str, version: str = "1.39", who: str = "admin") -> Any:
    headers = {**getattr(api, who), "OpenStack-API-Version": f"placement {version}"}
    return api.client.get(f"/placement{path}", headers=headers)


def _tree(api: Any) -> dict[str, str]:
    return {rp["name"]: rp["uuid"]
            for rp in _get(api, "/resource_providers").json()["resource_providers"]}


@pytest.mark.parametrize("header, status, echoed", [
    (None, 200, "placement 1.0"), ("placement 1.39", 200, "placement 1.39"),
    ("placement latest", 200, "placement 1.39"), ("placement 1.40", 406, None),
    ("placement 2.0", 406, None), ("placement one", 400, None),
])
def test_microversions_are_negotiated_as_osc_placement_expects(api: Any, header: str | None,
                                                               status: int,
                                                               echoed: str | None) -> None:
    r = api.client.get("/placement/", headers={"OpenStack-API-Version": header}
                       if header else {})
    assert r.status_code == status, r.text
    if echoed:
        assert r.headers["OpenStack-API-Version"] == echoed
        assert r.json()["versions"][0]["max_version"] == "1.39"
    elif status == 406:  # osc-placement falls back to the max_version named here
        error = r.json()["errors"][0]
        assert (error["min_version"], error["max_version"]) == ("1.0", "1.39")


def test_parent_uuids_and_links_follow_the_microversion(api: Any, compute_host: str) -> None:
    old = _get(api, "/resource_providers", "1.0").json()["resource_providers"][0]
    assert "parent_provider_uuid" not in old and {l["rel"] for l in old["links"]} == {
        "self", "inventories", "usages"}
    new = _get(api, "/resource_providers", "1.14").json()["resource_providers"][0]
    assert "root_provider_uuid" in new and "traits" in {l["rel"] for l in new["links"]}
    assert _get(api, "/resource_classes", "1.1").status_code == 404  # a 1.2 call


def test_resource_classes_and_custom_ones(api: Any) -> None:
    names = [c["name"] for c in _get(api, "/resource_classes").json()["resource_classes"]]
    assert {"VCPU", "MEMORY_MB", "SRIOV_NET_VF", "PCI_DEVICE"} <= set(names)
    headers = {**api.admin, "OpenStack-API-Version": "placement 1.39"}
    assert api.client.put("/placement/resource_classes/CUSTOM_FPGA_X",
                          headers=headers).status_code == 201
    assert api.client.put("/placement/resource_classes/CUSTOM_FPGA_X",
                          headers=headers).status_code == 204
    r = api.client.post("/placement/resource_classes", headers=headers,
                        json={"name": "CUSTOM_FPGA_X"})
    assert r.status_code == 409
    assert _get(api, "/resource_classes/CUSTOM_FPGA_X").json()["name"] == "CUSTOM_FPGA_X"
    assert api.client.put("/placement/resource_classes/FPGA_X",
                          headers=headers).status_code == 400
    assert api.client.delete("/placement/resource_classes/VCPU",
                             headers=headers).status_code == 400
    assert api.client.delete("/placement/resource_classes/CUSTOM_FPGA_X",
                             headers=headers).status_code == 204
    assert _get(api, "/resource_classes/CUSTOM_FPGA_X").status_code == 404


def test_traits_include_the_pfs_physnet_and_custom_traits(api: Any, compute_host: str) -> None:
    tree = _tree(api)
    pf = tree[f"compute-1:{PFS[0]}"]
    body = _get(api, f"/resource_providers/{pf}/traits").json()
    assert "CUSTOM_PHYSNET_PHYSNET1" in body["traits"] and "HW_NIC_SRIOV" in body["traits"]
    assert "COMPUTE_NODE" in _get(api, f"/resource_providers/{tree['compute-1']}/traits"
                                  ).json()["traits"]
    headers = {**api.admin, "OpenStack-API-Version": "placement 1.39"}
    assert api.client.put("/placement/traits/CUSTOM_GOLD", headers=headers).status_code == 201
    assert _get(api, "/traits/CUSTOM_GOLD").status_code == 204
    assert _get(api, "/traits/CUSTOM_NOPE").status_code == 404
    custom = _get(api, "/traits?name=startswith:CUSTOM_").json()["traits"]
    assert custom == ["CUSTOM_GOLD", "CUSTOM_PHYSNET_PHYSNET1", "CUSTOM_VNIC_TYPE_DIRECT"]
    assert _get(api, "/traits?name=startswith:CUSTOM_&associated=false"
                ).json()["traits"] == ["CUSTOM_GOLD"]
    r = api.client.delete("/placement/traits/CUSTOM_PHYSNET_PHYSNET1", headers=headers)
    assert r.status_code == 409  # on a provider


def test_allocations_usages_and_candidates_follow_a_boot(api: Any, compute_host: str) -> None:
    tree = _tree(api)
    want = "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512,SRIOV_NET_VF:1"
    before = _get(api, want).json()
    assert len(before["allocation_requests"]) == 2  # one per PF with a free VF
    first = before["allocation_requests"][0]["allocations"]
    assert first[tree["compute-1"]]["resources"] == {"VCPU": 1, "MEMORY_MB": 512}
    summary = before["provider_summaries"][tree[f"compute-1:{PFS[0]}"]]
    assert summary["resources"]["SRIOV_NET_VF"] == {"capacity": 7, "used": 0}
    assert "CUSTOM_PHYSNET_PHYSNET1" in summary["traits"]

    port = direct_port(api)
    sid = api.client.post("/compute/v2.1/servers", json=boot_body(port["id"]),
                          headers=api.admin).json()["server"]["id"]
    mine = _get(api, f"/allocations/{sid}").json()
    assert mine["project_id"] == api.admin_project_id and mine["consumer_type"] == "INSTANCE"
    vf_rps = [rp for rp, a in mine["allocations"].items()
              if a["resources"] == {"SRIOV_NET_VF": 1}]
    assert len(vf_rps) == 1 and mine["allocations"][tree["compute-1"]]["resources"]["VCPU"] == 1
    on_pf = _get(api, f"/resource_providers/{vf_rps[0]}/allocations").json()
    assert on_pf["allocations"] == {sid: {"resources": {"SRIOV_NET_VF": 1}}}
    usages = _get(api, f"/usages?project_id={api.admin_project_id}", "1.9").json()["usages"]
    assert usages["SRIOV_NET_VF"] == 1 and usages["VCPU"] == 1
    grouped = _get(api, f"/usages?project_id={api.admin_project_id}").json()["usages"]
    assert grouped["INSTANCE"]["consumer_count"] == 1
    after = _get(api, want).json()["provider_summaries"][vf_rps[0]]
    assert after["resources"]["SRIOV_NET_VF"]["used"] == 1
    assert _get(api, "/resource_providers/" + tree["compute-1"] + "/aggregates"
                ).json() == {"aggregates": [], "resource_provider_generation": on_pf[
                    "resource_provider_generation"]}


@pytest.mark.parametrize("query, count", [
    ("resources=SRIOV_NET_VF:7", 2),
    ("resources=SRIOV_NET_VF:8", 0),  # no PF has 8 VFs: one class comes from one provider
    ("resources=SRIOV_NET_VF:1&required=CUSTOM_PHYSNET_PHYSNET1", 2),
    ("resources=SRIOV_NET_VF:1&required=!CUSTOM_PHYSNET_PHYSNET1", 0),
    ("resources=SRIOV_NET_VF:1&required=in:CUSTOM_PHYSNET_PHYSNET1,HW_NUMA_ROOT", 2),
    ("resources=VCPU:1&limit=1", 1),
    ("resources=VCPU:17", 0),
])
def test_allocation_candidates_filter_by_room_and_traits(api: Any, compute_host: str,
                                                         query: str, count: int) -> None:
    body = _get(api, f"/allocation_candidates?{query}").json()
    assert len(body["allocation_requests"]) == count, body


@pytest.mark.parametrize("query, words", [
    ("resources=VCPU", "Badly formed resources"),
    ("resources=NOPE:1", "No such resource class NOPE"),
    ("resources=VCPU:1&required=CUSTOM_NOPE", "No such trait(s): CUSTOM_NOPE"),
    ("resources1=VCPU:1", "Granular request groups"),
    ("", "'resources' is a required property"),
])
def test_bad_candidate_queries_are_400_in_placements_envelope(api: Any, query: str,
                                                              words: str) -> None:
    r = _get(api, f"/allocation_candidates?{query}")
    assert r.status_code == 400 and words in r.json()["errors"][0]["detail"], r.text


def test_placement_is_admin_only(api: Any) -> None:
    assert _get(api, "/traits", who="demo").status_code == 403
    assert _get(api, "/allocation_candidates?resources=VCPU:1", who="demo").status_code == 403
