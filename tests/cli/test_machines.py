"""How the edges open a host: real without the simulator's marker, simulated (wired to its netns
data plane, off until enabled) with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.allinone.machines import open_host, open_simulated, open_with_plane
from sriovstack.dataplane import HostDataplane, dataplane_info
from sriovstack.errors import NotFound
from sriovstack.host.netlink import RealVfNetlink, VfVlan
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.kernel import SimulatedKernel
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.host.sysfs import RealSysfs


@pytest.fixture
def simroot(tmp_path: Path) -> Path:
    build_host(bundled_topology().host("compute0"), tmp_path / "compute0")
    return tmp_path / "compute0"


def test_a_directory_without_the_marker_is_a_real_host_with_no_data_plane(
        tmp_path: Path) -> None:
    host, plane = open_with_plane(tmp_path)
    assert plane is None and not host.simulated
    assert isinstance(host.sysfs, RealSysfs) and isinstance(host.netlink, RealVfNetlink)
    assert open_host(tmp_path).simulated is False


def test_a_simulated_root_opens_as_the_simulated_host_with_its_plane_off(simroot: Path) -> None:
    host, plane = open_with_plane(simroot)
    assert host.simulated and isinstance(host.sysfs, SimulatedKernel)
    assert isinstance(plane, HostDataplane) and dataplane_info(plane) is None
    # The plane is off: the hooks let every change through and make nothing.
    host.sysfs.write("/sys/bus/pci/devices/0000:0b:00.1/sriov_numvfs", "2")
    host.netlink.set_vf("enp11s0f1", 1, VfVlan(15))
    assert open_host(simroot).netlink.get_vfs("enp11s0f1")[1].vlan == 15


def test_a_plain_directory_is_refused_as_a_simulated_host(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no .sriovstack-sim/"):
        open_simulated(tmp_path)
