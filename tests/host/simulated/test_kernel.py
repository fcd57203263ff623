"""The simulated kernel against the rules of drivers/pci/iov.c and the binding rules (linux_host.md §1.7, §6.3)."""

from __future__ import annotations

import errno
import multiprocessing
import os
from pathlib import Path

import pytest

from sriovstack.errors import NoSriovDriver, VfCountBusy, VfCountRange, host_error_from_errno
from sriovstack.host.discovery import discover
from sriovstack.host.netlink import VfMac, VfVlan
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.kernel import SimulatedKernel, inject_enable_failure, parse_u16
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress

PF = "/sys/bus/pci/devices/0000:0b:00.0"
NUMVFS = f"{PF}/sriov_numvfs"


def _build(tmp_path: Path, **nic: object) -> SimulatedKernel:
    spec = {"model": "intel-82576", "address": "0000:0b:00.0", "netdevs": ["p0", "p1"], **nic}
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "intel", "nic": [spec]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    return SimulatedKernel(tmp_path / "root")


@pytest.fixture
def kernel(tmp_path: Path) -> SimulatedKernel:
    return _build(tmp_path)


def _errno_of(kernel: SimulatedKernel, path: str, text: str) -> int:
    with pytest.raises(OSError) as exc:
        kernel.write(path, text)
    return exc.value.errno or 0


@pytest.mark.parametrize(("text", "value"), [
    ("7", 7), ("7\n", 7), ("0x7", 7), ("0X7", 7), ("07", 7), ("010", 8), ("+3", 3), ("0", 0),
    ("65535", 65535),
])
def test_numvfs_parses_like_kstrtou16_base_0(text: str, value: int) -> None:
    assert parse_u16(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-1", " 1", "1 2", "08", "0x", "65536", "1.5",
                                  "7\n\n"])
def test_numvfs_rejects_what_the_kernel_rejects_with_einval(kernel: SimulatedKernel,
                                                            text: str) -> None:
    assert _errno_of(kernel, NUMVFS, text) == errno.EINVAL
    assert kernel.read(NUMVFS) == "0"


def test_more_than_totalvfs_is_erange_not_einval(kernel: SimulatedKernel) -> None:
    assert _errno_of(kernel, NUMVFS, "8") == errno.ERANGE
    assert _errno_of(kernel, NUMVFS, "0x10") == errno.ERANGE


def test_equal_count_is_a_no_op_even_without_driver(tmp_path: Path) -> None:
    k = _build(tmp_path, driver_bound=False)
    k.write(NUMVFS, "0")
    assert k.read(NUMVFS) == "0"


def test_no_driver_is_enoent(tmp_path: Path) -> None:
    k = _build(tmp_path, driver_bound=False)
    assert _errno_of(k, NUMVFS, "2") == errno.ENOENT


def test_driver_without_sriov_configure_is_enoent(tmp_path: Path) -> None:
    k = _build(tmp_path, model="mellanox-connectx3", netdevs=["ib0"], address="0000:04:00.0")
    with pytest.raises(OSError) as exc:
        k.write("/sys/bus/pci/devices/0000:04:00.0/sriov_numvfs", "4")
    assert exc.value.errno == errno.ENOENT
    assert "does not support SR-IOV configuration via sysfs" in str(exc.value)


def test_nonzero_to_nonzero_is_ebusy_then_zero_first_works(kernel: SimulatedKernel) -> None:
    kernel.write(NUMVFS, "4")
    assert _errno_of(kernel, NUMVFS, "2") == errno.EBUSY
    assert kernel.read(NUMVFS) == "4"
    kernel.write(NUMVFS, "0")
    kernel.write(NUMVFS, "2")
    assert kernel.read(NUMVFS) == "2"


@pytest.mark.parametrize(("code", "cls"), [
    (errno.ERANGE, VfCountRange), (errno.EBUSY, VfCountBusy), (errno.ENOENT, NoSriovDriver)])
def test_errnos_translate_to_the_error_tree(tmp_path: Path, code: int, cls: type) -> None:
    k = _build(tmp_path, driver_bound=code != errno.ENOENT)
    text = {errno.ERANGE: "9", errno.EBUSY: "3", errno.ENOENT: "1"}[code]
    if code == errno.EBUSY:
        k.write(NUMVFS, "1")
    with pytest.raises(OSError) as exc:
        k.write(NUMVFS, text)
    assert isinstance(host_error_from_errno(exc.value, NUMVFS, "write"), cls)


def test_disable_removes_vfs_links_netdevs_and_groups(kernel: SimulatedKernel) -> None:
    root = kernel.root
    kernel.write(NUMVFS, "3")
    groups = sorted(os.listdir(root / "sys/kernel/iommu_groups"))
    kernel.write(NUMVFS, "0")
    assert discover(kernel).find_pf("p0").vfs == ()
    assert not any(n.startswith("virtfn") for n in os.listdir(root / PF.lstrip("/")))
    assert sorted(os.listdir(root / "sys/class/net")) == ["lo", "p0", "p1"]
    assert sorted(os.listdir(root / "sys/bus/pci/devices")) == ["0000:0b:00.0", "0000:0b:00.1"]
    assert os.listdir(root / "sys/bus/pci/drivers/igbvf").count("0000:0b:10.0") == 0
    assert len(os.listdir(root / "sys/kernel/iommu_groups")) == len(groups) - 3


def test_partial_enable_reads_back_fewer(tmp_path: Path) -> None:
    k = _build(tmp_path, max_enabled=3)
    k.write(NUMVFS, "7")  # the write succeeds; the driver only enabled 3 (§1.7.8)
    assert k.read(NUMVFS) == "3"
    assert len(discover(k).find_pf("p0").vfs) == 3


@pytest.mark.parametrize("code", [errno.ENOMEM, errno.EIO, errno.EINVAL])
def test_injected_enable_failures_leave_nothing_behind(kernel: SimulatedKernel,
                                                       code: int) -> None:
    inject_enable_failure(kernel.root, PciAddress.parse("0000:0b:00.0"), code)
    assert _errno_of(kernel, NUMVFS, "2") == code
    assert kernel.read(NUMVFS) == "0" and discover(kernel).find_pf("p0").vfs == ()
    inject_enable_failure(kernel.root, PciAddress.parse("0000:0b:00.0"), None)
    kernel.write(NUMVFS, "2")
    assert kernel.read(NUMVFS) == "2"


def test_autoprobe_off_leaves_new_vfs_unbound(kernel: SimulatedKernel) -> None:
    kernel.write(f"{PF}/sriov_drivers_autoprobe", "0")
    kernel.write(NUMVFS, "2")
    vfs = discover(kernel).find_pf("p0").vfs
    assert [(vf.driver, vf.netdev) for vf in vfs] == [(None, None), (None, None)]
    assert _errno_of(kernel, f"{PF}/sriov_drivers_autoprobe", "maybe") == errno.EINVAL


def test_vfio_override_probe_and_disable_while_assigned_is_eperm_on_igb(
        kernel: SimulatedKernel) -> None:
    kernel.write(NUMVFS, "2")
    vf = "0000:0b:10.0"
    kernel.write(f"/sys/bus/pci/devices/{vf}/driver_override", "vfio-pci\n")
    kernel.write("/sys/bus/pci/drivers/igbvf/unbind", vf)
    kernel.write("/sys/bus/pci/drivers_probe", vf)
    got = discover(kernel).find_pf("p0").vfs[0]
    assert (got.driver, got.netdev) == ("vfio-pci", None)
    assert (kernel.root / f"dev/vfio/{got.iommu_group}").exists()
    assert _errno_of(kernel, NUMVFS, "0") == errno.EPERM
    # Give it back (libvirt's "\n" + reprobe): the host netdev returns, disable works.
    kernel.write(f"/sys/bus/pci/devices/{vf}/driver_override", "\n")
    kernel.write("/sys/bus/pci/drivers/vfio-pci/unbind", vf)
    kernel.write("/sys/bus/pci/drivers_probe", vf)
    assert discover(kernel).find_pf("p0").vfs[0].netdev == "p0v0"
    kernel.write(NUMVFS, "0")


@pytest.mark.parametrize(("path", "text", "code"), [
    ("/sys/bus/pci/drivers/igbvf/unbind", "0000:0b:00.0", errno.ENODEV),   # bound to igb
    ("/sys/bus/pci/drivers/igb/bind", "0000:0b:00.0", errno.EBUSY),        # already bound
    ("/sys/bus/pci/drivers/igb/bind", "0000:0b:1f.7", errno.ENODEV),       # no such device
    ("/sys/bus/pci/drivers/vfio-pci/bind", "0000:0b:10.0", errno.EBUSY),
])
def test_binding_errnos(kernel: SimulatedKernel, path: str, text: str, code: int) -> None:
    kernel.write(NUMVFS, "1")
    assert _errno_of(kernel, path, text) == code


def test_bind_of_a_non_matching_driver_is_enodev(kernel: SimulatedKernel) -> None:
    kernel.write(NUMVFS, "1")
    kernel.write("/sys/bus/pci/drivers/igbvf/unbind", "0000:0b:10.0")
    assert _errno_of(kernel, "/sys/bus/pci/drivers/igb/bind", "0000:0b:10.0") == errno.ENODEV
    kernel.write("/sys/bus/pci/drivers/igbvf/bind", "0000:0b:10.0")
    assert discover(kernel).find_pf("p0").vfs[0].netdev == "p0v0"


def test_vfio_without_iommu_group_fails_to_probe(tmp_path: Path) -> None:
    spec = {"model": "intel-82576", "address": "0000:0b:00.0", "netdevs": ["p0", "p1"]}
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "none",
                      "interrupt_remapping": False, "vfio": True, "nic": [spec]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "r")
    k = SimulatedKernel(tmp_path / "r")
    k.write(NUMVFS, "1")
    k.write("/sys/bus/pci/devices/0000:0b:10.0/driver_override", "vfio-pci")
    k.write("/sys/bus/pci/drivers/igbvf/unbind", "0000:0b:10.0")
    assert _errno_of(k, "/sys/bus/pci/drivers_probe", "0000:0b:10.0") == errno.EINVAL


def test_pf_unbind_tears_down_vfs_and_rebind_restores_netdev(kernel: SimulatedKernel) -> None:
    kernel.write(NUMVFS, "2")
    kernel.write("/sys/bus/pci/drivers/igb/unbind", "0000:0b:00.0")
    pf = discover(kernel).find_pf("0000:0b:00.0")
    assert (pf.driver, pf.netdev, pf.numvfs, pf.vfs) == (None, None, 0, ())
    kernel.write("/sys/bus/pci/drivers/igb/bind", "0000:0b:00.0")
    assert discover(kernel).find_pf("p0").driver == "igb"


@pytest.mark.parametrize(("path", "code"), [
    (f"{PF}/sriov_totalvfs", errno.EACCES), (f"{PF}/vendor", errno.EACCES),
    (f"{PF}/sriov_vf_device", errno.EACCES), ("/sys/class/net/p0/address", errno.EACCES),
    (f"{PF}/no_such_attribute", errno.EACCES), ("/sys/no/such/dir/file", errno.ENOENT),
    ("/proc/cmdline", errno.EACCES),
])
def test_read_only_and_missing_attributes(kernel: SimulatedKernel, path: str,
                                          code: int) -> None:
    before = kernel.read(path) if kernel.exists(path) else None
    assert _errno_of(kernel, path, "1") == code
    assert (kernel.read(path) if kernel.exists(path) else None) == before


def test_phys_port_name_read_is_eopnotsupp(kernel: SimulatedKernel) -> None:
    with pytest.raises(OSError) as exc:
        kernel.read("/sys/class/net/p0/phys_port_name")
    assert exc.value.errno == errno.EOPNOTSUPP


def test_allow_unsafe_interrupts_is_writable_and_etc_is_plain_files(
        kernel: SimulatedKernel) -> None:
    param = "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
    assert kernel.read(param) == "N"
    kernel.write(param, "1")
    assert kernel.read(param) == "Y"
    kernel.write("/etc/modprobe.d/igb.conf", "options igb max_vfs=7\n")
    assert kernel.read("/etc/modprobe.d/igb.conf") == "options igb max_vfs=7"


def test_numvfs_change_resets_netlink_vf_state(kernel: SimulatedKernel) -> None:
    host = open_simulated_host(kernel.root)
    kernel.write(NUMVFS, "2")
    host.netlink.set_vf("p0", 1, VfMac(MacAddress("fa:16:3e:00:00:01")))
    host.netlink.set_vf("p0", 1, VfVlan(15))
    assert host.netlink.get_vfs("p0")[1].vlan == 15
    kernel.write(NUMVFS, "0")
    kernel.write(NUMVFS, "2")
    vf1 = host.netlink.get_vfs("p0")[1]
    assert (vf1.mac, vf1.vlan) == (MacAddress.ZERO, 0)


def _enable(root: str, pf: str) -> None:
    SimulatedKernel(root).write(f"/sys/bus/pci/devices/{pf}/sriov_numvfs", "7")


def test_two_processes_writing_at_once_leave_a_consistent_tree(kernel: SimulatedKernel) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_enable, args=(str(kernel.root), pf))
             for pf in ("0000:0b:00.0", "0000:0b:00.1")]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    inv = discover(kernel)
    assert [len(pf.vfs) for pf in inv.pfs] == [7, 7]
    groups = [vf.iommu_group for pf in inv.pfs for vf in pf.vfs]
    assert len(set(groups)) == 14


def test_threads_sharing_one_host_take_turns(kernel: SimulatedKernel) -> None:
    # The all-in-one's agents share a Host: netlink and sysfs writes from several threads
    # must neither deadlock nor lose each other's state.
    import threading

    host = open_simulated_host(kernel.root)
    kernel.write(NUMVFS, "7")
    errors: list[BaseException] = []

    def configure(vf: int) -> None:
        try:
            for _ in range(5):
                host.netlink.set_vf("p0", vf, VfVlan(10 + vf))
                host.netlink.set_vf("p0", vf, VfMac(MacAddress(f"fa:16:3e:00:00:0{vf}")))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=configure, args=(vf,)) for vf in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and errors == []
    states = host.netlink.get_vfs("p0")
    assert [(s.vlan, str(s.mac)) for s in states] == [(10 + vf, f"fa:16:3e:00:00:0{vf}")
                                                 for vf in range(7)]
