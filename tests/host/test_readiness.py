"""Readiness verdicts on simulated hosts with good and broken setups (chapter §20.2, §20.8)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from sriovstack.host import Host
from sriovstack.host.discovery import discover
from sriovstack.host.persistence import (PersistMethod, PersistTarget, apply_persistence,
                                         pf_device_path, plan_persistence)
from sriovstack.host.readiness import Report, Verdict, check_host
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import IommuKind, TopologyHost, bundled_topology

GOOD_CMDLINE = ("BOOT_IMAGE=/vmlinuz-3.10.0-123.el7.x86_64 root=/dev/mapper/rhel-root ro "
                "intel_iommu=on iommu=pt")


def good_spec(**changes: object) -> TopologyHost:
    spec = bundled_topology().host("compute0")
    # The fixture is built without VFs; build() creates them through the kernel's rules.
    nics = tuple(dataclasses.replace(n, numvfs=0, driver_bound=True) for n in spec.nics)
    base = dataclasses.replace(spec, kernel_cmdline=GOOD_CMDLINE, iommu=IommuKind.INTEL,
                               interrupt_remapping=True, allow_unsafe_interrupts=False,
                               vfio=True, nics=nics)
    return dataclasses.replace(base, **changes)


def persist_all(host: Host) -> None:
    for pf in discover(host.sysfs).pfs:
        target = PersistTarget(pf.address, pf.driver, pf.numvfs,
                               pf_device_path(host.sysfs, pf.address))
        apply_persistence(host.root, plan_persistence(host.root, target, PersistMethod.SYSTEMD))


def build(root: Path, spec: TopologyHost, persist: bool = True, vfs: int = 7) -> Host:
    build_host(spec, root)
    host = open_simulated_host(root=root)
    for pf in discover(host.sysfs).pfs:
        if pf.driver and vfs:
            host.sysfs.write(f"/sys/bus/pci/devices/{pf.address}/sriov_numvfs", str(vfs))
    if persist:
        persist_all(host)
    return host


def nics(**changes: object) -> Callable[[TopologyHost], TopologyHost]:
    def change(spec: TopologyHost) -> TopologyHost:
        return dataclasses.replace(spec, nics=tuple(dataclasses.replace(n, **changes)
                                                    for n in spec.nics))
    return change


def second_dmar_without_ir(root: Path) -> None:
    """A second VT-d unit whose ecap lacks bit 3 (0xf050d6), as on some multi-socket boards."""
    unit = root / "sys/devices/virtual/iommu/dmar1"
    (unit / "intel-iommu").mkdir(parents=True)
    (unit / "intel-iommu/ecap").write_text("f050d6\n")
    (root / "sys/class/iommu/dmar1").symlink_to("../../devices/virtual/iommu/dmar1")


def rc_local_only(root: Path) -> None:
    for unit in (root / "etc/systemd/system").glob("sriovstack-vfs@*"):
        unit.unlink()
    for link in (root / "etc/systemd/system/multi-user.target.wants").glob("*"):
        link.unlink()
    (root / "etc/udev/rules.d/70-sriovstack-vfs.rules").unlink()
    rc = root / "etc/rc.d/rc.local"
    rc.parent.mkdir(parents=True)
    rc.write_text("#!/bin/sh\necho 7 > /sys/class/net/enp11s0f0/device/sriov_numvfs\n"
                  "echo 7 > /sys/class/net/enp11s0f1/device/sriov_numvfs\n")


def unsafe_in_dist_conf(root: Path) -> None:
    # The chapter's step v: echo "options vfio_iommu_type1 allow_unsafe_interrupts=1" > dist.conf
    (root / "etc/modprobe.d/dist.conf").write_text(
        "options vfio_iommu_type1 allow_unsafe_interrupts=1\n")


def no_vfs(root: Path) -> None:
    host = open_simulated_host(root=root)
    for pf in discover(host.sysfs).pfs:
        host.sysfs.write(f"/sys/bus/pci/devices/{pf.address}/sriov_numvfs", "0")


def same(spec: TopologyHost) -> TopologyHost:
    return spec


def nothing(root: Path) -> None:
    return None


# (case, spec change, tree change after build, persist?, item expected, its verdict, overall)
CASES = [
    ("chapter-good", same, nothing, True, "IOMMU active", Verdict.PASS, Verdict.PASS),
    ("intel_iommu=pt", lambda s: dataclasses.replace(
        s, kernel_cmdline="ro intel_iommu=pt igb.max_vfs=7"), nothing, True,
     "kernel command line", Verdict.FAIL, Verdict.FAIL),
    ("glued ptigb", lambda s: dataclasses.replace(
        s, kernel_cmdline="ro intel_iommu=ptigb.max_vfs=7"), nothing, True,
     "kernel command line", Verdict.FAIL, Verdict.FAIL),
    ("no IOMMU", lambda s: dataclasses.replace(s, iommu=IommuKind.NONE, kernel_cmdline="ro"),
     nothing, True, "IOMMU active", Verdict.FAIL, Verdict.FAIL),
    ("IR unsupported on one DMAR unit", same, second_dmar_without_ir, True,
     "interrupt remapping", Verdict.FAIL, Verdict.FAIL),
    ("intremap=off", lambda s: dataclasses.replace(
        s, kernel_cmdline=GOOD_CMDLINE + " intremap=off", interrupt_remapping=False), nothing,
     True, "interrupt remapping", Verdict.FAIL, Verdict.FAIL),
    ("unsafe interrupts set needlessly", lambda s: dataclasses.replace(
        s, allow_unsafe_interrupts=True), nothing, True, "allow_unsafe_interrupts",
     Verdict.WARN, Verdict.WARN),
    ("unsafe in the chapter's dist.conf", same, unsafe_in_dist_conf, True,
     "allow_unsafe_interrupts", Verdict.WARN, Verdict.WARN),
    ("IR missing, unsafe not set", lambda s: dataclasses.replace(s, interrupt_remapping=False),
     nothing, True, "allow_unsafe_interrupts", Verdict.FAIL, Verdict.FAIL),
    ("IR missing, unsafe set (trusted guests)", lambda s: dataclasses.replace(
        s, interrupt_remapping=False, allow_unsafe_interrupts=True), nothing, True,
     "allow_unsafe_interrupts", Verdict.WARN, Verdict.FAIL),
    ("no vfio", lambda s: dataclasses.replace(s, vfio=False), nothing, True, "vfio modules",
     Verdict.FAIL, Verdict.FAIL),
    ("driver unbound", nics(driver_bound=False), nothing, False,
     "driver 0000:0b:00.0", Verdict.FAIL, Verdict.FAIL),
    ("no VFs", same, no_vfs, False, "SR-IOV NICs", Verdict.FAIL, Verdict.FAIL),
    ("VFs without persistence", same, nothing, False, "persistence enp11s0f0 (0000:0b:00.0)",
     Verdict.FAIL, Verdict.FAIL),
    ("rc.local only", same, rc_local_only, True, "persistence enp11s0f1 (0000:0b:00.1)",
     Verdict.WARN, Verdict.WARN),
]


@pytest.mark.parametrize(("spec_change", "tree_change", "persist", "name", "verdict", "overall"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(tmp_path: Path, spec_change: Callable[[TopologyHost], TopologyHost],
                  tree_change: Callable[[Path], None], persist: bool, name: str,
                  verdict: Verdict, overall: Verdict) -> None:
    host = build(tmp_path, spec_change(good_spec()), persist)
    tree_change(tmp_path)
    report = check_host(host)
    assert report.item(name).verdict is verdict, report.item(name)
    assert report.verdict is overall, [i for i in report.items if i.verdict is not Verdict.PASS]


def report_of(root: Path, spec: TopologyHost, persist: bool = True) -> Report:
    return check_host(build(root, spec, persist))


def test_good_host_passes_every_item(tmp_path: Path) -> None:
    report = report_of(tmp_path, good_spec())
    assert [i.name for i in report.items if i.verdict is not Verdict.PASS] == []
    names = [i.name for i in report.items]
    assert names[:5] == ["IOMMU active", "kernel command line", "interrupt remapping",
                         "allow_unsafe_interrupts", "vfio modules"]


def test_intel_without_intel_iommu_on_fails_with_grubby(tmp_path: Path) -> None:
    item = report_of(tmp_path, good_spec(iommu=IommuKind.NONE, kernel_cmdline="ro")).item(
        "kernel command line")
    assert item.verdict is Verdict.FAIL
    assert item.fix == 'grubby --update-kernel=ALL --args="intel_iommu=on iommu=pt"'


def test_chapter_pt_slip_evidence_names_proc_cmdline(tmp_path: Path) -> None:
    item = report_of(tmp_path, good_spec(kernel_cmdline="ro intel_iommu=pt")).item(
        "kernel command line")
    assert item.evidence[0].path == "/proc/cmdline"
    assert item.evidence[0].value == "ro intel_iommu=pt"
    assert "intel_iommu=on iommu=pt" in (item.fix or "")


def test_one_dmar_unit_without_ir_is_named(tmp_path: Path) -> None:
    build(tmp_path, good_spec())
    second_dmar_without_ir(tmp_path)
    item = check_host(open_simulated_host(root=tmp_path)).item("interrupt remapping")
    assert "dmar1" in item.summary and "dmar0" not in item.summary
    assert {e.value for e in item.evidence if "ecap" in e.path} == {"f050de", "f050d6"}


def test_unsafe_needless_names_where_it_is_set(tmp_path: Path) -> None:
    build(tmp_path, good_spec())
    unsafe_in_dist_conf(tmp_path)
    item = check_host(open_simulated_host(root=tmp_path)).item("allow_unsafe_interrupts")
    assert "/etc/modprobe.d/dist.conf" in (item.fix or "")


def test_ir_missing_explains_the_tradeoff(tmp_path: Path) -> None:
    item = report_of(tmp_path, good_spec(interrupt_remapping=False)).item(
        "allow_unsafe_interrupts")
    assert "trusted" in item.summary and "20.8" in item.summary
    assert "allow_unsafe_interrupts=1" in (item.fix or "")


def test_rc_local_warning_gives_the_chapter_reason(tmp_path: Path) -> None:
    build(tmp_path, good_spec())
    rc_local_only(tmp_path)
    item = check_host(open_simulated_host(root=tmp_path)).item("persistence enp11s0f0 (0000:0b:00.0)")
    assert "not reliable under systemd" in item.summary
    assert item.evidence[0].path == "/etc/rc.d/rc.local"
    assert item.fix == "sriovstack host set-vfs 0000:0b:00.0 7 --persist systemd"


def test_modprobe_option_counts_as_persistence(tmp_path: Path) -> None:
    build(tmp_path, good_spec(), persist=False)
    (tmp_path / "etc/modprobe.d/igb.conf").write_text("options igb max_vfs=7\n")
    report = check_host(open_simulated_host(root=tmp_path))
    assert report.item("persistence enp11s0f0 (0000:0b:00.0)").verdict is Verdict.PASS


def test_cmdline_max_vfs_counts_as_persistence(tmp_path: Path) -> None:
    report = report_of(tmp_path, good_spec(kernel_cmdline=GOOD_CMDLINE + " igb.max_vfs=7"),
                       persist=False)
    assert report.item("persistence enp11s0f1 (0000:0b:00.1)").verdict is Verdict.PASS


@pytest.mark.parametrize(("cmdline", "verdict"), [
    ("ro", Verdict.PASS),                       # AMD-Vi is on by default with an IVRS table
    ("ro amd_iommu=on", Verdict.WARN),          # not an option: newer kernels log "Unknown option"
    ("ro iommu=off", Verdict.FAIL),
])
def test_amd_host_command_line(tmp_path: Path, cmdline: str, verdict: Verdict) -> None:
    report = report_of(tmp_path, good_spec(iommu=IommuKind.AMD, kernel_cmdline=cmdline))
    assert report.item("kernel command line").verdict is verdict
    assert report.item("IOMMU active").verdict is Verdict.PASS
    assert report.item("interrupt remapping").verdict is Verdict.PASS


def test_intel_iommu_on_by_kernel_default_is_only_a_warning(tmp_path: Path) -> None:
    # IOMMU live without intel_iommu=on (CONFIG_INTEL_IOMMU_DEFAULT_ON): works, but say it,
    # as the chapter's Dell R630 note does.
    item = report_of(tmp_path, good_spec(kernel_cmdline="ro iommu=pt")).item(
        "kernel command line")
    assert item.verdict is Verdict.WARN and "intel_iommu=on" in (item.fix or "")
