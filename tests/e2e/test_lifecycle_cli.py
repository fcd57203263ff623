"""A server's day two on a VF with the real `openstack` CLI against `sriovstack all-in-one`
(real compute and SR-IOV agents on simulated hosts): stop/start, reboot soft and hard,
pause/unpause, suspend/resume, rebuild and rename, each asserting the VF ledger
(os-sriov-hosts), the port binding and the VF's netlink state; then `server event list/show`
and the VF back at its baseline after delete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.mac import MacAddress
from tests.e2e.test_walkthrough_cli import PublicApi, _vf, aio, osc
from tests.polling import until

pytestmark = pytest.mark.e2e
__all__ = ["aio"]  # the all-in-one fixture, shared with the walkthrough


def _ledger(venv: Path, state: Path, host: str) -> dict[str, str | None]:
    """VF address -> owning server id, from the admin API os-sriov-hosts."""
    return {address: owner for address, (_, owner) in PublicApi(venv, state).vfs(host).items()}


def test_stop_start_reboot_pause_suspend_rebuild_keep_the_vf(osc_venv: Path, aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    def status_becomes(status: str) -> dict[str, Any]:
        shown: dict[str, Any] = until(lambda: cli("server", "show", "day2"),
                                      lambda s: s["status"] == status
                                      and not s["OS-EXT-STS:task_state"], status)
        return shown

    cli("network", "create", "day2", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "18")
    cli("subnet", "create", "day2-subnet", "--network", "day2", "--subnet-range", "10.18.0.0/24")
    port = cli("port", "create", "--network", "day2", "--vnic-type", "direct", "day2-vf")
    server = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
                 f"port-id={port['id']}", "--wait", "day2")
    host = cli("server", "show", "day2")["OS-EXT-SRV-ATTR:host"]
    bound = cli("port", "show", port["id"])
    slot = bound["binding_profile"]["pci_slot"]

    def vf_is_the_ports() -> None:
        vf = until(lambda: _vf(aio, host, slot), lambda v: str(v.mac) == port["mac_address"],
                   "the port's MAC on its VF")
        assert vf.vlan == 18

    def still_bound() -> None:
        assert _ledger(osc_venv, aio, host)[slot] == server["id"]  # claimed for the server
        now = cli("port", "show", port["id"])
        assert (now["binding_host_id"], now["binding_profile"]) == \
            (host, bound["binding_profile"])

    vf_is_the_ports()
    for verb, args, final in (("stop", (), "SHUTOFF"), ("start", (), "ACTIVE"),
                              ("reboot", ("--soft",), "ACTIVE"),
                              ("reboot", ("--hard",), "ACTIVE"), ("pause", (), "PAUSED"),
                              ("unpause", (), "ACTIVE"), ("suspend", (), "SUSPENDED"),
                              ("resume", (), "ACTIVE"),
                              ("rebuild", ("--image", "cirros"), "ACTIVE")):
        cli("server", verb, *args, "day2", json_out=verb == "rebuild")  # rebuild shows it
        shown = status_becomes(final)
        assert shown["OS-EXT-SRV-ATTR:host"] == host, verb
        still_bound()
        vf_is_the_ports()  # stopped or running, the VF keeps the port's MAC and VLAN

    cli("server", "set", "--name", "day2-renamed", "day2", json_out=False)
    events = cli("server", "event", "list", "day2-renamed")
    assert [e["Action"] for e in events] == ["rebuild", "resume", "suspend", "unpause", "pause",
                                             "reboot", "reboot", "start", "stop", "create"]
    stop = events[-2]
    detail = cli("server", "event", "show", "day2-renamed", stop["Request ID"])
    [event] = detail["events"]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Success")

    cli("server", "delete", "--wait", "day2-renamed", json_out=False)
    vf = until(lambda: _vf(aio, host, slot), lambda v: v.mac == MacAddress.ZERO,
               "the VF reset")
    assert vf.vlan == 0 and _ledger(osc_venv, aio, host)[slot] is None
