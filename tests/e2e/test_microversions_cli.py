"""The real ``openstack`` CLI 10.5 negotiates a modern compute microversion against the served
API and its modern code paths work: the embedded flavor (2.47), rename through PUT (2.75's
full answer), lock with a reason (2.73), hypervisor show by hostname pattern (2.53)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_api_clients import HOST, Cloud, cloud

pytestmark = pytest.mark.e2e
__all__ = ["cloud"]  # the served API with compute0 and its stand-in agent, as there

_SENT = re.compile(r"OpenStack-API-Version: compute (\d+)\.(\d+)")


def test_the_cli_negotiates_a_modern_version_and_its_paths_work(cloud: Cloud) -> None:
    cloud.osc_json("network", "create", "mv", "--provider-network-type", "vlan",
                   "--provider-physical-network", "physnet1", "--provider-segment", "17")
    cloud.osc_json("subnet", "create", "--network", "mv", "--subnet-range", "10.7.0.0/24",
                   "mv-subnet")
    cloud.osc_json("port", "create", "--network", "mv", "--vnic-type", "direct", "mv-vf")
    server = cloud.osc_json("server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                            "--nic", "port-id=mv-vf", "--wait", "mv1")
    assert server["status"] == "ACTIVE"

    debug = cloud.osc("--debug", "server", "show", "mv1")
    assert debug.returncode == 0, debug.stderr
    sent = {(int(a), int(b)) for a, b in _SENT.findall(debug.stderr)}
    assert sent and min(sent) >= (2, 75), sent  # not 2.1: the client took our range
    shown = cloud.osc_json("server", "show", "mv1")
    assert "m1.tiny" in str(shown["flavor"]) and shown["locked"] is False

    cloud.osc_ok("server", "set", "--name", "mv2", "mv1")
    cloud.osc_ok("server", "lock", "--reason", "maintenance window", "mv2")
    locked = cloud.osc_json("server", "show", "mv2")
    assert (locked["locked"], locked["locked_reason"]) == (True, "maintenance window")
    cloud.osc_ok("server", "unlock", "mv2")
    assert cloud.osc_json("server", "show", "mv2")["locked"] is False

    hv = cloud.osc_json("hypervisor", "show", HOST)
    assert hv["hypervisor_hostname"] == HOST and hv["running_vms"] == 1
    assert cloud.osc_json("flavor", "show", "m1.tiny")["swap"] == 0  # 2.75: 0, not ""
    cloud.osc_ok("server", "delete", "--wait", "mv2")
    for what, name in (("port", "mv-vf"), ("subnet", "mv-subnet"), ("network", "mv")):
        cloud.osc_ok(what, "delete", name)
