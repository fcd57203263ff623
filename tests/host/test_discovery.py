"""Discovery on simulated hosts built from topologies: PFs, VFs, links, names, NUMA, IOMMU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sriovstack.errors import NotFound
from sriovstack.host import open_real_host
from sriovstack.host.discovery import discover
from sriovstack.host.lspci import format_listing
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import bundled_topology, parse_topology
from sriovstack.host.sysfs import RealSysfs
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType


def _host(tmp_path: Path, nics: list[dict[str, object]], **host: object) -> Path:
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "intel", **host, "nic": nics}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    return tmp_path / "root"


@pytest.fixture
def chapter(tmp_path: Path) -> Path:
    root = tmp_path / "compute0"
    build_host(bundled_topology("chapter").host("compute0"), root)
    return root


def test_chapter_compute_has_two_82576_ports_without_vfs(chapter: Path) -> None:
    inv = discover(open_simulated_host(chapter).sysfs)
    assert [(str(pf.address), pf.netdev, pf.driver) for pf in inv.pfs] == [
        ("0000:0b:00.0", "enp11s0f0", "igb"), ("0000:0b:00.1", "enp11s0f1", "igb")]
    pf = inv.pfs[0]
    assert (pf.totalvfs, pf.numvfs, pf.vf_device, pf.numa_node) == (7, 0, "10ca", 0)
    assert pf.device.dev_type is DevType.PF
    assert (pf.device.vendor_id, pf.device.product_id) == ("8086", "10c9")
    assert pf.device_name == "82576 Gigabit Network Connection"
    assert pf.operstate == "up" and pf.mac is not None and pf.vfs == ()
    assert pf.iommu_group is not None


CHAPTER_VFS = ["0b:10.0", "0b:10.1", "0b:10.2", "0b:10.3", "0b:10.4", "0b:10.5", "0b:10.6",
               "0b:10.7", "0b:11.0", "0b:11.1", "0b:11.2", "0b:11.3", "0b:11.4", "0b:11.5"]


def test_seven_vfs_per_port_land_at_the_chapters_addresses(chapter: Path) -> None:
    host = open_simulated_host(chapter)
    for pf in ("0000:0b:00.0", "0000:0b:00.1"):
        host.sysfs.write(f"/sys/bus/pci/devices/{pf}/sriov_numvfs", "7")
    inv = discover(host.sysfs)
    got = sorted(vf.address for pf in inv.pfs for vf in pf.vfs)
    assert [a.short for a in got] == CHAPTER_VFS
    # Port 0 takes the even functions, port 1 the odd ones (offset 0x80, stride 2).
    assert [vf.address.short for vf in inv.pfs[0].vfs] == CHAPTER_VFS[0::2]
    assert [vf.address.short for vf in inv.pfs[1].vfs] == CHAPTER_VFS[1::2]
    vf = inv.pfs[1].vfs[6]
    assert (vf.index, vf.netdev, vf.driver) == (6, "enp11s0f1v6", "igbvf")
    assert vf.device.parent_addr == PciAddress.parse("0000:0b:00.1")
    assert (vf.device.dev_type, vf.device.product_id) == (DevType.VF, "10ca")


def test_lspci_listing_matches_the_chapter_20_2_step_7(chapter: Path) -> None:
    host = open_simulated_host(chapter)
    for pf in ("0000:0b:00.0", "0000:0b:00.1"):
        host.sysfs.write(f"/sys/bus/pci/devices/{pf}/sriov_numvfs", "7")
    lines = format_listing(discover(host.sysfs))
    assert lines[0] == ("0b:00.0 Ethernet controller [0200]: Intel Corporation 82576 Gigabit "
                        "Network Connection [8086:10c9] (rev 01)")
    assert lines[2] == ("0b:10.0 Ethernet controller [0200]: Intel Corporation 82576 Virtual "
                        "Function [8086:10ca] (rev 01)")
    assert [line.split()[0] for line in lines] == ["0b:00.0", "0b:00.1"] + CHAPTER_VFS


def test_virtfn_links_sort_numerically_past_ten(tmp_path: Path) -> None:
    root = _host(tmp_path, [{"model": "intel-x540", "address": "0000:03:00.0",
                             "netdevs": ["ens1f0", "ens1f1"], "numvfs": 12}])
    pf = discover(open_simulated_host(root).sysfs).find_pf("ens1f0")
    assert [vf.index for vf in pf.vfs] == list(range(12))
    assert pf.vfs[10].netdev == "ens1f0v10"
    # virtfn2 -> 03:10.4 and virtfn10 -> 03:12.4 (0x80 + 2*10): order follows N, not text.
    assert (pf.vfs[2].address.short, pf.vfs[10].address.short) == ("03:10.4", "03:12.4")


def test_links_are_relative_and_resolve_inside_the_root(chapter: Path) -> None:
    open_simulated_host(chapter).sysfs.write("/sys/bus/pci/devices/0000:0b:00.0/sriov_numvfs", "2")
    for dirpath, dirnames, filenames in os.walk(chapter):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                assert not os.readlink(full).startswith("/"), full
                assert os.path.realpath(full).startswith(os.path.realpath(chapter)), full
    vf = chapter / "sys/bus/pci/devices/0000:0b:10.2"
    assert os.readlink(vf / "physfn") == "../0000:0b:00.0"
    assert os.path.realpath(vf / "physfn") == os.path.realpath(
        chapter / "sys/bus/pci/devices/0000:0b:00.0")


def test_real_sysfs_reads_the_same_tree(chapter: Path) -> None:
    open_simulated_host(chapter).sysfs.write("/sys/bus/pci/devices/0000:0b:00.0/sriov_numvfs", "3")
    assert discover(RealSysfs(chapter)) == discover(open_simulated_host(chapter).sysfs)


def test_unbound_nic_is_found_without_driver_or_netdev(tmp_path: Path) -> None:
    root = _host(tmp_path, [{"model": "intel-82576", "address": "0000:0b:00.0",
                             "netdevs": ["a0", "a1"], "driver_bound": False}])
    pf = discover(open_simulated_host(root).sysfs).find_pf("0000:0b:00.0")
    assert (pf.driver, pf.netdev, pf.mac, pf.operstate) == (None, None, None, None)


def test_numa_node_and_no_iommu(tmp_path: Path) -> None:
    root = _host(tmp_path, [{"model": "mellanox-connectx4lx", "address": "0000:5e:00.0",
                             "netdevs": ["ens2f0", "ens2f1"], "numa_node": 1, "numvfs": 2}],
                 iommu="none", interrupt_remapping=False, vfio=False)
    pf = discover(open_simulated_host(root).sysfs).find_pf("ens2f1")
    assert pf.numa_node == 1 and pf.iommu_group is None
    assert [vf.address.short for vf in pf.vfs] == ["5e:08.2", "5e:08.3"]
    assert all(vf.iommu_group is None and vf.device.numa_node == 1 for vf in pf.vfs)


def test_numa_minus_one_means_unknown(tmp_path: Path) -> None:
    root = _host(tmp_path, [{"model": "intel-x710", "address": "0000:3b:00.0",
                             "netdevs": ["p0", "p1"], "numa_node": -1}])
    assert discover(open_simulated_host(root).sysfs).pfs[0].numa_node is None


def test_each_vf_gets_its_own_iommu_group(chapter: Path) -> None:
    open_simulated_host(chapter).sysfs.write("/sys/bus/pci/devices/0000:0b:00.0/sriov_numvfs", "7")
    pf = discover(open_simulated_host(chapter).sysfs).pfs[0]
    groups = [vf.iommu_group for vf in pf.vfs] + [pf.iommu_group]
    assert None not in groups and len(set(groups)) == len(groups)
    devices = chapter / f"sys/kernel/iommu_groups/{pf.vfs[0].iommu_group}/devices"
    assert os.listdir(devices) == ["0000:0b:10.0"]


def test_find_pf_names_what_exists(chapter: Path) -> None:
    inv = discover(open_simulated_host(chapter).sysfs)
    assert inv.find_pf("0b:00.1").netdev == "enp11s0f1"
    with pytest.raises(NotFound) as exc:
        inv.find_pf("eth9")
    assert "eth9" in str(exc.value) and "enp11s0f0 (0000:0b:00.0)" in str(exc.value)


def test_devices_lists_pfs_then_their_vfs(chapter: Path) -> None:
    open_simulated_host(chapter).sysfs.write("/sys/bus/pci/devices/0000:0b:00.1/sriov_numvfs", "2")
    devs = discover(open_simulated_host(chapter).sysfs).devices()
    assert [(d.address.short, d.dev_type) for d in devs] == [
        ("0b:00.0", DevType.PF), ("0b:00.1", DevType.PF), ("0b:10.1", DevType.VF),
        ("0b:10.3", DevType.VF)]


def test_controller_without_sriov_nic_has_empty_inventory(tmp_path: Path) -> None:
    build_host(bundled_topology().host("controller"), tmp_path)
    assert discover(open_simulated_host(tmp_path).sysfs).pfs == ()


def test_a_real_host_reads_plain_files_under_its_root(tmp_path: Path) -> None:
    host = open_real_host(tmp_path)
    assert not host.simulated and isinstance(host.sysfs, RealSysfs)
    assert discover(host.sysfs).pfs == ()


def test_opening_a_directory_without_a_simulated_host_as_one_is_not_found(
        tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no .sriovstack-sim/"):
        open_simulated_host(tmp_path)


def test_netdev_device_link_is_spelled_as_the_kernel_does(chapter: Path) -> None:
    # /sys/class/net/<if>/device -> ../../../<bdf>: tools that take the link's last name
    # (nova's devname lookup, our devspec) must see the PCI address, not "..".
    link = chapter / "sys/class/net/enp11s0f1/device"
    assert os.readlink(link) == "../../../0000:0b:00.1"
    assert os.path.realpath(link) == os.path.realpath(chapter / "sys/bus/pci/devices/0000:0b:00.1")


def test_devname_whitelist_selects_the_vfs_of_that_pf_on_a_simulated_host(chapter: Path) -> None:
    from sriovstack.host import SysfsDeviceProbe
    from sriovstack.pci.devspec import parse_device_specs

    host = open_simulated_host(chapter)
    host.sysfs.write("/sys/bus/pci/devices/0000:0b:00.1/sriov_numvfs", "7")
    specs = parse_device_specs(['{"devname": "enp11s0f1", "physical_network": "physnet1"}'],
                               SysfsDeviceProbe(host.sysfs))
    inv = discover(host.sysfs)
    picked = {str(vf.device.address) for pf in inv.pfs for vf in pf.vfs
              if specs.match_device(vf.device) is not None}
    assert picked == {str(vf.device.address) for vf in inv.find_pf("enp11s0f1").vfs}
    assert len(picked) == 7
