"""Killing the compute agent mid-way and starting a new one from the same state dir loses nothing
and leaks nothing; a late release never wipes a VF a newer server holds (sriov-cni #219).

"Killed" is a netlink seam that lets a given number of settings through, then raises an
exception no agent code catches, as a SIGKILL between two netlink calls would leave things.
"""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.agents.records import VfLedger
from sriovstack.agents.vfconfig import is_baseline
from sriovstack.host.netlink import VfNetlink, VfRate, VfSetting, VfState, VfTrust
from sriovstack.virt import FakeVirtDriver
from tests.agents import cloud
from tests.agents.conftest import PF1, Agents, enable_vfs


class Killed(BaseException):
    """The agent process died here."""


class DyingNetlink:
    """VfNetlink that dies after ``allowed`` successful set_vf calls (reads always work)."""

    def __init__(self, real: VfNetlink, allowed: int) -> None:
        self._real = real
        self._left = allowed

    def get_vfs(self, pf_netdev: str) -> tuple[VfState, ...]:
        return self._real.get_vfs(pf_netdev)

    def set_vf(self, pf_netdev: str, vf: int, setting: VfSetting) -> VfState:
        if self._left == 0:
            raise Killed(f"killed before {setting}")
        self._left -= 1
        return self._real.set_vf(pf_netdev, vf, setting)


def _ready(agents: Agents) -> None:
    agents.compute().reconcile_once()
    agents.sriov().heartbeat()


def _guests(agents: Agents) -> dict[str, list[str]]:
    virt = FakeVirtDriver(agents.state, agents.host.sysfs)
    return {g.server_id: [str(i.pci_address) for i in g.interfaces] for g in virt.list_guests()}


@pytest.mark.parametrize("allowed", [0, 1])  # killed before the MAC, before the VLAN
def test_killed_while_configuring_a_boot_a_new_agent_finishes_it(api: Any, agents: Agents,
                                                                 allowed: int) -> None:
    _ready(agents)
    p = cloud.direct_port(api, cloud.network(api))
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    with pytest.raises(Killed):
        agents.compute(DyingNetlink(agents.host.netlink, allowed)).reconcile_once()
    assert _guests(agents) == {} and cloud.server(api, server_id)["status"] == "BUILD"

    done = agents.compute().reconcile_once()
    assert done.spawned == [server_id] and _guests(agents) == {server_id: [slot]}
    vf = cloud.vf_state(agents.host, "enp11s0f1", slot)
    assert (str(vf.mac), vf.vlan, vf.spoofchk) == (p["mac_address"], 15, True)
    assert cloud.server(api, server_id)["status"] == "ACTIVE"
    agents.sriov().reconcile_once()
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"


# Killed before the MAC, VLAN, trust or rate reset (spoof check and link state are still at
# their baseline, so they are not sent).
@pytest.mark.parametrize("allowed", [0, 1, 2, 3])
def test_killed_while_tearing_down_a_new_agent_resets_the_vf(api: Any, agents: Agents,
                                                             allowed: int) -> None:
    _ready(agents)
    p = cloud.direct_port(api, cloud.network(api))
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    agents.compute().reconcile_once()
    index = cloud.vf_state(agents.host, "enp11s0f1", slot).vf
    agents.host.netlink.set_vf("enp11s0f1", index, VfTrust(True))
    agents.host.netlink.set_vf("enp11s0f1", index, VfRate(0, 100))
    cloud.delete_server(api, server_id)
    with pytest.raises(Killed):
        agents.compute(DyingNetlink(agents.host.netlink, allowed)).reconcile_once()
    assert _guests(agents) == {}  # destroyed before the kill; the VF is half reset

    done = agents.compute().reconcile_once()
    assert [str(a) for a in done.reset] == [slot]
    assert is_baseline(cloud.vf_state(agents.host, "enp11s0f1", slot))
    assert VfLedger(agents.state).assignments() == ()


def test_agent_down_while_the_server_is_deleted_resets_and_reports_on_restart(
        api: Any, agents: Agents) -> None:
    _ready(agents)
    p = cloud.direct_port(api, cloud.network(api))
    server_id = cloud.boot(api, p["id"])
    slot = cloud.port(api, p["id"])["binding:profile"]["pci_slot"]
    agents.compute().reconcile_once()
    agents.sriov().reconcile_once()
    assert cloud.port(api, p["id"])["status"] == "ACTIVE"
    # Both agents are down while the server is deleted.
    cloud.delete_server(api, server_id)
    done = agents.compute().reconcile_once()
    assert done.destroyed == [server_id] and [str(a) for a in done.reset] == [slot]
    assert is_baseline(cloud.vf_state(agents.host, "enp11s0f1", slot))
    nic = agents.sriov().reconcile_once()
    assert [str(a) for _, a in nic.down] == [slot]
    assert cloud.port(api, p["id"])["status"] == "DOWN"
    assert api.services.hosts.get("compute0").pci_free == 8  # the claim is freed


def test_a_stale_release_never_wipes_a_vf_a_newer_server_holds(api: Any,
                                                               agents: Agents) -> None:
    enable_vfs(agents.host, PF1, 1)  # one VF on physnet1: the second server must get it too
    _ready(agents)
    net = cloud.network(api)
    old = cloud.direct_port(api, net)
    old_server = cloud.boot(api, old["id"], "old")
    slot = cloud.port(api, old["id"])["binding:profile"]["pci_slot"]
    agents.compute().reconcile_once()
    cloud.delete_server(api, old_server)
    # The agent dies after destroying the old guest, before it could reset the VF:
    # its ledger still says the VF is configured for the old server.
    with pytest.raises(Killed):
        agents.compute(DyingNetlink(agents.host.netlink, 0)).reconcile_once()
    new = cloud.direct_port(api, net)
    new_server = cloud.boot(api, new["id"], "new")
    assert cloud.port(api, new["id"])["binding:profile"]["pci_slot"] == slot

    done = agents.compute().reconcile_once()
    # The new server was wired first; the old server's late release then found a newer
    # owner on the VF and left it alone.
    assert done.spawned == [new_server] and [str(a) for a in done.fenced] == [slot]
    assert done.reset == []
    vf = cloud.vf_state(agents.host, "enp11s0f1", slot)
    assert (str(vf.mac), vf.vlan) == (new["mac_address"], 15)
    assert [(a.server_id, str(a.pci_address)) for a in VfLedger(agents.state).assignments()] \
        == [(new_server, slot)]
    assert cloud.server(api, new_server)["status"] == "ACTIVE"
