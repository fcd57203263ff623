"""Two simulated X710 compute hosts with the netns data plane on, and how tests reach guests."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_interface
from pathlib import Path

from sriovstack.allinone.machines import open_simulated
from pyroute2 import netns

from sriovstack.conf.parsers import DeviceMapping
from sriovstack.dataplane import HostDataplane, disable_dataplane, enable_dataplane
from sriovstack.host import Host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.virt import GuestSpec, VfInterface
from sriovstack.virt.netns import NetnsVirtDriver, NormalPort, ping_from_guest

# An X710-DA2 per host (i40e: VF link state and trust supported): ens1f0 carries physnet1,
# ens1f1 physnet2; port 0's VFs sit at 3b:02.0-3 (offset 16, stride 1).
PF0_VFS = tuple(PciAddress.parse(f"0000:3b:02.{i}") for i in range(4))
MAPPINGS = (DeviceMapping("physnet1", "ens1f0"), DeviceMapping("physnet2", "ens1f1"))


def root_reason() -> str | None:
    """Why the packet tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "the netns data plane needs root"
    if shutil.which("ip") is None or shutil.which("nft") is None:
        return "the netns data plane needs iproute2 and nftables (nft)"
    return None


@dataclass
class World:
    """Compute hosts on one fabric, each with its data plane and netns virt driver."""

    prefix: str
    roots: tuple[Path, ...]
    hosts: tuple[Host, ...]
    planes: tuple[HostDataplane, ...]
    drivers: tuple[NetnsVirtDriver, ...]

    def spawn(self, host: int, vf: int, ip: str, *, vlan: int = 100,
              mac: str | None = None) -> tuple[str, VfInterface]:
        """Boot a guest on ``host`` with VF ``vf`` of ens1f0; returns (server id, its VF)."""
        server_id = str(uuid.uuid4())
        iface = VfInterface(PF0_VFS[vf], MacAddress(mac or f"fa:16:3e:00:{host:02x}:{vf:02x}"),
                            vlan, f"port-{server_id[:8]}", ip_interface(ip))
        self.drivers[host].spawn(GuestSpec(server_id, f"vm-{host}-{vf}", 1, 512, (iface,)))
        return server_id, iface

    def spawn_normal(self, host: int, ip: str, *, vlan: int = 100,
                     physnet: str = "physnet1") -> str:
        """Boot a guest on ``host`` with one normal (Open vSwitch) port; returns its id."""
        server_id = str(uuid.uuid4())
        self.drivers[host].spawn(GuestSpec(server_id, f"vm-{host}-normal", 1, 512))
        port = NormalPort(f"port-{server_id[:8]}",
                          MacAddress(f"fa:16:3e:01:{host:02x}:{vlan & 0xFF:02x}"), physnet, vlan,
                          ip_interface(ip))
        assert self.drivers[host].plug_port(server_id, port) == "eth0"
        return server_id

    def reaches(self, server_id: str, ip: str) -> bool:
        return ping_from_guest(server_id, IPv4Address(ip), count=3, prefix=self.prefix,
                               timeout=1.0).received == 3

    def cut_off(self, server_id: str, ip: str) -> bool:
        return ping_from_guest(server_id, IPv4Address(ip), count=2, prefix=self.prefix,
                               timeout=0.4).received == 0


@contextmanager
def heard_on(ns: str, mac: str) -> Iterator[list[str]]:
    """The interfaces of namespace ``ns`` that frames from ``mac`` came in on (in order),
    while the block runs: a raw socket there sees every frame each of its links receives."""
    sock = netns.create_socket(ns, socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    sock.settimeout(0.05)
    source, ports, done = bytes.fromhex(mac.replace(":", "")), [], threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                frame, (ifname, _, kind, *_) = sock.recvfrom(2048)
            except TimeoutError:
                continue
            if frame[6:12] == source and kind != socket.PACKET_OUTGOING:
                ports.append(ifname)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        yield ports
    finally:
        done.set()
        listener.join(timeout=5)
        sock.close()


def build_world(tmp_path: Path, prefix: str, hosts: int = 2) -> World:
    nic = {"model": "intel-x710", "address": "0000:3b:00.0", "netdevs": ["ens1f0", "ens1f1"],
           "numvfs": 4}
    data = {"host": [{"name": f"compute{i}", "role": "compute", "iommu": "intel",
                      "nic": [nic]} for i in range(hosts)]}
    roots = []
    for host in parse_topology(data, tmp_path / "topology.toml").hosts:
        build_host(host, tmp_path / host.name)
        roots.append(tmp_path / host.name)
    opened = tuple(open_simulated(r) for r in roots)
    for _, plane in opened:
        enable_dataplane(plane, MAPPINGS, prefix=prefix)
    drivers = tuple(NetnsVirtDriver(h, plane, tmp_path / f"state{i}", prefix=prefix)
                    for i, (h, plane) in enumerate(opened))
    return World(prefix, tuple(roots), tuple(h for h, _ in opened),
                 tuple(p for _, p in opened), drivers)


def tear_down(world: World) -> None:
    for driver in world.drivers:
        for guest in driver.list_guests():
            driver.destroy(guest.server_id)
    for plane in world.planes:
        disable_dataplane(plane)
