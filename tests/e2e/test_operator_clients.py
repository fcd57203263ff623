"""An operator's day two with the real clients (issue 12): glance v2 through the `openstack`
CLI and the legacy `glance` command, osc-placement's `resource ...` commands, the identity
lists and the legacy `neutron` command, against a served API with compute0 registered."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (ADMIN_PASSWORD, ServedApi, chapter_inventory, client_env,
                                register_host, serve_api, stand_in_agent, write_clouds_yaml)

pytestmark = pytest.mark.e2e

HOST = "compute0"
CLIENT_TIMEOUT = 120.0  # one client call


@dataclass(frozen=True)
class Operator:
    """The served API with compute0 registered, and the client venv's commands."""

    api: ServedApi
    venv: Path
    env: dict[str, str]

    def run(self, command: str, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.venv / "bin" / command), *args], capture_output=True,
                              text=True, env=env or self.env, timeout=CLIENT_TIMEOUT,
                              check=False)

    def osc_json(self, *args: str) -> Any:
        done = self.run("openstack", "--os-cloud", "sriov-admin", *args, "-f", "json")
        assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None

    def osc_ok(self, *args: str) -> str:
        done = self.run("openstack", "--os-cloud", "sriov-admin", *args)
        assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
        return done.stdout

    def legacy(self, command: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A legacy client (`glance`, `neutron`) as admin, configured by OS_* variables."""
        env = {**self.env, "OS_AUTH_URL": f"{self.api.base_url}/identity/v3",
               "OS_USERNAME": "admin", "OS_PASSWORD": ADMIN_PASSWORD,
               "OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_NAME": "Default",
               "OS_PROJECT_DOMAIN_NAME": "Default", "OS_IDENTITY_API_VERSION": "3",
               "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"}
        return self.run(command, *args, env=env)


@pytest.fixture(scope="module")
def operator(osc_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    work = tmp_path_factory.mktemp("operator")
    inventory = chapter_inventory(work / "compute0-root")
    with serve_api(work, f"sqlite:///{work / 'sriovstack.db'}") as api:
        register_host(api, HOST, inventory)
        with stand_in_agent(api, HOST) as agent:
            clouds = write_clouds_yaml(work / "clouds.yaml", api)
            yield Operator(api, osc_venv, client_env(clouds))
            assert not agent.errors, agent.errors
    assert "Traceback" not in api.log(), api.log()[-4000:]  # no 500 behind any client call


def test_images_with_the_openstack_cli(operator: Operator, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: past the API's 1 MiB body limit
    source = tmp_path / "fedora.qcow2"
    source.write_bytes(data)
    image = operator.osc_json("image", "create", "--disk-format", "qcow2",
                              "--container-format", "bare", "--file", str(source),
                              "--property", "hw_vif_model=virtio", "fedora")
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()

    saved = tmp_path / "saved.qcow2"
    operator.osc_ok("image", "save", "--file", str(saved), "fedora")
    assert saved.read_bytes() == data

    operator.osc_ok("image", "set", "--property", "os_distro=fedora", "--min-ram", "512",
                    "--tag", "sriov", "fedora")
    shown = operator.osc_json("image", "show", "fedora")
    assert shown["min_ram"] == 512 and shown["tags"] == ["sriov"]
    assert shown["properties"]["os_distro"] == "fedora"
    operator.osc_ok("image", "unset", "--property", "os_distro", "fedora")
    assert "os_distro" not in operator.osc_json("image", "show", "fedora")["properties"]

    names = {i["Name"] for i in operator.osc_json("image", "list")}
    assert names == {"cirros", "fedora"}
    operator.osc_ok("image", "delete", "fedora")
    assert {i["Name"] for i in operator.osc_json("image", "list")} == {"cirros"}


def test_images_with_the_legacy_glance_command(operator: Operator, tmp_path: Path) -> None:
    listed = operator.legacy("glance", "image-list")
    assert listed.returncode == 0, listed.stderr
    assert "cirros" in listed.stdout

    source = tmp_path / "tiny.raw"
    source.write_bytes(b"\0" * 4096)
    created = operator.legacy("glance", "image-create", "--name", "tiny", "--disk-format",
                              "raw", "--container-format", "bare", "--file", str(source))
    assert created.returncode == 0, created.stderr
    assert "active" in created.stdout
    image_id = next(line.split("|")[2].strip() for line in created.stdout.splitlines()
                    if line.startswith("| id "))
    updated = operator.legacy("glance", "image-update", "--property", "hw_vif_model=e1000",
                              image_id)
    assert updated.returncode == 0 and "e1000" in updated.stdout, updated.stderr
    missing = operator.legacy("glance", "image-show", "0a0b0c0d-0000-4000-8000-000000000000")
    assert missing.returncode != 0 and "404" in missing.stderr, missing.stderr
    deleted = operator.legacy("glance", "image-delete", image_id)
    assert deleted.returncode == 0, deleted.stderr
    assert "tiny" not in operator.legacy("glance", "image-list").stdout


def test_placement_with_osc_placement(operator: Operator) -> None:
    classes = {c["name"] for c in operator.osc_json("resource", "class", "list")}
    assert {"VCPU", "MEMORY_MB", "SRIOV_NET_VF"} <= classes
    operator.osc_ok("resource", "class", "create", "CUSTOM_NIC_PORT")
    assert "CUSTOM_NIC_PORT" in {c["name"] for c in operator.osc_json("resource", "class",
                                                                       "list")}
    operator.osc_ok("trait", "create", "CUSTOM_GOLD")
    traits = {t["name"] for t in operator.osc_json("trait", "list")}
    assert {"CUSTOM_GOLD", "CUSTOM_PHYSNET_PHYSNET1", "HW_NIC_SRIOV"} <= traits

    providers = {rp["name"]: rp for rp in operator.osc_json("resource", "provider", "list")}
    pf = next(rp for name, rp in providers.items() if name.startswith(f"{HOST}:"))
    pf_traits = {t["name"] for t in operator.osc_json("resource", "provider", "trait", "list",
                                                       pf["uuid"])}
    assert "CUSTOM_PHYSNET_PHYSNET1" in pf_traits
    assert operator.osc_json("resource", "provider", "aggregate", "list", pf["uuid"]) == []

    candidates = operator.osc_json("allocation", "candidate", "list", "--resource", "VCPU=1",
                                   "--resource", "SRIOV_NET_VF=1", "--required",
                                   "CUSTOM_PHYSNET_PHYSNET1")
    vf_rows = [c for c in candidates if c["allocation"] == "SRIOV_NET_VF=1"]
    pfs = [rp["uuid"] for name, rp in providers.items() if name.startswith(f"{HOST}:")]
    assert sorted(c["resource provider"] for c in vf_rows) == sorted(pfs)  # one per PF
    assert all(c["inventory used/capacity"] == "SRIOV_NET_VF=0/7" for c in vf_rows)

    operator.osc_json("network", "create", "placed", "--provider-network-type", "vlan",
                      "--provider-physical-network", "physnet1", "--provider-segment", "17")
    operator.osc_json("subnet", "create", "--network", "placed", "--subnet-range",
                      "10.7.0.0/24", "placed-subnet")
    operator.osc_json("port", "create", "--network", "placed", "--vnic-type", "direct",
                      "placed-vf")
    server = operator.osc_json("server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                               "--nic", "port-id=placed-vf", "--wait", "placed-vm")
    allocations = operator.osc_json("resource", "provider", "allocation", "show",
                                    server["id"])
    held = {row["resource_provider"]: row["resources"] for row in allocations}
    assert {"SRIOV_NET_VF": 1} in held.values()
    project = operator.osc_json("project", "show", "admin")["id"]
    usage = {row["resource_class"]: row["usage"]
             for row in operator.osc_json("resource", "usage", "show", project)}
    assert usage["SRIOV_NET_VF"] == 1 and usage["VCPU"] == 1
    used = operator.osc_json("resource", "provider", "usage", "show",
                             next(rp for rp in held if held[rp] == {"SRIOV_NET_VF": 1}))
    assert used == [{"resource_class": "SRIOV_NET_VF", "usage": 1}]
    operator.osc_ok("server", "delete", "--wait", "placed-vm")
    for what, name in (("port", "placed-vf"), ("subnet", "placed-subnet"),
                       ("network", "placed")):
        operator.osc_ok(what, "delete", name)


def test_identity_lists_with_the_openstack_cli(operator: Operator) -> None:
    services = {s["Type"]: s["Name"] for s in operator.osc_json("service", "list")}
    assert services == {"identity": "keystone", "network": "neutron", "compute": "nova",
                        "image": "glance", "placement": "placement"}
    endpoints = operator.osc_json("endpoint", "list", "--interface", "public")
    assert {(e["Service Name"], e["URL"]) for e in endpoints} >= {
        ("nova", f"{operator.api.base_url}/compute/v2.1"),
        ("placement", f"{operator.api.base_url}/placement")}
    assert [d["Name"] for d in operator.osc_json("domain", "list")] == ["Default"]
    assert [r["Region"] for r in operator.osc_json("region", "list")] == ["RegionOne"]

    named = operator.osc_json("role", "assignment", "list", "--names")
    assert {"Role": "member", "User": "demo@Default", "Project": "demo@Default"} in [
        {k: a[k] for k in ("Role", "User", "Project")} for a in named]
    mine = operator.osc_json("role", "assignment", "list", "--names", "--user", "admin",
                             "--project", "admin")
    assert [(a["Role"], a["User"]) for a in mine] == [("admin", "admin@Default")]


_SDK_BULK = """
import json
import openstack
from openstack.network.v2.network import Network
from openstack.network.v2.subnet import Subnet

conn = openstack.connect(cloud="sriov-demo")
nets = Network.bulk_create(conn.network, [{"name": "bulk-a"}, {"name": "bulk-b"}])
nets = list(nets)
subs = list(Subnet.bulk_create(conn.network, [
    {"network_id": nets[0].id, "cidr": "10.20.0.0/24", "ip_version": 4},
    {"network_id": nets[1].id, "cidr": "10.21.0.0/24", "ip_version": 4}]))
ports = list(conn.network.create_ports([{"network_id": nets[0].id, "name": "bulk-p1"},
                                        {"network_id": nets[0].id, "name": "bulk-p2"}]))
print(json.dumps({"networks": [n.name for n in nets], "subnets": [s.cidr for s in subs],
                  "ports": sorted(p.name for p in ports)}))
for p in ports:
    conn.network.delete_port(p)
for n in nets:
    conn.network.delete_network(n)
"""


def test_bulk_create_with_openstacksdk(operator: Operator, tmp_path: Path) -> None:
    script = tmp_path / "bulk.py"
    script.write_text(_SDK_BULK)
    done = operator.run("python", str(script))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"networks": ["bulk-a", "bulk-b"], "subnets": ["10.20.0.0/24", "10.21.0.0/24"],
                   "ports": ["bulk-p1", "bulk-p2"]}


def test_subnet_set_with_the_openstack_cli(operator: Operator) -> None:
    operator.osc_json("network", "create", "setnet")
    operator.osc_json("subnet", "create", "--network", "setnet", "--subnet-range",
                      "10.30.0.0/24", "--allocation-pool", "start=10.30.0.10,end=10.30.0.50",
                      "setsub")
    operator.osc_ok("subnet", "set", "--gateway", "10.30.0.254", "--dns-nameserver", "8.8.8.8",
                    "--host-route", "destination=192.168.0.0/16,gateway=10.30.0.3",
                    "--allocation-pool", "start=10.30.0.60,end=10.30.0.70", "setsub")
    shown = operator.osc_json("subnet", "show", "setsub")
    assert shown["gateway_ip"] == "10.30.0.254" and shown["dns_nameservers"] == ["8.8.8.8"]
    assert shown["host_routes"] == [{"destination": "192.168.0.0/16", "nexthop": "10.30.0.3"}]
    assert {(p["start"], p["end"]) for p in shown["allocation_pools"]} == {
        ("10.30.0.10", "10.30.0.50"), ("10.30.0.60", "10.30.0.70")}
    clash = operator.run("openstack", "--os-cloud", "sriov-admin", "subnet", "set",
                         "--gateway", "10.30.0.20", "setsub")
    assert clash.returncode == 1 and "conflicts with allocation pool" in clash.stderr
    operator.osc_ok("subnet", "unset", "--dns-nameserver", "8.8.8.8", "setsub")
    assert operator.osc_json("subnet", "show", "setsub")["dns_nameservers"] == []
    operator.osc_ok("network", "delete", "setnet")


def test_legacy_neutron_port_create_with_a_direct_vnic(operator: Operator) -> None:
    operator.osc_json("network", "create", "legacy", "--provider-network-type", "vlan",
                      "--provider-physical-network", "physnet1", "--provider-segment", "18")
    operator.osc_json("subnet", "create", "--network", "legacy", "--subnet-range",
                      "10.40.0.0/24", "legacy-subnet")
    created = operator.legacy("neutron", "port-create", "legacy", "--name", "legacy-vf",
                              "--binding:vnic-type", "direct")
    assert created.returncode == 0, created.stderr
    assert "direct" in created.stdout and "legacy-vf" in created.stdout
    port = operator.osc_json("port", "show", "legacy-vf")
    assert port["binding_vnic_type"] == "direct" and port["status"] == "DOWN"
    listed = operator.legacy("neutron", "port-list")
    assert listed.returncode == 0 and "legacy-vf" in listed.stdout, listed.stderr
    assert operator.legacy("neutron", "port-delete", "legacy-vf").returncode == 0
    operator.osc_ok("network", "delete", "legacy")
