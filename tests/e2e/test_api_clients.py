"""The real ``openstack`` CLI and openstacksdk (from PyPI, in a cached venv) against a served API:
the chapter's SR-IOV walkthrough (20.7) onto a simulated 82576 compute node, the everyday list
and lookup commands, and the chapter's refusals (macvtap, migration) as clear client errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (ServedApi, chapter_inventory, client_env, register_host,
                                serve_api, stand_in_agent, vf_usage, write_clouds_yaml)

pytestmark = pytest.mark.e2e

HOST = "compute0"
OSC_TIMEOUT = 180.0  # one CLI call (server create --wait included)


@dataclass(frozen=True)
class Cloud:
    """The served API with compute0 registered and its stand-in agent, plus the client venv."""

    api: ServedApi
    venv: Path
    env: dict[str, str]
    whitelisted_vfs: frozenset[str]

    def osc(self, *args: str, cloud: str = "sriov-admin") -> subprocess.CompletedProcess[str]:
        argv = [str(self.venv / "bin" / "openstack"), "--os-cloud", cloud, *args]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env,
                              timeout=OSC_TIMEOUT, check=False)

    def osc_json(self, *args: str, cloud: str = "sriov-admin") -> Any:
        done = self.osc(*args, "-f", "json", cloud=cloud)
        if done.returncode != 0 and args[:2] == ("server", "create"):  # show why: its fault
            shown = self.osc("server", "show", args[-1], "-c", "status", "-c", "fault")
            pytest.fail(f"openstack {' '.join(args)}: {done.stderr}\n{shown.stdout}")
        assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)

    def osc_ok(self, *args: str, cloud: str = "sriov-admin") -> None:
        done = self.osc(*args, cloud=cloud)
        assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"


@pytest.fixture(scope="module")
def cloud(osc_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    work = tmp_path_factory.mktemp("clients")
    inventory = chapter_inventory(work / "compute0-root")
    with serve_api(work, f"sqlite:///{work / 'sriovstack.db'}") as api:
        register_host(api, HOST, inventory)
        with stand_in_agent(api, HOST) as agent:
            clouds = write_clouds_yaml(work / "clouds.yaml", api)
            vfs = frozenset(d["address"] for d in inventory["devices"]
                            if d["dev_type"] == "type-VF")
            yield Cloud(api, osc_venv, client_env(clouds), vfs)
            assert not agent.errors, agent.errors
    assert "Traceback" not in api.log(), api.log()[-4000:]  # no 500 behind any client call


def _usage(api: ServedApi) -> int:
    return sum(vf_usage(api).values())


def test_the_chapter_walkthrough_with_the_openstack_cli(cloud: Cloud) -> None:
    net = cloud.osc_json("network", "create", "web", "--provider-network-type", "vlan",
                         "--provider-physical-network", "physnet1", "--provider-segment", "15")
    assert (net["provider:network_type"], net["provider:segmentation_id"]) == ("vlan", 15)
    cloud.osc_json("subnet", "create", "--network", "web", "--subnet-range", "10.0.0.0/24",
                   "web-subnet")
    port = cloud.osc_json("port", "create", "--network", "web", "--vnic-type", "direct",
                          "sr-iov")
    assert port["binding_vnic_type"] == "direct" and port["status"] == "DOWN"

    server = cloud.osc_json("server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                            "--nic", "port-id=sr-iov", "--wait", "vm1")
    assert server["status"] == "ACTIVE"
    shown = cloud.osc_json("server", "show", "vm1")
    assert shown["OS-EXT-SRV-ATTR:host"] == HOST and shown["status"] == "ACTIVE"
    bound = cloud.osc_json("port", "show", "sr-iov")
    assert bound["binding_vif_type"] == "hw_veb" and bound["binding_host_id"] == HOST
    assert bound["binding_profile"]["pci_slot"] in cloud.whitelisted_vfs
    assert bound["binding_profile"]["physical_network"] == "physnet1"
    assert bound["device_id"] == shown["id"] and bound["status"] == "ACTIVE"
    assert _usage(cloud.api) == 1

    hypervisors = cloud.osc_json("hypervisor", "list")
    assert [h["Hypervisor Hostname"] for h in hypervisors] == [HOST]
    hv = cloud.osc_json("hypervisor", "show", HOST)
    assert hv["hypervisor_hostname"] == HOST and hv["running_vms"] == 1

    # One compute host: a cold migration has nowhere to go (allow_resize_to_same_host is
    # off); the CLI shows nova's 400 NoValidHost and exits 1, the server stays ACTIVE.
    migrate = cloud.osc("server", "migrate", "vm1")
    assert migrate.returncode == 1 and "400" in migrate.stderr, migrate.stderr
    assert "No valid host" in migrate.stderr, migrate.stderr
    assert cloud.osc_json("server", "show", "vm1")["status"] == "ACTIVE"

    cloud.osc_ok("server", "delete", "--wait", "vm1")
    assert _usage(cloud.api) == 0
    freed = cloud.osc_json("port", "show", "sr-iov")
    assert freed["binding_vif_type"] == "unbound" and freed["device_id"] == ""
    for what, name in (("port", "sr-iov"), ("subnet", "web-subnet"), ("network", "web")):
        cloud.osc_ok(what, "delete", name)


def test_lists_tokens_and_name_lookups_with_the_openstack_cli(cloud: Cloud) -> None:
    cloud.osc_json("network", "create", "lists", "--provider-network-type", "vlan",
                   "--provider-physical-network", "physnet1", "--provider-segment", "16")
    cloud.osc_json("subnet", "create", "--network", "lists", "--subnet-range", "10.1.0.0/24",
                   "lists-subnet")
    port = cloud.osc_json("port", "create", "--network", "lists", "--vnic-type", "direct",
                          "lists-vf")

    assert "lists" in {n["Name"] for n in cloud.osc_json("network", "list")}
    assert "lists-subnet" in {s["Name"] for s in cloud.osc_json("subnet", "list")}
    long = {p["ID"]: p for p in cloud.osc_json("port", "list", "--long")}
    assert long[port["id"]]["Status"] == "DOWN"
    token = cloud.osc_json("token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]
    assert cloud.osc_json("server", "list") == []
    # Name lookups: GET /<coll>/<name> is a 404, then ?name= finds it.
    assert cloud.osc_json("port", "show", "lists-vf")["id"] == port["id"]
    assert cloud.osc_json("flavor", "show", "m1.tiny")["name"] == "m1.tiny"
    assert cloud.osc_json("image", "show", "cirros")["name"] == "cirros"
    missing = cloud.osc("network", "show", "no-such-network")
    assert missing.returncode == 1 and "No Network found for no-such-network" in missing.stderr

    # 20.9: macvtap is refused with a 400 that says why, and nothing is created.
    macvtap = cloud.osc("port", "create", "--network", "lists", "--vnic-type", "macvtap", "mv")
    assert macvtap.returncode == 1 and "400" in macvtap.stderr, macvtap.stderr
    assert "macvtap" in macvtap.stderr
    assert "mv" not in {p["Name"] for p in cloud.osc_json("port", "list")}
    # The demo project sees none of admin's resources.
    assert "lists" not in {n["Name"] for n in cloud.osc_json("network", "list",
                                                             cloud="sriov-demo")}
    for what, name in (("port", "lists-vf"), ("subnet", "lists-subnet"), ("network", "lists")):
        cloud.osc_ok(what, "delete", name)


_SDK_SCRIPT = '''
import json, sys
import openstack

host = sys.argv[1]
demo = openstack.connect(cloud="sriov-demo")
admin = openstack.connect(cloud="sriov-admin")
out = {}
net = demo.network.create_network(name="sdknet")
demo.network.create_subnet(network_id=net.id, cidr="192.168.50.0/24", ip_version=4)
port = demo.network.create_port(network_id=net.id, name="sdk-vf", binding_vnic_type="direct")
image = demo.image.find_image("cirros")
flavor = demo.compute.find_flavor("m1.tiny")
server = demo.compute.create_server(name="sdkvm", image_id=image.id, flavor_id=flavor.id,
                                    networks=[{"port": port.id}])
try:
    server = demo.compute.wait_for_server(server, status="ACTIVE", wait=120)
except openstack.exceptions.SDKException as exc:  # ERROR or timeout: say why, with the fault
    failed = admin.compute.get_server(server.id)
    sys.exit(f"{exc}; server {failed.id} is {failed.status}, fault: {failed.fault}")
out["status"] = server.status
admin_net = admin.network.get_network(net.id)
out["network"] = [admin_net.provider_network_type, admin_net.provider_physical_network,
                  admin_net.provider_segmentation_id]
bound = admin.network.get_port(port.id)
out["vif_type"] = bound.binding_vif_type
out["profile"] = bound.binding_profile
out["compute_host"] = admin.compute.get_server(server.id).compute_host
out["hypervisors"] = [h.name for h in admin.compute.hypervisors(details=True)]
demo.compute.delete_server(server)
demo.compute.wait_for_delete(server, wait=120)
freed = admin.network.get_port(port.id)
out["freed"] = [freed.binding_vif_type, freed.device_id]
demo.network.delete_port(port)
demo.network.delete_network(net)
print(json.dumps(out))
'''


def test_the_walkthrough_with_openstacksdk_in_the_demo_project(cloud: Cloud,
                                                               tmp_path: Path) -> None:
    script = tmp_path / "sdk_walkthrough.py"
    script.write_text(_SDK_SCRIPT)
    done = subprocess.run([str(cloud.venv / "bin" / "python"), str(script), HOST],
                          capture_output=True, text=True, env=cloud.env, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "ACTIVE" and out["compute_host"] == HOST
    network_type, physnet, segment = out["network"]
    assert (network_type, physnet) == ("vlan", "physnet1") and 15 <= segment <= 20
    assert out["vif_type"] == "hw_veb"
    assert out["profile"]["pci_slot"] in cloud.whitelisted_vfs
    assert out["hypervisors"] == [HOST]
    assert out["freed"] == ["unbound", ""]
    assert _usage(cloud.api) == 0
