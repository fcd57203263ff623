"""The agent contract: every message round-trips through its one JSON encoding, the encoding
stays the one the previous release spoke, and a malformed message is refused naming the field
(reports strictly, answers leniently)."""

from __future__ import annotations

import json
from dataclasses import replace
from ipaddress import ip_interface
from typing import Any

import pytest

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.wire import (NIC_AGENT_TYPE, DesiredPort, DesiredServer, DesiredState,
                             DeviceReport, Heartbeat, HeartbeatAnswer, HostCapabilities,
                             HostResources, InventoryCounts, InventoryDevice, InventoryReport,
                             LinkAnswer, LinkReport, NumaCell, PfLink, PortAnswer, PortStatus, ServerAnswer, ServerOutcome,
                             ServerReport, ServerStatus, SupportedInstance, UplinkPropagation,
                             VnicType)

PF = PciAddress.parse("0000:0b:00.0")
VF = PciAddress.parse("0000:0b:10.1")
MAC = MacAddress("fa:16:3e:5a:2b:01")
SID = "6695eb01-f6a4-8304-79aa-97f2502e193f"

VF_PORT = DesiredPort("p-vf", MAC, VnicType.DIRECT, 15, VF, "physnet1", True, 3,
                      ip_interface("10.0.0.5/24"))
NORMAL_PORT = DesiredPort("p-ovs", MacAddress("fa:16:3e:00:00:02"), VnicType.NORMAL, 0, None,
                          "physnet2", False, None, ip_interface("2001:db8::5/64"))
DELETED_PORT = DesiredPort("p-gone", None, VnicType.DIRECT, 0, VF, "physnet1", False, 4)
STATE = DesiredState("compute-1", 42, (
    DesiredServer(SID, "webserver01", ServerStatus.BUILD, 1, 512, (VF_PORT, NORMAL_PORT)),
    DesiredServer("s2", "gone", ServerStatus.ACTIVE, 2, 2048, (DELETED_PORT,)),
    DesiredServer("s3", "empty", ServerStatus.ERROR, 0, 0)))
ALIASED = DesiredState("compute-1", 43, (
    DesiredServer("s4", "aliased", ServerStatus.BUILD, 1, 512, (),
                  authorized_keys="ssh-ed25519 AAAAC3Nza me@laptop", hostdevs=(VF, PF)),))
RESOURCES = HostResources(
    16, 32768, 500, "az1",
    HostCapabilities("QEMU", 8002000, (SupportedInstance("x86_64", "qemu", "hvm"),),
                     (("cpu_info:arch", "x86_64"), ("host_ip", "192.0.2.11"))),
    (NumaCell(0, 0), NumaCell(1)))
INVENTORY = InventoryReport(RESOURCES, (
    InventoryDevice(PciDevice(PF, "8086", "10c9", DevType.PF, None, 0), "physnet1"),
    InventoryDevice(PciDevice(VF, "8086", "10ca", DevType.VF, PF, 0), "physnet1",
                    (("trusted", "true"),)),
    InventoryDevice(PciDevice(PciAddress.parse("0000:81:00.0"), "15b3", "1013", DevType.PCI))))

MESSAGES: list[Any] = [
    STATE, DesiredState("compute-2", 0, ()), INVENTORY,
    InventoryReport(HostResources(1, 1, 0), ()), InventoryCounts(3, 1, 2, 1),
    Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
              (("physnet1", ("enp11s0f0", "enp11s0f1")), ("physnet2", ())), 7, ("qos",), True),
    Heartbeat("Compute agent", "sriovstack-compute"),
    HeartbeatAnswer("a1", "compute-1", NIC_AGENT_TYPE, "neutron-sriov-nic-agent", True, False),
    ServerReport(ServerOutcome.RUNNING), ServerReport(ServerOutcome.ERROR, "no VF 0b:10.1"),
    ServerAnswer(SID, ServerStatus.ACTIVE),
    DeviceReport(MAC, VF, True), DeviceReport(MAC, None, False),
    PortAnswer("p-vf", PortStatus.ACTIVE),
    LinkReport((PfLink(PF, "enp11s0f0", False), PfLink(VF, "enp11s0f1", True))),
    LinkReport(()), LinkAnswer(7, 2),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_through_json(message: Any) -> None:
    text = json.dumps(message.to_json())  # only JSON types inside
    assert type(message).from_json(json.loads(text)) == message


def test_the_fixed_ip_survives_the_round_trip() -> None:
    # fixed_ip is left out of equality (drivers that cannot read it back compare equal).
    again = DesiredState.from_json(json.loads(json.dumps(STATE.to_json())))
    assert [p.fixed_ip for s in again.servers for p in s.ports] == [
        ip_interface("10.0.0.5/24"), ip_interface("2001:db8::5/64"), None]


def test_the_desired_state_keeps_the_previous_releases_json() -> None:
    # What agents of the previous release parse: keys, and values as text where they were.
    server = STATE.to_json()["servers"][0]
    # What this release adds for power operations (an older agent ignores it: lenient).
    assert {k: server.pop(k) for k in ("target", "replug", "awaiting")} == {
        "target": "running", "replug": False, "awaiting": False}
    # ... and for uplink status propagation.
    assert [p.pop("propagate_uplink_status") for p in server["ports"]] == [False, False]
    # What this release adds for key pairs and PCI aliases (issue 12; lenient too).
    assert {k: server.pop(k) for k in ("authorized_keys", "hostdevs")} == {
        "authorized_keys": None, "hostdevs": []}
    assert server == {
        "id": SID, "name": "webserver01", "status": "BUILD", "vcpus": 1, "memory_mb": 512,
        "ports": [{"port_id": "p-vf", "mac": "fa:16:3e:5a:2b:01", "vnic_type": "direct",
                   "vlan": 15, "pci_address": "0000:0b:10.1", "physnet": "physnet1",
                   "admin_state_up": True, "generation": 3, "fixed_ip": "10.0.0.5/24"},
                  {"port_id": "p-ovs", "mac": "fa:16:3e:00:00:02", "vnic_type": "normal",
                   "vlan": 0, "pci_address": None, "physnet": "physnet2",
                   "admin_state_up": False, "generation": None,
                   "fixed_ip": "2001:db8::5/64"}]}


def test_reports_keep_the_previous_releases_json() -> None:
    assert DeviceReport(MAC, VF, True).to_json() == {
        "mac": "fa:16:3e:5a:2b:01", "pci_slot": "0000:0b:10.1", "up": True}
    assert ServerReport(ServerOutcome.ERROR, "x" * 5000).to_json() == {
        "status": "error", "message": "x" * 4096}
    assert Heartbeat(NIC_AGENT_TYPE, "b", (("physnet1", ("eth1",)),)).to_json() == {
        "agent_type": NIC_AGENT_TYPE, "binary": "b", "start_flag": False,
        "configurations": {"device_mappings": {"physnet1": ["eth1"]}, "devices": 0,
                           "extensions": []}}


def test_the_uplink_propagation_travels_and_an_older_api_reads_without_it() -> None:
    for uplink in UplinkPropagation:
        report = DeviceReport(MAC, VF, True, uplink)
        assert DeviceReport.from_json(json.loads(json.dumps(report.to_json()))) == report
    assert DeviceReport(MAC, VF, False, UplinkPropagation.UNSUPPORTED).to_json() == {
        "mac": "fa:16:3e:5a:2b:01", "pci_slot": "0000:0b:10.1", "up": False,
        "uplink_propagation": "unsupported"}
    with pytest.raises(Invalid, match="uplink_propagation"):
        DeviceReport.from_json({"mac": "fa:16:3e:5a:2b:01", "pci_slot": None, "up": True,
                                "uplink_propagation": "sideways"})
    port = replace(STATE.servers[0].ports[0], propagate_uplink_status=True)
    assert DesiredPort.from_json(port.to_json(), "p").propagate_uplink_status is True
    older = port.to_json()
    del older["propagate_uplink_status"]
    assert DesiredPort.from_json(older, "p").propagate_uplink_status is False


def test_keys_and_hostdevs_round_trip_and_an_older_api_sends_none() -> None:
    again = DesiredState.from_json(json.loads(json.dumps(ALIASED.to_json())))
    assert again == ALIASED
    aliased = again.servers[-1]
    assert aliased.hostdevs == (VF, PF) and aliased.authorized_keys.endswith("me@laptop")
    old = STATE.to_json()["servers"][0]
    for key in ("authorized_keys", "hostdevs"):
        del old[key]
    parsed = DesiredServer.from_json(old, "servers[0]")
    assert (parsed.hostdevs, parsed.authorized_keys) == ((), None)
    old["hostdevs"] = ["nope"]
    with pytest.raises(Invalid, match=r"servers\[0\].hostdevs\[0\]"):
        DesiredServer.from_json(old, "servers[0]")


def test_a_desired_port_from_an_older_api_is_read() -> None:
    # The previous API sent "" for a deleted port's MAC and null for its VLAN.
    port = DesiredPort.from_json({
        "port_id": "p", "mac": "", "vnic_type": "direct", "vlan": None,
        "pci_address": "0000:0b:10.1", "physnet": "physnet1", "admin_state_up": False,
        "generation": 2, "fixed_ip": None}, "servers[0].ports[0]")
    assert (port.mac, port.vlan, port.is_vf) == (None, 0, False)


def test_answers_ignore_keys_a_newer_api_adds() -> None:
    body = STATE.to_json()
    body["colour"] = "blue"
    body["servers"][0]["ports"][0]["trust"] = True
    assert DesiredState.from_json(body) == STATE
    assert PortAnswer.from_json({"port": {"id": "p", "status": "DOWN", "x": 1}, "y": 2}) == \
        PortAnswer("p", PortStatus.DOWN)


def test_mac_and_upper_case_ids_are_normalised_on_the_way_in() -> None:
    device = InventoryDevice.from_json({
        "address": "0b:10.1", "vendor_id": "8086", "product_id": "10CA",
        "dev_type": "type-VF", "parent_addr": "0000:0b:00.0"}, "devices[0]")
    assert (device.address, device.device.product_id, device.tags) == (VF, "10ca", ())
    assert device.pool_pf == PF
    report = DeviceReport.from_json({"mac": "FA-16-3E-5A-2B-01", "up": True})
    assert (report.mac, report.pci_slot) == (MAC, None)


def _inventory(**device: Any) -> dict[str, Any]:
    base = {"address": "0000:0b:10.1", "vendor_id": "8086", "product_id": "10ca",
            "dev_type": "type-VF", "parent_addr": "0000:0b:00.0"}
    return {"resources": {"vcpus": 1, "memory_mb": 1, "disk_gb": 1},
            "devices": [{**base, **device}]}


def _desired(**port: Any) -> dict[str, Any]:
    return {"host": "h", "revision": 1, "servers": [
        {"id": SID, "name": "vm", "status": "BUILD", "vcpus": 1, "memory_mb": 512,
         "ports": [{**VF_PORT.to_json(), **port}]}]}


@pytest.mark.parametrize(("parse", "body", "field", "says"), [
    (InventoryReport.from_json, _inventory(parent_addr=None), "devices[0].parent_addr",
     "needs the address of the PF"),
    (InventoryReport.from_json, _inventory(address="0b:zz.0"), "devices[0].address",
     "not a PCI address"),
    (InventoryReport.from_json, _inventory(vendor_id="80866"), "devices[0].vendor_id",
     "does not match"),
    (InventoryReport.from_json, _inventory(dev_type="type-XX"), "devices[0].dev_type",
     "expected one of type-PF, type-VF, type-PCI"),
    (InventoryReport.from_json, _inventory(colour="red"), "devices[0].colour",
     "unknown field; expected only address, dev_type,"),
    (InventoryReport.from_json, _inventory(numa_node=-1), "devices[0].numa_node",
     "expected 0 or more"),
    (InventoryReport.from_json, _inventory(tags={"a": 1}), "devices[0].tags",
     "an object of strings"),
    (InventoryReport.from_json, {**_inventory(), "resources": {"vcpus": -2}},
     "resources.vcpus", "expected 0 or more"),
    (InventoryReport.from_json, {**_inventory(), "resources": {
        "vcpus": 1, "memory_mb": 1, "disk_gb": 1, "capabilities": {
            "supported_instances": [["x86_64"]]}}}, "resources.capabilities", "triples"),
    (InventoryReport.from_json, {**_inventory(), "resources": {
        "vcpus": 1, "memory_mb": 1, "disk_gb": 1, "numa_cells": [{"socket": 0}]}},
     "resources.numa_cells[0].id", "missing"),
    (InventoryReport.from_json, {"devices": []}, "resources", "missing"),
    (InventoryReport.from_json, [], "body", "expected an object"),
    (Heartbeat.from_json, {"agent_type": "", "binary": "b"}, "agent_type",
     "expected 1 to 255 characters"),
    (Heartbeat.from_json, {"agent_type": "a", "binary": "b",
                           "configurations": {"device_mappings": {"physnet1": "eth1"}}},
     "configurations.device_mappings", "physnet: [netdev, ...]"),
    (Heartbeat.from_json, {"agent_type": "a", "binary": "b", "start_flag": "yes"},
     "start_flag", "expected true or false"),
    (ServerReport.from_json, {"status": "RUNNING"}, "status", "expected one of running, error"),
    (ServerReport.from_json, {"status": "error", "message": "m" * 4097}, "message",
     "expected 0 to 4096 characters"),
    (DeviceReport.from_json, {"mac": "fa:16:3e:5a:2b", "up": True}, "mac",
     "not a MAC address"),
    (DeviceReport.from_json, {"up": True}, "mac", "missing"),
    (DeviceReport.from_json, {"mac": "fa:16:3e:5a:2b:01", "pci_slot": 7, "up": True},
     "pci_slot", "expected a string"),
    (DesiredState.from_json, _desired(fixed_ip="10.0.15.400/24"),
     "servers[0].ports[0].fixed_ip", "does not appear to be an IPv4 or IPv6 interface"),
    (DesiredState.from_json, _desired(fixed_ip=17), "servers[0].ports[0].fixed_ip",
     "expected a string"),
    (DesiredState.from_json, _desired(vnic_type="DIRECT"), "servers[0].ports[0].vnic_type",
     "expected one of normal, direct"),
    (DesiredState.from_json, _desired(vlan="15"), "servers[0].ports[0].vlan",
     "expected a whole number, got a string"),
    (DesiredState.from_json, _desired(admin_state_up=None), "servers[0].ports[0].admin_state_up",
     "expected true or false"),
    (DesiredState.from_json, {"host": "h", "revision": True, "servers": []}, "revision",
     "expected a whole number, got a boolean"),
    (InventoryCounts.from_json, {"inventory": {"added": 1}}, "inventory.updated", "missing"),
    (ServerAnswer.from_json, {"server": {"id": "s", "status": "SHELVED"}}, "server.status",
     "expected one of BUILD"),
])
def test_a_malformed_message_names_the_field(parse: Any, body: Any, field: str,
                                             says: str) -> None:
    with pytest.raises(Invalid) as err:
        parse(body)
    assert err.value.field == field
    assert says in str(err.value) and str(err.value).startswith(
        field if field != "body" else "the body")


def test_a_device_reported_twice_is_refused() -> None:
    body = INVENTORY.to_json()
    body["devices"].append(body["devices"][1])
    with pytest.raises(Invalid, match="device 0000:0b:10.1 is reported twice"):
        InventoryReport.from_json(body)


def test_port_kinds() -> None:
    assert VF_PORT.is_vf and not VF_PORT.is_normal
    assert NORMAL_PORT.is_normal and not NORMAL_PORT.is_vf
    assert not DELETED_PORT.is_vf
    assert STATE.vf_ports() == {VF: (STATE.servers[0], VF_PORT)}
    assert [s.status.is_runnable for s in STATE.servers] == [True, True, False]


@pytest.mark.parametrize("body, field", [
    ({"pfs": [{"address": "0b:00.0x", "netdev": "p0", "carrier": True}]}, "pfs[0].address"),
    ({"pfs": [{"address": "0000:0b:00.0", "netdev": "p0", "carrier": "yes"}]},
     "pfs[0].carrier"),
    ({"pfs": [{"address": "0000:0b:00.0", "netdev": "a-netdev-name-too-long",
               "carrier": True}]}, "pfs[0].netdev"),
    ({"pfs": [{"address": "0000:0b:00.0", "netdev": "p0", "carrier": True, "x": 1}]},
     "pfs[0].x"),
    ({}, "pfs"),
])
def test_a_malformed_link_report_is_refused_naming_the_field(body: Any, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        LinkReport.from_json(body)
    assert caught.value.fields.get("field") == field or field in caught.value.message


def test_a_desired_server_carries_its_power_target_and_defaults_to_running() -> None:
    stopped = DesiredServer(SID, "vm", ServerStatus.ACTIVE, 1, 512,
                            target=ServerOutcome.STOPPED, replug=False, awaiting=True)
    assert DesiredServer.from_json(json.loads(json.dumps(stopped.to_json())), "s") == stopped
    older = stopped.to_json()
    for key in ("target", "replug", "awaiting"):
        del older[key]  # what an API of the previous release sends
    assert DesiredServer.from_json(older, "s").target is ServerOutcome.RUNNING
    with pytest.raises(Invalid, match="target"):
        DesiredServer.from_json({**stopped.to_json(), "target": "asleep"}, "s")
