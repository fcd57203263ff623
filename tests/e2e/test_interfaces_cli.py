"""Interface hot-plug with the real `openstack` CLI against `sriovstack all-in-one`:
`server add port --tag` (2.49) of a direct port to a running server claims a VF on its host,
binds the port there and the agent sets the port's MAC and VLAN on that VF; `server add
network` plugs a new normal port; `server remove port` unplugs, resets the VF to its baseline
and frees it; each step checked in the VF ledger (os-sriov-hosts), the port binding and the
VF's netlink state on the simulated host."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from sriovstack.mac import MacAddress
from tests.e2e.conftest import client_env
from tests.e2e.test_lifecycle_cli import _ledger
from tests.polling import until
from tests.e2e.test_walkthrough_cli import _vf, aio, osc

pytestmark = pytest.mark.e2e
__all__ = ["aio"]  # the all-in-one fixture, shared with the walkthrough


def _console_log(venv: Path, state: Path, server: str, lines: int) -> str:
    """`openstack console log show --lines N SERVER` (plain text, not a -f json command)."""
    env = client_env(state / "clouds.yaml") | {"OS_CLOUD": "sriovstack"}
    done = subprocess.run([str(venv / "bin" / "openstack"), "console", "log", "show",
                           "--lines", str(lines), server], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_add_port_add_network_remove_port(osc_venv: Path, aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    cli("network", "create", "hp", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "23")
    cli("subnet", "create", "hp-subnet", "--network", "hp", "--subnet-range", "10.23.0.0/24")
    boot = cli("port", "create", "--network", "hp", "--vnic-type", "direct", "hp-boot")
    server = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
                 f"port-id={boot['id']}", "--wait", "hp")
    host = cli("server", "show", "hp")["OS-EXT-SRV-ATTR:host"]
    extra = cli("port", "create", "--network", "hp", "--vnic-type", "direct", "hp-extra")

    cli("--os-compute-api-version", "2.49", "server", "add", "port", "--tag", "data", "hp",
        extra["id"], json_out=False)
    bound = cli("port", "show", extra["id"])
    slot = bound["binding_profile"]["pci_slot"]
    assert (bound["binding_host_id"], bound["device_id"], bound["binding_vif_type"]) == (
        host, server["id"], "hw_veb")
    assert bound["binding_vif_details"]["vlan"] == "23"
    assert _ledger(osc_venv, aio, host)[slot] == server["id"]
    vf = until(lambda: _vf(aio, host, slot), lambda v: str(v.mac) == extra["mac_address"],
               "the hot-plugged port's MAC on its VF")
    assert vf.vlan == 23
    until(lambda: cli("port", "show", extra["id"]), lambda p: p["status"] == "ACTIVE",
          "the SR-IOV agent to see the hot-plugged VF up")
    ports = {p["ID"] for p in cli("port", "list", "--server", "hp")}
    assert ports == {boot["id"], extra["id"]}
    last = until(lambda: _console_log(osc_venv, aio, "hp", 1),
                 lambda text: "hot-plugged" in text, "the hot-plug on the guest's console")
    assert f"MAC {extra['mac_address']} VLAN 23 (port {extra['id']})" in last

    cli("server", "add", "network", "hp", "hp", json_out=False)
    normal = next(p for p in cli("port", "list", "--server", "hp")
                  if p["ID"] not in (boot["id"], extra["id"]))
    shown = cli("port", "show", normal["ID"])
    assert (shown["binding_vnic_type"], shown["binding_host_id"]) == ("normal", host)

    events = [e["Action"] for e in cli("server", "event", "list", "hp")]
    assert events[:2] == ["attach_interface", "attach_interface"]

    cli("server", "remove", "port", "hp", extra["id"], json_out=False)
    after = cli("port", "show", extra["id"])
    assert (after["binding_host_id"], after["device_id"]) == ("", "")
    assert _ledger(osc_venv, aio, host)[slot] is None
    vf = until(lambda: _vf(aio, host, slot), lambda v: v.mac == MacAddress.ZERO,
               "the detached VF reset to its baseline")
    assert vf.vlan == 0
    assert cli("server", "show", "hp")["status"] == "ACTIVE"
    assert {p["ID"] for p in cli("port", "list", "--server", "hp")} == {boot["id"],
                                                                       normal["ID"]}
    cli("server", "delete", "--wait", "hp", json_out=False)


def test_shelve_releases_the_vf_and_unshelve_claims_one_again(osc_venv: Path,
                                                              aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    cli("network", "create", "sh", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "27")
    cli("subnet", "create", "sh-subnet", "--network", "sh", "--subnet-range", "10.27.0.0/24")
    port = cli("port", "create", "--network", "sh", "--vnic-type", "direct", "sh-vf")
    server = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
                 f"port-id={port['id']}", "--wait", "sh")
    host = cli("server", "show", "sh")["OS-EXT-SRV-ATTR:host"]
    slot = cli("port", "show", port["id"])["binding_profile"]["pci_slot"]
    until(lambda: _vf(aio, host, slot), lambda v: str(v.mac) == port["mac_address"],
          "the port's MAC on its VF")

    cli("server", "shelve", "--wait", "sh", json_out=False)
    shown = cli("server", "show", "sh")
    assert (shown["status"], shown["OS-EXT-SRV-ATTR:host"]) == ("SHELVED_OFFLOADED", None)
    assert _ledger(osc_venv, aio, host)[slot] is None
    kept = cli("port", "show", port["id"])
    assert (kept["binding_host_id"], kept["device_id"]) == ("", server["id"])
    until(lambda: _vf(aio, host, slot), lambda v: v.mac == MacAddress.ZERO,
          "the shelved server's VF reset")

    cli("server", "unshelve", "--wait", "sh", json_out=False)
    shown = cli("server", "show", "sh")
    assert shown["status"] == "ACTIVE"
    new_host = shown["OS-EXT-SRV-ATTR:host"]
    bound = cli("port", "show", port["id"])
    new_slot = bound["binding_profile"]["pci_slot"]
    assert (bound["binding_host_id"], bound["device_id"]) == (new_host, server["id"])
    assert _ledger(osc_venv, aio, new_host)[new_slot] == server["id"]
    vf = until(lambda: _vf(aio, new_host, new_slot),
               lambda v: str(v.mac) == port["mac_address"], "the new VF carrying the MAC")
    assert vf.vlan == 27
    events = [e["Action"] for e in cli("server", "event", "list", "sh")]
    assert events[:2] == ["unshelve", "shelve"]
    cli("server", "delete", "--wait", "sh", json_out=False)
