"""Health that acts, with the real `openstack` CLI against `sriovstack all-in-one` (real
agents on the chapter's simulated 82576 hosts): a port created with
`--enable-uplink-status-propagation` shows it, and since igb has no VF link-state control its
binding says the propagation is unsupported while the port still goes ACTIVE; pulling the
PF's cable (`sriovstack host link HOST PF down`) takes the port DOWN and records a
`pf-link-down` event on the server (`openstack server event list/show`); putting it back
returns the port and records `pf-link-up`; `port set --disable-uplink-status-propagation`
turns it off again."""

from __future__ import annotations

import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SRIOVSTACK, client_env
from tests.e2e.test_walkthrough_cli import aio, osc
from tests.polling import until

pytestmark = pytest.mark.e2e
__all__ = ["aio"]  # the all-in-one fixture, shared with the walkthrough

PF = "enp11s0f1"  # the chapter's physnet1 port on every compute host
_until = partial(until, timeout=90.0, interval=0.5)  # a pulled cable takes two agent passes


def _host_link(state: Path, host: str, up: bool) -> str:
    env = client_env(state / "clouds.yaml") | {"OS_CLOUD": "sriovstack"}
    done = subprocess.run([str(SRIOVSTACK), "host", "link", host, PF, "up" if up else "down"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_uplink_propagation_and_the_event_a_pulled_cable_records(osc_venv: Path,
                                                                 aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    cli("network", "create", "health", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", "19")
    cli("subnet", "create", "health-subnet", "--network", "health",
        "--subnet-range", "10.19.0.0/24")
    plain = cli("port", "create", "--network", "health", "--vnic-type", "direct", "plain-vf")
    assert plain["propagate_uplink_status"] is False  # our default (docs: departures)
    port = cli("port", "create", "--network", "health", "--vnic-type", "direct",
               "--enable-uplink-status-propagation", "health-vf")
    assert port["propagate_uplink_status"] is True
    cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
        f"port-id={port['id']}", "--wait", "health-vm")
    host = cli("server", "show", "health-vm")["OS-EXT-SRV-ATTR:host"]

    # igb: no VF link-state control, so the binding says so; the port still goes ACTIVE.
    shown = _until(lambda: cli("port", "show", "health-vf"),
                   lambda p: p["status"] == "ACTIVE"
                   and "uplink_status_propagation" in p["binding_vif_details"],
                   "the port ACTIVE with the propagation's outcome")
    assert shown["binding_vif_details"]["uplink_status_propagation"] == "unsupported"
    assert shown["propagate_uplink_status"] is True

    # Pull the cable: the port goes DOWN and the server's actions say why.
    assert "link down" in _host_link(aio, host, up=False)
    _until(lambda: cli("port", "show", "health-vf")["status"], lambda s: s == "DOWN",
           "the port DOWN")
    events = cli("server", "event", "list", "health-vm")
    assert [e["Action"] for e in events][:2] == ["pf-link-down", "create"], events
    down = cli("server", "event", "show", "health-vm", events[0]["Request ID"])
    [event] = down["events"]
    assert (event["event"], event["result"], event["host"]) == \
        ("sriov_pf_link_down", "Error", host)
    assert shown["binding_profile"]["pci_slot"] in event["traceback"]
    assert cli("server", "show", "health-vm")["status"] == "ACTIVE"  # nova's: no status change

    # Put it back: the port returns and the return is recorded too.
    _host_link(aio, host, up=True)
    _until(lambda: cli("port", "show", "health-vf")["status"], lambda s: s == "ACTIVE",
           "the port ACTIVE again")
    events = cli("server", "event", "list", "health-vm")
    assert [e["Action"] for e in events][:3] == ["pf-link-up", "pf-link-down", "create"]
    up = cli("server", "event", "show", "health-vm", events[0]["Request ID"])
    assert [(e["event"], e["result"]) for e in up["events"]] == [("sriov_pf_link_up",
                                                                   "Success")]

    # Turned off on the bound port (uplink-status-propagation-updatable).
    cli("port", "set", "--disable-uplink-status-propagation", "health-vf", json_out=False)
    off = _until(lambda: cli("port", "show", "health-vf"),
                 lambda p: "uplink_status_propagation" not in p["binding_vif_details"],
                 "the propagation's outcome gone from the binding")
    assert off["propagate_uplink_status"] is False and off["status"] == "ACTIVE"

    cli("server", "delete", "--wait", "health-vm", json_out=False)
    for what, name in (("port", "health-vf"), ("port", "plain-vf"),
                       ("subnet", "health-subnet"), ("network", "health")):
        cli(what, "delete", name, json_out=False)
