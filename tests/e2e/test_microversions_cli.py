"""The real ``openstack`` CLI 10.5 negotiates a modern compute microversion against the served
API and its modern code paths work: the embedded flavor (2.47), rename through PUT (2.75's
full answer), lock with a reason (2.73), hypervisor show by hostname pattern (2.53)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (chapter_inventory, client_env, register_host, serve_api,
                                stand_in_agent, write_clouds_yaml)
from tests.e2e.test_api_clients import HOST, Cloud

pytestmark = pytest.mark.e2e

_SENT = re.compile(r"OpenStack-API-Version: compute (\d+)\.(\d+)")


@pytest.fixture(scope="module")
def cloud(osc_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    work = tmp_path_factory.mktemp("microversions")
    inventory = chapter_inventory(work / "compute0-root")
    with serve_api(work, f"sqlite:///{work / 'sriovstack.db'}") as api:
        register_host(api, HOST, inventory)
        with stand_in_agent(api, HOST) as agent:
            clouds = write_clouds_yaml(work / "clouds.yaml", api)
            vfs = frozenset(d["address"] for d in inventory["devices"]
                            if d["dev_type"] == "type-VF")
            yield Cloud(api, osc_venv, client_env(clouds), vfs)
            assert not agent.errors, agent.errors
    assert "Traceback" not in api.log(), api.log()[-4000:]


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
