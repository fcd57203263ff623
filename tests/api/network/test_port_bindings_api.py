"""Multiple port bindings (``binding-extended``) over the API: a compute port bound on
compute-1 gets an INACTIVE binding on compute-2 (bound by sriovnicswitch: hw_veb, vlan 15,
the target VF in its profile), which activation swaps with the active one; every refusal
in neutron's shape (403 policy, 404 PortNotFound/PortBindingNotFound, 409
PortBindingAlreadyExists/AlreadyActive/PortBindingError, 400 body and non-compute ports);
deleting the ACTIVE binding, as neutron allows, leaves the port unbound but its server's."""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat
from tests.api.network.test_network_api import N, _error, _ok, _web
from tests.conftest import Api

SOURCE = {"pci_slot": "0000:81:10.1", "pci_vendor_info": "8086:10ca",
          "physical_network": "physnet1"}
# The whole walk runs on both databases; the refusals need only one.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TARGET = {"pci_slot": "0000:82:10.3", "pci_vendor_info": "8086:10ca",
          "physical_network": "physnet1"}


def _agents(api: Api, *hosts: str) -> None:
    for host in hosts:
        api.services.network.record_heartbeat(host, Heartbeat(
            NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
            device_mappings=(("physnet1", ("enp4s0f1",)),)))


def _compute_port(api: Api, owner: str = "compute:nova") -> str:
    """A direct port nova bound on compute-1 for vm-1 (as the service user does)."""
    network_id, _ = _web(api)
    port = _ok(api.client.post(f"{N}/ports", headers=api.demo, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct"}}), 201)["port"]
    _ok(api.client.put(f"{N}/ports/{port['id']}", headers=api.service, json={"port": {
        "binding:host_id": "compute-1", "device_id": "vm-1", "device_owner": owner,
        "binding:profile": SOURCE}}))
    return str(port["id"])


def _create(api: Api, port_id: str, body: dict[str, Any]) -> Any:
    return api.client.post(f"{N}/ports/{port_id}/bindings", headers=api.admin,
                           json={"binding": body})


def test_an_inactive_binding_is_made_then_activated_in_place_of_the_active_one(
        api: Api) -> None:
    _agents(api, "compute-1", "compute-2")
    port_id = _compute_port(api)
    extensions = _ok(api.client.get(f"{N}/extensions", headers=api.demo))["extensions"]
    assert "binding-extended" in {e["alias"] for e in extensions}
    made = _ok(_create(api, port_id, {"host": "compute-2", "vnic_type": "direct",
                                      "profile": TARGET}), 201)["binding"]
    assert made == {"host": "compute-2", "vif_type": "hw_veb", "vnic_type": "direct",
                    "vif_details": {"port_filter": False, "vlan": "15"}, "profile": TARGET,
                    "status": "INACTIVE"}
    listed = _ok(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin))
    assert [(b["host"], b["status"]) for b in listed["bindings"]] == [
        ("compute-1", "ACTIVE"), ("compute-2", "INACTIVE")]
    assert listed["bindings"][0]["profile"] == SOURCE
    only = _ok(api.client.get(f"{N}/ports/{port_id}/bindings?status=INACTIVE&fields=host",
                              headers=api.admin))
    assert only == {"bindings": [{"host": "compute-2"}]}
    port = _ok(api.client.get(f"{N}/ports/{port_id}", headers=api.admin))["port"]
    assert (port["binding:host_id"], port["binding:profile"]) == ("compute-1", SOURCE)

    active = _ok(api.client.put(f"{N}/ports/{port_id}/bindings/compute-2/activate",
                                headers=api.admin))
    assert (active["host"], active["status"], active["profile"]) == (
        "compute-2", "ACTIVE", TARGET)
    port = _ok(api.client.get(f"{N}/ports/{port_id}", headers=api.admin))["port"]
    assert (port["binding:host_id"], port["binding:profile"], port["binding:vif_type"],
            port["binding:vif_details"]) == ("compute-2", TARGET, "hw_veb",
                                             {"port_filter": False, "vlan": "15"})
    assert port["status"] == "DOWN"  # until compute-2's agent reports the VF up
    old = _ok(api.client.get(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin))
    assert old["binding"]["status"] == "INACTIVE" and old["binding"]["profile"] == SOURCE
    _error(api.client.put(f"{N}/ports/{port_id}/bindings/compute-2/activate",
                          headers=api.admin), 409, "PortBindingAlreadyActive")
    _ok(api.client.delete(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin), 204)
    _error(api.client.get(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin),
           404, "PortBindingNotFound")
    listed = _ok(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin))
    assert [(b["host"], b["status"]) for b in listed["bindings"]] == [("compute-2", "ACTIVE")]


@SQLITE
def test_binding_errors_have_neutrons_types(api: Api) -> None:
    _agents(api, "compute-1", "compute-2")
    port_id = _compute_port(api)
    message = _error(_create(api, port_id, {"host": "compute-1"}), 409,
                     "PortBindingAlreadyExists")
    assert "compute-1" in message
    _ok(_create(api, port_id, {"host": "compute-2", "vnic_type": "direct",
                               "profile": TARGET}), 201)
    _error(_create(api, port_id, {"host": "compute-2"}), 409, "PortBindingAlreadyExists")
    # no NIC agent on compute-9: no driver binds it there, and nothing is stored
    message = _error(_create(api, port_id, {"host": "compute-9", "vnic_type": "direct",
                                            "profile": TARGET}), 409, "PortBindingError")
    assert "no NIC Switch agent registered on host 'compute-9'" in message
    _error(api.client.get(f"{N}/ports/{port_id}/bindings/compute-9", headers=api.admin), 404,
           "PortBindingNotFound")
    _error(api.client.put(f"{N}/ports/{port_id}/bindings/compute-9/activate",
                          headers=api.admin), 404, "PortBindingNotFound")
    _error(api.client.put(f"{N}/ports/{port_id}/bindings/compute-1/activate",
                          headers=api.admin), 409, "PortBindingAlreadyActive")
    _error(api.client.delete(f"{N}/ports/{port_id}/bindings/compute-9", headers=api.admin),
           404, "PortBindingNotFound")
    for body, field in (({}, "host"), ({"host": ""}, "host"),
                        ({"host": "compute-2", "vnic_type": "foo"}, "vnic_type"),
                        ({"host": "compute-2", "profile": {"pci_slot": "nope"}}, "pci_slot"),
                        ({"host": "compute-2", "status": "ACTIVE"}, "status")):
        assert field in _error(_create(api, port_id, body), 400), body  # names the field
    # nova re-binding the port in place on compute-2 leaves one binding there, the active one
    _ok(api.client.put(f"{N}/ports/{port_id}", headers=api.service, json={"port": {
        "binding:host_id": "compute-2", "binding:profile": TARGET}}))
    listed = _ok(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin))
    assert [(b["host"], b["status"]) for b in listed["bindings"]] == [("compute-2", "ACTIVE")]
    missing = "7f0f7a0e-0000-4000-8000-000000000000"
    for call in (api.client.get(f"{N}/ports/{missing}/bindings", headers=api.admin),
                 _create(api, missing, {"host": "compute-2"}),
                 api.client.delete(f"{N}/ports/{missing}/bindings/compute-2",
                                   headers=api.admin)):
        _error(call, 404, "PortNotFound")


@SQLITE
def test_bindings_are_for_compute_ports_and_admins_and_a_first_one_is_active(api: Api) -> None:
    _agents(api, "compute-1", "compute-2")
    port_id = _compute_port(api, owner="network:dhcp")
    message = _error(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin), 400)
    assert "device_owner" in message
    _error(_create(api, port_id, {"host": "compute-2"}), 400)
    for call in (api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.demo),
                 api.client.get(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.demo),
                 api.client.post(f"{N}/ports/{port_id}/bindings", headers=api.demo,
                                 json={"binding": {"host": "compute-2"}}),
                 api.client.put(f"{N}/ports/{port_id}/bindings/compute-2/activate",
                                headers=api.demo),
                 api.client.delete(f"{N}/ports/{port_id}/bindings/compute-2",
                                   headers=api.demo)):
        _error(call, 403, "PolicyNotAuthorized")
    # a compute port with no host yet: its first binding is the ACTIVE one
    network_id = _ok(api.client.get(f"{N}/ports/{port_id}", headers=api.admin))["port"][
        "network_id"]
    port = _ok(api.client.post(f"{N}/ports", headers=api.admin, json={"port": {
        "network_id": network_id, "binding:vnic_type": "direct", "device_id": "vm-2",
        "device_owner": "compute:nova"}}), 201)["port"]
    made = _ok(_create(api, port["id"], {"host": "compute-2", "vnic_type": "direct",
                                         "profile": TARGET}), 201)["binding"]
    assert (made["status"], made["vif_type"]) == ("ACTIVE", "hw_veb")
    shown = _ok(api.client.get(f"{N}/ports/{port['id']}", headers=api.admin))["port"]
    assert shown["binding:host_id"] == "compute-2"


@SQLITE
def test_deleting_the_active_binding_leaves_the_port_unbound_but_its_servers(api: Api) -> None:
    # neutron's delete_port_binding deletes the host's row whatever its status (204): the
    # port then has no ACTIVE binding, and its next binding is made ACTIVE
    _agents(api, "compute-1", "compute-2")
    port_id = _compute_port(api)
    _ok(_create(api, port_id, {"host": "compute-2", "vnic_type": "direct",
                               "profile": TARGET}), 201)
    _ok(api.client.delete(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin), 204)
    _error(api.client.get(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin),
           404, "PortBindingNotFound")
    _error(api.client.delete(f"{N}/ports/{port_id}/bindings/compute-1", headers=api.admin),
           404, "PortBindingNotFound")
    port = _ok(api.client.get(f"{N}/ports/{port_id}", headers=api.admin))["port"]
    assert (port["binding:host_id"], port["binding:vif_type"], port["binding:profile"],
            port["status"]) == ("", "unbound", {}, "DOWN")
    assert (port["device_id"], port["device_owner"], port["binding:vnic_type"]) == (
        "vm-1", "compute:nova", "direct")
    listed = _ok(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin))
    assert [(b["host"], b["status"]) for b in listed["bindings"]] == [("compute-2", "INACTIVE")]
    # the INACTIVE one is activated with no active binding to demote (neutron fails here)
    active = _ok(api.client.put(f"{N}/ports/{port_id}/bindings/compute-2/activate",
                                headers=api.admin))
    assert (active["host"], active["status"], active["profile"]) == (
        "compute-2", "ACTIVE", TARGET)
    listed = _ok(api.client.get(f"{N}/ports/{port_id}/bindings", headers=api.admin))
    assert [(b["host"], b["status"]) for b in listed["bindings"]] == [("compute-2", "ACTIVE")]
    _ok(api.client.delete(f"{N}/ports/{port_id}/bindings/compute-2", headers=api.admin), 204)
    made = _ok(_create(api, port_id, {"host": "compute-1", "vnic_type": "direct",
                                      "profile": SOURCE}), 201)["binding"]
    assert (made["status"], made["vif_type"]) == ("ACTIVE", "hw_veb")
    port = _ok(api.client.get(f"{N}/ports/{port_id}", headers=api.admin))["port"]
    assert (port["binding:host_id"], port["binding:profile"]) == ("compute-1", SOURCE)
