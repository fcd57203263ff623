"""The netns all-in-one cloud of the data-plane tests (root): two compute hosts with an X710
(i40e: VF link-state control) each, VLAN networks 15 and 16 with a subnet each, an admin
session on its API, and helpers to boot servers and ping between their emulated guests
(`sriovstack guest ping`, UDP echo).  The module-scoped ``cloud`` fixture (registered in
conftest.py) skips cleanly when not root and checks that stopping the cloud leaves no
namespace behind."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sriovstack.allinone import AllInOne, AllInOneOptions
from sriovstack.allinone.dataplane import DataplaneMode
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.cloud.servers import wait_for_gone, wait_for_status
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.dataplane.netns import list_ns
from tests.dataplane.dataplane_world import root_reason

__all__ = ["Cloud", "Server", "cloud", "start_cloud", "until", "SRIOVSTACK"]

SRIOVSTACK = Path(sys.executable).parent / "sriovstack"
_CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt"
_TOPOLOGY = "".join(
    f'[[host]]\nname = "{name}"\nrole = "{role}"\niommu = "none"\nvfio = false\n'
    for name, role in (("controller", "controller"), ("network", "network"))) + "".join(
    f'[[host]]\nname = "compute{i}"\nrole = "compute"\niommu = "intel"\n'
    f'kernel_cmdline = "{_CMDLINE}"\ncpus = 16\nmemory_mb = 65536\n'
    '  [[host.nic]]\n  model = "intel-x710"\n  address = "0000:3b:00.0"\n'
    '  netdevs = ["ens1f0", "ens1f1"]\n  numvfs = 4\n' for i in range(2))


@dataclass
class Cloud:
    """The running cloud, an admin session on it, and its data plane's prefix."""

    aio: AllInOne
    s: CloudSession
    prefix: str
    nets: dict[int, str]  # VLAN -> network id

    def port(self, vlan: int, vnic_type: str = "direct") -> dict[str, Any]:
        port: dict[str, Any] = self.s.call("POST", "network", "/v2.0/ports", {"port": {
            "network_id": self.nets[vlan], "binding:vnic_type": vnic_type}})["port"]
        return port

    def boot(self, name: str, vlan: int, vnic_type: str = "direct") -> Server:
        port = self.port(vlan, vnic_type)
        images = self.s.call("GET", "image", "/v2/images")["images"]
        flavor = next(f for f in self.s.call("GET", "compute", "/flavors")["flavors"]
                      if f["name"] == "m1.tiny")
        made = self.s.call("POST", "compute", "/servers", {"server": {
            "name": name, "flavorRef": flavor["id"], "imageRef": images[0]["id"],
            "networks": [{"port": port["id"]}]}})["server"]
        view = wait_for_status(self.s, made["id"], 60.0)
        assert view["status"] == "ACTIVE", view
        return Server(made["id"], str(view["OS-EXT-SRV-ATTR:host"]), port["id"],
                      port["fixed_ips"][0]["ip_address"])

    @contextmanager
    def booted(self, *wanted: tuple[str, int]) -> Iterator[tuple[Server, ...]]:
        """Servers booted from (name, VLAN) pairs (direct ports), deleted on the way out."""
        servers: list[Server] = []
        try:
            for name, vlan in wanted:
                servers.append(self.boot(name, vlan))
            yield tuple(servers)
        finally:
            for server in servers:
                self.delete(server)

    def delete(self, server: Server) -> None:
        self.s.call("DELETE", "compute", f"/servers/{server.id}")
        wait_for_gone(self.s, server.id, 60.0)

    def ping(self, src: Server, dst: Server, count: int = 2) -> bool:
        """`sriovstack guest ping` from ``src`` to ``dst``'s fixed IP: any echo came back."""
        done = subprocess.run([str(SRIOVSTACK), "guest", "ping", "--prefix", self.prefix,
                               "--count", str(count), "--timeout", "0.5", src.id, dst.ip],
                              capture_output=True, text=True, check=False)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        return done.returncode == 0

    def admin_state(self, server: Server, up: bool) -> None:
        self.s.call("PUT", "network", f"/v2.0/ports/{server.port_id}",
                    {"port": {"admin_state_up": up}})

    def port_status(self, server: Server) -> str:
        return str(self.s.call("GET", "network", f"/v2.0/ports/{server.port_id}")["port"][
            "status"])


@dataclass(frozen=True)
class Server:
    id: str
    host: str
    port_id: str
    ip: str


def until(check: Callable[[], bool], timeout: float = 20.0) -> bool:
    """``check()`` until it holds or ``timeout`` passes (agents poll: nothing is instant)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)
    return True


def start_cloud(state: Path) -> AllInOne:
    topology = state.parent / f"{state.name}-topology.toml"
    topology.write_text(_TOPOLOGY, encoding="utf-8")
    aio = AllInOne(AllInOneOptions(state_dir=state, port=0, topology=topology,
                                   dataplane=DataplaneMode.NETNS))
    aio.start()
    return aio


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    aio = start_cloud(tmp_path_factory.mktemp("dataplane") / "aio")
    assert aio.dataplane is not None
    prefix = aio.dataplane.prefix
    try:
        with CloudSession(clouds_of(aio)[0]) as s:
            nets = {}
            for vlan in (15, 16):
                net = s.call("POST", "network", "/v2.0/networks", {"network": {
                    "name": f"vlan{vlan}", "provider:network_type": "vlan",
                    "provider:physical_network": "physnet1",
                    "provider:segmentation_id": vlan}})["network"]
                s.call("POST", "network", "/v2.0/subnets", {"subnet": {
                    "network_id": net["id"], "cidr": f"10.{vlan}.0.0/24", "ip_version": 4}})
                nets[vlan] = net["id"]
            yield Cloud(aio, s, prefix, nets)
    finally:
        aio.stop()
    assert [ns for ns in list_ns() if ns.startswith(prefix)] == []
