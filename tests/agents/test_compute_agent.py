"""The compute agent against the in-process API on the chapter's simulated compute0: live
inventory, the boot (VF MAC/VLAN/spoof check, guest, ACTIVE), delete (VF back to the full
baseline), failures reported with their reason, and leftovers from before a restart cleaned."""

from __future__ import annotations

from typing import Any

from sriovstack.agents.records import VfLedger
from sriovstack.agents.vfconfig import is_baseline
from sriovstack.host.netlink import LinkState, VfMac, VfRate, VfTrust
from sriovstack.mac import MacAddress
from sriovstack.virt import FakeVirtDriver, GuestSpec
from tests.agents import cloud
from tests.agents.conftest import PF1, Agents, enable_vfs

PF0 = "/sys/bus/pci/devices/0000:0b:00.0"


def _ready(agents: Agents) -> None:
    """Both agents have reported once: the host is schedulable and agent_required is met."""
    agents.compute().reconcile_once()
    agents.compute().heartbeat()
    agents.sriov().heartbeat()


def test_inventory_reports_only_whitelisted_devices_with_physnet_numa_and_parent(
        api: Any, agents: Agents) -> None:
    agents.compute().reconcile_once()
    info = api.services.hosts.get("compute0")
    # enp11s0f1 (PF, by devname) and its 7 VFs; enp11s0f0 is not in the whitelist.
    assert info.pci_total == 8 and info.vcpus == 16 and info.memory_mb == 65536
    r = api.client.get("/compute/v2.1/os-sriov-hosts/compute0", headers=api.admin)
    devices = {d["address"]: d for d in r.json()["host"]["devices"]}
    pf = devices.pop("0000:0b:00.1")
    assert (pf["dev_type"], pf["physnet"], pf["product_id"]) == ("type-PF", "physnet1", "10c9")
    assert sorted(devices) == [f"0000:0b:{0x10 + fn // 8:02x}.{fn % 8}" for fn in
                               range(1, 14, 2)]  # 20.2: 0b:10.1, 10.3 ... 11.5
    assert {(d["dev_type"], d["parent_addr"], d["physnet"], d["product_id"])
            for d in devices.values()} == {("type-VF", "0000:0b:00.1", "physnet1", "10ca")}
    rps = api.client.get("/placement/resource_providers", headers=api.admin).json()
    assert {rp["name"] for rp in rps["resource_providers"]} == {"compute0",
                                                                 "compute0:0000:0b:00.1"}


def test_vfs_created_later_are_reported_without_a_restart(api: Any, agents: Agents) -> None:
    enable_vfs(agents.host, PF1, 0)
    agent = agents.compute()
    agent.reconcile_once()
    assert api.services.hosts.get("compute0").pci_total == 1  # the PF alone
    enable_vfs(agents.host, PF1, 7)
    agent.reconcile_once()
    assert api.services.hosts.get("compute0").pci_total == 8
    enable_vfs(agents.host, PF1, 3)
    agent.reconcile_once()
    assert api.services.hosts.get("compute0").pci_total == 4
    enable_vfs(agents.host, PF0, 7)  # not whitelisted: nothing new
    agent.reconcile_once()
    assert api.services.hosts.get("compute0").pci_total == 4


def test_boot_configures_the_vf_attaches_it_and_the_server_goes_active(
        api: Any, agents: Agents) -> None:
    _ready(agents)
    net = cloud.network(api, 17)
    p = cloud.direct_port(api, net)
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    assert cloud.server(api, server_id)["status"] == "BUILD"

    done = agents.compute().reconcile_once()
    assert done.spawned == [server_id] and [str(a) for a in done.configured] == [slot]
    vf = cloud.vf_state(agents.host, "enp11s0f1", slot)
    assert (str(vf.mac), vf.vlan, vf.spoofchk) == (p["mac_address"], 17, True)
    guest = FakeVirtDriver(agents.state, agents.host.sysfs).get_guest(server_id)
    assert guest.running and [(str(i.pci_address), str(i.mac), i.vlan, i.port_id)
                              for i in guest.interfaces] == [(slot, p["mac_address"], 17,
                                                              p["id"])]
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    again = agents.compute().reconcile_once()  # converged: a second pass changes nothing
    assert again.spawned == [] and again.reset == [] and again.destroyed == []


def test_delete_detaches_and_resets_the_vf_to_the_full_baseline(api: Any,
                                                                 agents: Agents) -> None:
    _ready(agents)
    p = cloud.direct_port(api, cloud.network(api))
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    agent = agents.compute()
    agent.reconcile_once()
    # Someone raised trust and a rate on the VF while it was in use: the reset undoes all.
    pf, index = "enp11s0f1", cloud.vf_state(agents.host, "enp11s0f1", slot).vf
    agents.host.netlink.set_vf(pf, index, VfTrust(True))
    agents.host.netlink.set_vf(pf, index, VfRate(0, 500))

    cloud.delete_server(api, server_id)
    done = agent.reconcile_once()
    assert done.destroyed == [server_id] and [str(a) for a in done.reset] == [slot]
    vf = cloud.vf_state(agents.host, pf, slot)
    assert is_baseline(vf)
    assert (vf.mac, vf.vlan, vf.spoofchk, vf.trust, vf.max_tx_rate, vf.link_state) == (
        MacAddress.ZERO, 0, True, False, 0, LinkState.AUTO)
    assert FakeVirtDriver(agents.state, agents.host.sysfs).list_guests() == ()
    assert VfLedger(agents.state).assignments() == ()


def test_a_vf_that_is_gone_sends_the_server_to_error_with_the_reason(api: Any,
                                                                       agents: Agents) -> None:
    _ready(agents)
    p = cloud.direct_port(api, cloud.network(api))
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    enable_vfs(agents.host, PF1, 0)  # an operator disabled the VFs under the claim
    done = agents.compute().reconcile_once()
    assert server_id in done.failed and slot in done.failed[server_id]
    shown = cloud.server(api, server_id)
    assert shown["status"] == "ERROR" and slot in shown["fault"]["message"]
    assert FakeVirtDriver(agents.state, agents.host.sysfs).list_guests() == ()


def test_a_guest_with_no_desired_server_is_destroyed(api: Any, agents: Agents) -> None:
    stray = "6695eb01-f6a4-8304-79aa-97f2502e193f"
    FakeVirtDriver(agents.state, agents.host.sysfs).spawn(GuestSpec(stray, "stray", 1, 512))
    done = agents.compute().reconcile_once()
    assert done.destroyed == [stray]
    assert FakeVirtDriver(agents.state, agents.host.sysfs).list_guests() == ()


def test_a_whitelisted_vf_with_a_mac_and_no_owner_is_reset(api: Any, agents: Agents) -> None:
    # A MAC left on a VF by a crash before the ledger was written (or by someone else).
    enable_vfs(agents.host, PF0, 2)
    agents.host.netlink.set_vf("enp11s0f1", 3, VfMac(MacAddress("fa:16:3e:00:00:99")))
    agents.host.netlink.set_vf("enp11s0f0", 0, VfMac(MacAddress("fa:16:3e:00:00:98")))
    done = agents.compute().reconcile_once()
    assert [str(a) for a in done.reset] == ["0000:0b:10.7"]  # enp11s0f1 virtfn3
    assert agents.host.netlink.get_vfs("enp11s0f1")[3].mac == MacAddress.ZERO
    # enp11s0f0 is not whitelisted: not ours to touch.
    assert agents.host.netlink.get_vfs("enp11s0f0")[0].mac == MacAddress("fa:16:3e:00:00:98")
