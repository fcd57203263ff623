"""The chapter's 20.7 with the real `openstack` CLI (and openstacksdk) against
`sriovstack all-in-one` run as a subprocess: port DOWN → ACTIVE, binding:profile.pci_slot
naming a VF whose simulated netlink state has the port's MAC and the network's VLAN, and the
VF back at its baseline after `server delete --wait`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from sriovstack.allinone.hosts import live_vfs
from sriovstack.mac import MacAddress
from tests.e2e.conftest import SRIOVSTACK, client_env, free_port
from tests.polling import until

pytestmark = pytest.mark.e2e

_SDK_BOOT = """
import json, sys, openstack
conn = openstack.connect(cloud="sriovstack")
net = conn.network.create_network(name="sdk", provider_network_type="vlan",
                                  provider_physical_network="physnet1", provider_segmentation_id=17)
conn.network.create_subnet(network_id=net.id, cidr="10.1.0.0/24", ip_version=4)
port = conn.network.create_port(network_id=net.id, name="sdk-port", binding_vnic_type="direct")
server = conn.compute.create_server(name="sdk-vm", flavor_id=conn.compute.find_flavor("m1.tiny").id,
                                    image_id=conn.image.find_image("cirros").id,
                                    networks=[{"port": port.id}])
try:
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
except openstack.exceptions.SDKException as exc:  # ERROR or timeout: say why, with the fault
    failed = conn.compute.get_server(server.id)
    sys.exit(f"{exc}; server {failed.id} is {failed.status}, fault: {failed.fault}")
port = conn.network.get_port(port.id)
print(json.dumps({"status": server.status, "host": server.compute_host,
                  "profile": port.binding_profile, "mac": port.mac_address}))
"""


@contextmanager
def running_aio(state: Path, *options: str) -> Iterator[Path]:
    """`sriovstack all-in-one` (with ``options``) on a free port, its state in ``state``,
    until the block ends: then stopped with SIGTERM, which it must exit 0 on."""
    with open(state / "aio.log", "w") as log:
        process = subprocess.Popen([str(SRIOVSTACK), "all-in-one", "--state-dir", str(state),
                                    "--listen", f"127.0.0.1:{free_port()}", *options],
                                   stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180  # a loaded 2-core machine needs more than a minute
        while "Ctrl-C stops everything" not in (state / "aio.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("all-in-one did not start:\n" + (state / "aio.log").read_text())
            time.sleep(0.2)
        try:
            yield state
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        assert code == 0


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running `sriovstack all-in-one` on a free port; its state directory."""
    with running_aio(tmp_path_factory.mktemp("aio")) as state:
        yield state


def osc(venv: Path, state: Path, *args: str, json_out: bool = True) -> Any:
    env = client_env(state / "clouds.yaml") | {"OS_CLOUD": "sriovstack"}
    fmt = ["-f", "json"] if json_out else []
    done = subprocess.run([str(venv / "bin" / "openstack"), *args, *fmt], env=env,
                          capture_output=True, text=True, timeout=180)
    if done.returncode != 0 and args[:2] == ("server", "create"):  # show why: its fault
        shown = subprocess.run([str(venv / "bin" / "openstack"), "server", "show", args[-1],
                                "-c", "status", "-c", "fault"], env=env, capture_output=True,
                               text=True, timeout=180)
        pytest.fail(f"openstack {' '.join(args)}: {done.stderr}\n{shown.stdout}")
    assert done.returncode == 0, f"openstack {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else None


class PublicApi:
    """The all-in-one's public endpoints read with one token the CLI issued: the admin
    reads the CLI has no command for (os-sriov-hosts, a port's bindings), and polls that a
    CLI run each would make a second or two slower.  Compute at its latest microversion."""

    def __init__(self, venv: Path, state: Path) -> None:
        self._venv, self._state = venv, state
        self._headers = {"X-Auth-Token": osc(venv, state, "token", "issue")["id"],
                         "OpenStack-API-Version": "compute latest"}
        self._urls: dict[str, str] = {}

    def get(self, service: str, path: str) -> Any:
        """GET ``path`` of ``service``'s public endpoint: the JSON body (asserted 200)."""
        if service not in self._urls:
            endpoints = osc(self._venv, self._state, "catalog", "show", service)["endpoints"]
            self._urls[service] = next(e["url"] for e in endpoints
                                       if e["interface"] == "public").rstrip("/")
        r = httpx.get(f"{self._urls[service]}{path}", headers=self._headers, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def vfs(self, host: str) -> dict[str, tuple[str, str | None]]:
        """VF address -> (ledger status, owning server) on ``host`` (os-sriov-hosts)."""
        devices = self.get("compute", f"/os-sriov-hosts/{host}")["host"]["devices"]
        return {d["address"]: (d["status"], d["server_id"]) for d in devices
                if d["dev_type"] == "type-VF"}


def _vf(state: Path, host: str, slot: str) -> Any:
    return live_vfs(state / "hosts" / host)[slot].state


def test_the_chapter_walkthrough_with_the_openstack_cli(osc_venv: Path, aio: Path) -> None:
    net = osc(osc_venv, aio, "network", "create", "web", "--provider-network-type", "vlan",
              "--provider-physical-network", "physnet1", "--provider-segment", "15")
    osc(osc_venv, aio, "subnet", "create", "web-subnet", "--network", "web",
        "--subnet-range", "10.0.0.0/24")
    nets = osc(osc_venv, aio, "network", "list")
    assert any(n["Name"] == "web" and n["Subnets"] for n in nets)
    port = osc(osc_venv, aio, "port", "create", "--network", "web", "--vnic-type", "direct",
               "sr-iov")
    assert port["status"] == "DOWN" and port["binding_vnic_type"] == "direct"
    server = osc(osc_venv, aio, "server", "create", "--flavor", "m1.tiny", "--image", "cirros",
                 "--nic", f"port-id={port['id']}", "--wait", "webserver01")
    assert server["status"] == "ACTIVE"
    shown = osc(osc_venv, aio, "server", "show", "webserver01")
    host = shown["OS-EXT-SRV-ATTR:host"]
    assert host in ("compute0", "compute1")
    bound = until(lambda: osc(osc_venv, aio, "port", "show", port["id"]),
                  lambda p: p["status"] == "ACTIVE", "the port ACTIVE", timeout=30)
    assert bound["status"] == "ACTIVE" and bound["binding_vif_type"] == "hw_veb"
    slot = bound["binding_profile"]["pci_slot"]
    vf = _vf(aio, host, slot)
    assert str(vf.mac) == port["mac_address"] and vf.vlan == net["provider:segmentation_id"] == 15
    hypervisors = osc(osc_venv, aio, "hypervisor", "list")
    assert {h["Hypervisor Hostname"] for h in hypervisors} == {"compute0", "compute1"}

    osc(osc_venv, aio, "server", "delete", "--wait", "webserver01", json_out=False)
    vf = until(lambda: _vf(aio, host, slot), lambda v: v.mac == MacAddress.ZERO and v.vlan == 0,
               f"VF {slot} reset", timeout=30)
    assert vf.mac == MacAddress.ZERO and vf.vlan == 0 and vf.spoofchk in (True, None)
    after = osc(osc_venv, aio, "port", "show", port["id"])
    assert after["status"] == "DOWN" and after["binding_vif_type"] == "unbound"


def test_the_same_boot_with_openstacksdk(osc_venv: Path, aio: Path) -> None:
    env = client_env(aio / "clouds.yaml")
    done = subprocess.run([str(osc_venv / "bin" / "python"), "-c", _SDK_BOOT], env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "ACTIVE"
    vf = until(lambda: _vf(aio, result["host"], result["profile"]["pci_slot"]),
               lambda v: str(v.mac) == result["mac"], "the VF carrying the port's MAC",
               timeout=30)
    assert str(vf.mac) == result["mac"] and vf.vlan == 17
