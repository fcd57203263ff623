"""NetnsVirtDriver: the VirtDriver contract on emulated guests (root needed; skipped otherwise).

The guest is a network namespace: the tests look at what is in it (the VF netdev with the
port's MAC and address, the echo service) and at what the driver refuses, and check that a
refused or failed call leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from ipaddress import ip_interface
from pathlib import Path

import pytest

from sriovstack.allinone.machines import open_simulated
from sriovstack.conf.parsers import DeviceMapping
from sriovstack.dataplane import (HostDataplane, NsLinks, cleanup_dataplane, create_ns,
                                  disable_dataplane, enable_dataplane, list_ns, ns_exists,
                                  ns_pids)
from sriovstack.errors import Conflict, HostError, NotFound, NotSupported
from sriovstack.host import Host, open_real_host
from sriovstack.host.netlink import VfState
from sriovstack.host.simulated import SimState, open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.virt import GuestSpec, VfInterface, VirtDriver
from sriovstack.virt.netns import NetnsVirtDriver, NormalPort

VFS = tuple(PciAddress.parse(f"0000:3b:02.{i}") for i in range(3))


def _build(tmp_path: Path) -> Path:
    data = {"host": [{"name": "compute0", "role": "compute", "iommu": "intel", "nic": [
        {"model": "intel-x710", "address": "0000:3b:00.0", "netdevs": ["ens1f0", "ens1f1"],
         "numvfs": 3}]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    return tmp_path / "root"


@pytest.fixture
def prefix() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("the netns virt driver needs root and nftables")
    name = f"v{uuid.uuid4().hex[:4]}-"
    yield name
    left = [ns for ns in list_ns() if ns.startswith(name)]
    cleanup_dataplane(name)
    assert left == [], f"namespaces left behind: {left}"


@pytest.fixture
def opened(tmp_path: Path, prefix: str) -> Iterator[tuple[Host, HostDataplane]]:
    host, plane = open_simulated(_build(tmp_path))
    enable_dataplane(plane, [DeviceMapping("physnet1", "ens1f0")], prefix=prefix)
    yield host, plane
    disable_dataplane(plane)


@pytest.fixture
def root(opened: tuple[Host, HostDataplane]) -> Path:
    return opened[0].root


@pytest.fixture
def plane(opened: tuple[Host, HostDataplane]) -> HostDataplane:
    return opened[1]


@pytest.fixture
def driver(tmp_path: Path, opened: tuple[Host, HostDataplane],
           prefix: str) -> Iterator[NetnsVirtDriver]:
    made = NetnsVirtDriver(*opened, tmp_path / "state", prefix=prefix)
    yield made
    for guest in made.list_guests():
        made.destroy(guest.server_id)


def _vf(i: int, port: str | None = None, vlan: int = 100) -> VfInterface:
    return VfInterface(VFS[i], MacAddress(f"fa:16:3e:00:00:{i + 1:02x}"), vlan,
                       port or f"port-{i}", ip_interface(f"10.0.0.{i + 1}/24"))


def _spec(*vfs: VfInterface) -> GuestSpec:
    return GuestSpec(str(uuid.uuid4()), "webserver01", 1, 512, vfs)


def _vf_state(root: Path, index: int) -> VfState:
    return open_simulated_host(root).netlink.get_vfs("ens1f0")[index]


def test_it_is_a_virt_driver(driver: NetnsVirtDriver) -> None:
    assert isinstance(driver, VirtDriver)


def test_spawn_makes_a_guest_namespace_with_the_vf_and_an_echo_service(
        driver: NetnsVirtDriver, root: Path, plane: HostDataplane) -> None:
    spec = _spec(_vf(0))
    guest = driver.spawn(spec)
    assert guest.running and guest.interfaces == spec.interfaces
    assert driver.get_guest(spec.server_id) == guest and driver.list_guests() == (guest,)
    ns = driver.guest_netns(spec.server_id)
    assert plane.vf_netdev(VFS[0]) == (ns, "eth0")
    assert len(ns_pids(ns)) == 1  # the echo service
    shown = subprocess.run(["ip", "-n", ns, "-br", "addr", "show", "eth0"], check=True,
                           capture_output=True, text=True).stdout
    assert "10.0.0.1/24" in shown and " UP " in f" {shown} "
    # The MAC and VLAN went through the PF first, as libvirt sets them (§5.3).
    state = _vf_state(root, 0)
    assert (state.mac, state.vlan) == (MacAddress("fa:16:3e:00:00:01"), 100)


def test_destroy_gives_the_vfs_back_and_removes_the_namespace(driver: NetnsVirtDriver,
                                                              plane: HostDataplane) -> None:
    spec = _spec(_vf(0), _vf(1))
    driver.spawn(spec)
    ns = driver.guest_netns(spec.server_id)
    assert driver.destroy(spec.server_id) == spec.interfaces
    assert not ns_exists(ns) and driver.list_guests() == ()
    assert {plane.vf_netdev(vf)[0] for vf in VFS[:2]} == {plane.info().host_ns}
    with pytest.raises(NotFound):
        driver.destroy(spec.server_id)


def test_attach_and_detach_a_vf_on_a_running_guest(driver: NetnsVirtDriver,
                                                   plane: HostDataplane) -> None:
    spec = _spec(_vf(0))
    driver.spawn(spec)
    driver.attach_vf(spec.server_id, _vf(1))
    ns = driver.guest_netns(spec.server_id)
    assert plane.vf_netdev(VFS[1]) == (ns, "eth1")
    assert driver.detach_vf(spec.server_id, "port-1") == _vf(1)
    assert plane.vf_netdev(VFS[1])[0] == plane.info().host_ns
    assert driver.get_guest(spec.server_id).interfaces == (_vf(0),)
    with NsLinks(ns) as links:
        assert not links.has("eth1")
    with pytest.raises(NotFound, match="port-1 is not attached"):
        driver.detach_vf(spec.server_id, "port-1")


def test_a_vf_held_by_one_guest_is_refused_to_another_and_nothing_is_made(
        driver: NetnsVirtDriver) -> None:
    first = _spec(_vf(0))
    driver.spawn(first)
    second = _spec(_vf(0, port="other"))
    with pytest.raises(Conflict, match="already attached"):
        driver.spawn(second)
    assert not ns_exists(driver.guest_netns(second.server_id))
    assert [g.server_id for g in driver.list_guests()] == [first.server_id]
    with pytest.raises(Conflict):
        driver.attach_vf(first.server_id, _vf(0, port="again"))


def test_unknown_servers_are_not_found(driver: NetnsVirtDriver) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound):
        driver.attach_vf(missing, _vf(0))
    with pytest.raises(NotFound):
        driver.plug_port(missing, NormalPort("p", MacAddress("fa:16:3e:00:00:99"), "physnet1", 100))
    with pytest.raises(NotFound):
        driver.get_guest(missing)


def test_a_spawn_that_fails_half_way_leaves_nothing(driver: NetnsVirtDriver,
                                                    plane: HostDataplane) -> None:
    host_ns, end = plane.vf_netdev(VFS[1])
    with NsLinks(host_ns) as links:  # the second VF's netdev vanishes behind our back
        links.delete(end)
    spec = _spec(_vf(0), _vf(1))
    with pytest.raises(HostError):
        driver.spawn(spec)
    assert driver.list_guests() == ()
    assert not ns_exists(driver.guest_netns(spec.server_id))
    assert plane.vf_netdev(VFS[0])[0] == host_ns  # the first VF came back to the host


def test_normal_ports_plug_and_unplug(driver: NetnsVirtDriver) -> None:
    spec = _spec()
    driver.spawn(spec)
    port = NormalPort("normal-1", MacAddress("fa:16:3e:00:01:01"), "physnet1", 100,
                      ip_interface("10.0.0.9/24"))
    assert driver.plug_port(spec.server_id, port) == "eth0"
    with pytest.raises(Conflict, match="already plugged"):
        driver.plug_port(spec.server_id, port)
    driver.unplug_port(spec.server_id, "normal-1")
    with NsLinks(driver.guest_netns(spec.server_id)) as links:
        assert not links.has("eth0")
    with pytest.raises(NotFound):
        driver.unplug_port(spec.server_id, "normal-1")


def test_with_the_data_plane_off_spawn_is_refused_before_anything_is_recorded(
        tmp_path: Path, prefix: str) -> None:
    driver = NetnsVirtDriver(*open_simulated(_build(tmp_path)), tmp_path / "state",
                             prefix=prefix)
    with pytest.raises(NotSupported, match="not enabled"):
        driver.spawn(_spec(_vf(0)))
    assert driver.list_guests() == ()


def test_a_real_host_has_no_data_plane(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match="real one"):
        HostDataplane(open_real_host(tmp_path), SimState(tmp_path))


def test_the_echo_service_module_runs_as_a_script() -> None:
    done = subprocess.run([sys.executable, "-m", "sriovstack.dataplane.echo", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "--port" in done.stdout


def test_spawn_replaces_this_hosts_leftover_namespace_instead_of_adopting_it(
        driver: NetnsVirtDriver, plane: HostDataplane) -> None:
    spec = _spec(_vf(0))
    ns = driver.guest_netns(spec.server_id)
    create_ns(ns)  # left by an earlier guest of this server whose record is gone
    stray = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "30"])
    try:
        deadline = time.monotonic() + 10
        while stray.pid not in ns_pids(ns) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ns_pids(ns) == (stray.pid,)
        with pytest.raises(Conflict):
            create_ns(ns, exist_ok=False)
        driver.spawn(spec)
        assert stray.pid not in ns_pids(ns)  # it ended with the leftover
    finally:
        stray.kill()
        stray.wait(timeout=10)
    assert plane.vf_netdev(VFS[0]) == (ns, "eth0")
    assert len(ns_pids(ns)) == 1  # only the new guest's echo service
