"""Host readiness for SR-IOV device assignment: the chapter's §20.2 and §20.8 checks as one report.

Each item reads live state through the sysfs seam (reference/linux_host.md §3.2-3.6), keeps
the file and value it read as evidence, and names the command that fixes it.  The verdict of
the report is the worst item.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sriovstack.host.cmdline import GRUBBY_INTEL, IommuSettings, judge_iommu, parse_cmdline
from sriovstack.host.discovery import discover
from sriovstack.host.persistence import UDEV_RULES, unit_path
from sriovstack.host.records import PhysicalFunction
from sriovstack.host.sysfs import SysfsIO

if TYPE_CHECKING:
    from sriovstack.host import Host

__all__ = ["Verdict", "Evidence", "CheckItem", "Report", "check_host"]

_IOMMU_CLASS = "/sys/class/iommu"
_GROUPS = "/sys/kernel/iommu_groups"
_UNSAFE = "/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
_RC_LOCAL = ("/etc/rc.d/rc.local", "/etc/rc.local")
_RC_REASON = ("rc.local is not reliable under systemd: services start in parallel, so it runs at "
              "no fixed point of boot - not before libvirtd or the agents - and never again after "
              "a driver reload (chapter 20.2 note)")
_IR_TRADEOFF = ("without interrupt remapping a guest with an assigned VF can inject interrupts "
                "into the host (chapter 20.8); vfio refuses such devices unless "
                "allow_unsafe_interrupts is set, which is acceptable only where guests are trusted")


class Verdict(enum.Enum):
    """PASS < WARN < FAIL; a report is as bad as its worst item."""

    PASS = 0
    WARN = 1
    FAIL = 2


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file that was read and what it held (``"(absent)"`` when it does not exist)."""

    path: str
    value: str


@dataclass(frozen=True, slots=True)
class CheckItem:
    """One check: its verdict, a one-line summary, the evidence, and the fixing command."""

    name: str
    verdict: Verdict
    summary: str
    evidence: tuple[Evidence, ...] = ()
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """Every readiness item of one host, in check order."""

    items: tuple[CheckItem, ...]

    @property
    def verdict(self) -> Verdict:
        return max((i.verdict for i in self.items), key=lambda v: v.value, default=Verdict.PASS)

    def item(self, name: str) -> CheckItem:
        """The item called ``name`` (KeyError when there is none)."""
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)


def _read(sysfs: SysfsIO, path: str) -> str | None:
    try:
        return sysfs.read(path)
    except OSError:
        return None


def _listdir(sysfs: SysfsIO, path: str) -> list[str]:
    try:
        return sorted(sysfs.listdir(path))
    except OSError:
        return []


def _ev(path: str, value: str | None) -> Evidence:
    return Evidence(path, "(absent)" if value is None else value)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the host-wide checks share: IOMMU units, groups and the command line."""

    units: tuple[str, ...]
    groups: int
    cmdline: str | None
    settings: IommuSettings

    @property
    def vendor(self) -> str:
        if any(u.startswith("ivhd") for u in self.units) or self.settings.amd_iommu is not None:
            return "amd"
        return "intel"

    @property
    def active(self) -> bool:
        return bool(self.units) and self.groups > 0


def _facts(sysfs: SysfsIO) -> _Facts:
    cmdline = _read(sysfs, "/proc/cmdline")
    return _Facts(tuple(_listdir(sysfs, _IOMMU_CLASS)), len(_listdir(sysfs, _GROUPS)), cmdline,
                  judge_iommu(parse_cmdline(cmdline or "")))


def _check_iommu(sysfs: SysfsIO, facts: _Facts) -> CheckItem:
    evidence = (_ev(_IOMMU_CLASS, " ".join(facts.units) or "(empty)"),
                _ev(_GROUPS, f"{facts.groups} groups"))
    if facts.active:
        return CheckItem("IOMMU active", Verdict.PASS,
                         f"{len(facts.units)} IOMMU unit(s), {facts.groups} IOMMU groups", evidence)
    table = "IVRS" if facts.vendor == "amd" else "DMAR"
    fw = f"/sys/firmware/acpi/tables/{table}"
    bios = "" if sysfs.exists(fw) else f"; if {fw} is absent, enable VT-d/AMD-Vi in the BIOS"
    fix = ("remove amd_iommu=off/iommu=off and enable AMD-Vi in the BIOS" if facts.vendor == "amd"
           else f"{GRUBBY_INTEL}, then reboot")
    return CheckItem("IOMMU active", Verdict.FAIL,
                     f"no IOMMU is active in the kernel (20.2 step 2){bios}", evidence, fix)


def _check_cmdline(facts: _Facts) -> CheckItem:
    evidence = (_ev("/proc/cmdline", facts.cmdline),)
    problems = facts.settings.problems
    if problems:
        verdict = Verdict.FAIL if any(p.fatal for p in problems) else Verdict.WARN
        return CheckItem("kernel command line", verdict,
                         "; ".join(p.message for p in problems), evidence,
                         "; ".join(dict.fromkeys(p.fix for p in problems)))
    s = facts.settings
    if s.iommu_off or s.intel_off:
        return CheckItem("kernel command line", Verdict.FAIL,
                         "the command line turns the IOMMU off", evidence,
                         f"grubby --update-kernel=ALL --remove-args=\"iommu intel_iommu\"; "
                         f"{GRUBBY_INTEL}")
    if facts.vendor == "intel" and not s.intel_on:
        # The chapter's Dell R630 note: say it explicitly rather than trust a kernel default.
        verdict = Verdict.WARN if facts.active else Verdict.FAIL
        return CheckItem("kernel command line", verdict,
                         "Intel host without intel_iommu=on" + (
                             " (the IOMMU is on by kernel default here)" if facts.active else ""),
                         evidence, GRUBBY_INTEL)
    return CheckItem("kernel command line", Verdict.PASS, "IOMMU options are valid", evidence)


def _ecaps(sysfs: SysfsIO, units: tuple[str, ...]) -> list[tuple[str, str | None]]:
    paths = [f"{_IOMMU_CLASS}/{u}/intel-iommu/ecap" for u in units if u.startswith("dmar")]
    return [(path, _read(sysfs, path)) for path in paths]


def _ir_support(ecaps: list[tuple[str, str | None]]) -> list[str]:
    """The DMAR units whose ecap lacks bit 3 (Interrupt Remapping support) or is unreadable."""
    bad = []
    for path, value in ecaps:
        try:
            ok = value is not None and (int(value, 16) >> 3) & 1 == 1
        except ValueError:
            ok = False
        if not ok:
            bad.append(path.split("/")[4])
    return bad


def _check_ir(sysfs: SysfsIO, facts: _Facts) -> CheckItem:
    name = "interrupt remapping"
    interrupts = _read(sysfs, "/proc/interrupts")
    ir_lines = [ln for ln in (interrupts or "").splitlines() if " IR-" in ln or "\tIR-" in ln]
    ecaps = _ecaps(sysfs, facts.units)
    evidence = (*(_ev(p, v) for p, v in ecaps),
                _ev("/proc/interrupts", f"{len(ir_lines)} IR- lines" if interrupts is not None
                    else None))
    if not facts.active:
        return CheckItem(name, Verdict.FAIL, "no IOMMU, so no interrupt remapping", evidence,
                         f"{GRUBBY_INTEL}, then reboot")
    if facts.settings.intremap_off:
        return CheckItem(name, Verdict.FAIL, "intremap=off/nointremap turns interrupt remapping "
                         "off on the command line (20.8)", (*evidence, _ev("/proc/cmdline",
                         facts.cmdline)), "grubby --update-kernel=ALL --remove-args=\"intremap "
                         "nointremap\", then reboot")
    lacking = _ir_support(ecaps)
    if lacking:
        return CheckItem(name, Verdict.FAIL, f"DMAR unit(s) {', '.join(lacking)} lack ecap bit 3 "
                         "(IR support); the kernel enables IR only when every unit has it",
                         evidence, "none in software: the platform cannot remap interrupts "
                         "(see allow_unsafe_interrupts)")
    if not ir_lines:
        return CheckItem(name, Verdict.FAIL, "no IR- interrupt chips in /proc/interrupts: "
                         "remapping is not active", evidence,
                         "check the kernel log (journalctl -k | grep -i remapping) and firmware")
    return CheckItem(name, Verdict.PASS, "supported on every unit and active", evidence)


def _unsafe_sources(sysfs: SysfsIO, facts: _Facts) -> list[Evidence]:
    found = []
    value = _read(sysfs, _UNSAFE)
    if value is not None and value.upper() in ("Y", "1"):
        found.append(_ev(_UNSAFE, value))
    if facts.settings.unsafe_interrupts:
        found.append(_ev("/proc/cmdline", "vfio_iommu_type1.allow_unsafe_interrupts=1"))
    for name in _listdir(sysfs, "/etc/modprobe.d"):
        path = f"/etc/modprobe.d/{name}"
        for line in (_read(sysfs, path) or "").splitlines():
            words = line.split()
            if (words[:2] == ["options", "vfio_iommu_type1"]
                    and any(w in ("allow_unsafe_interrupts=1", "allow_unsafe_interrupts=Y")
                            for w in words[2:])):
                found.append(_ev(path, line.strip()))
    return found


def _check_unsafe(sysfs: SysfsIO, facts: _Facts, ir: CheckItem) -> CheckItem:
    name = "allow_unsafe_interrupts"
    sources = _unsafe_sources(sysfs, facts)
    if ir.verdict is Verdict.PASS:
        if not sources:
            return CheckItem(name, Verdict.PASS, "not set, and not needed: interrupt remapping "
                             "works", (_ev(_UNSAFE, _read(sysfs, _UNSAFE)),))
        where = ", ".join(e.path for e in sources)
        return CheckItem(name, Verdict.WARN, "set although interrupt remapping works: it only "
                         "weakens isolation (20.8)", tuple(sources),
                         f"remove it from {where} and reboot")
    if sources:
        return CheckItem(name, Verdict.WARN, f"set because interrupt remapping is missing: "
                         f"{_IR_TRADEOFF}", tuple(sources),
                         "keep it only if every guest on this host is trusted")
    return CheckItem(name, Verdict.FAIL, f"interrupt remapping is missing and it is not set, so "
                     f"vfio will refuse VFs: {_IR_TRADEOFF}",
                     (_ev(_UNSAFE, _read(sysfs, _UNSAFE)),),
                     "if the guests are trusted: echo \"options vfio_iommu_type1 "
                     "allow_unsafe_interrupts=1\" > /etc/modprobe.d/vfio-unsafe.conf")


def _check_vfio(sysfs: SysfsIO) -> CheckItem:
    drv = sysfs.exists("/sys/bus/pci/drivers/vfio-pci")
    node = sysfs.exists("/dev/vfio/vfio")
    type1 = sysfs.exists("/sys/module/vfio_iommu_type1")
    evidence = (_ev("/sys/bus/pci/drivers/vfio-pci", "present" if drv else None),
                _ev("/dev/vfio/vfio", "present" if node else None),
                _ev("/sys/module/vfio_iommu_type1", "present" if type1 else None))
    if drv and node and type1:
        return CheckItem("vfio modules", Verdict.PASS, "vfio-pci and vfio_iommu_type1 loaded",
                         evidence)
    return CheckItem("vfio modules", Verdict.FAIL, "vfio is not ready for device assignment",
                     evidence, "modprobe vfio-pci vfio_iommu_type1")


def _pf_label(pf: PhysicalFunction) -> str:
    return f"{pf.netdev} ({pf.address})" if pf.netdev else str(pf.address)


def _check_driver(pf: PhysicalFunction) -> CheckItem:
    path = f"/sys/bus/pci/devices/{pf.address}/driver"
    if pf.driver:
        return CheckItem(f"driver {_pf_label(pf)}", Verdict.PASS, f"bound to {pf.driver}",
                         (_ev(path, pf.driver),))
    return CheckItem(f"driver {_pf_label(pf)}", Verdict.FAIL, "no driver bound: VFs cannot be "
                     "created (sriov_numvfs gives ENOENT)", (_ev(path, None),),
                     f"modprobe <driver> (e.g. igb), or echo {pf.address} > "
                     f"/sys/bus/pci/drivers/<driver>/bind")


def _check_vfs(sysfs: SysfsIO, pf: PhysicalFunction) -> CheckItem:
    name = f"VFs {_pf_label(pf)}"
    base = f"/sys/bus/pci/devices/{pf.address}"
    links = [n for n in _listdir(sysfs, base) if n.startswith("virtfn")]
    evidence = (_ev(f"{base}/sriov_numvfs", str(pf.numvfs)),
                _ev(f"{base}/virtfn*", f"{len(links)} links"))
    fix = f"sriovstack host set-vfs {pf.address} {pf.totalvfs} --persist systemd"
    if pf.numvfs == 0:
        return CheckItem(name, Verdict.WARN, f"no VFs (up to {pf.totalvfs} possible)", evidence,
                         fix)
    if len(links) != pf.numvfs or len(pf.vfs) != pf.numvfs:
        return CheckItem(name, Verdict.FAIL, f"sriov_numvfs says {pf.numvfs} but {len(links)} "
                         "virtfn links exist", evidence, fix)
    hidden = [str(vf.address) for vf in pf.vfs if vf.netdev is None and vf.driver != "vfio-pci"]
    if hidden:
        return CheckItem(name, Verdict.WARN, f"{len(hidden)} VF(s) have neither a netdev nor "
                         f"vfio-pci: {', '.join(hidden)}", evidence,
                         "check sriov_drivers_autoprobe and the VF driver (e.g. modprobe igbvf)")
    return CheckItem(name, Verdict.PASS, f"{pf.numvfs} VFs visible", evidence)


def _persisted_by(sysfs: SysfsIO, pf: PhysicalFunction, settings: IommuSettings) -> Evidence | None:
    unit = unit_path(pf.address)
    if sysfs.exists(unit):
        return _ev(unit, "present")
    rules = _read(sysfs, UDEV_RULES) or ""
    if f'KERNEL=="{pf.address}"' in rules:
        return _ev(UDEV_RULES, f"rule for {pf.address}")
    for opt in settings.max_vfs():
        if opt.module == pf.driver:
            return _ev("/proc/cmdline", f"{opt.module}.{opt.option}={opt.value}")
    for name in _listdir(sysfs, "/etc/modprobe.d"):
        for line in (_read(sysfs, f"/etc/modprobe.d/{name}") or "").splitlines():
            words = line.split()
            if words[:2] == ["options", pf.driver] and any(
                    w.startswith(("max_vfs=", "num_vfs=")) for w in words[2:]):
                return _ev(f"/etc/modprobe.d/{name}", line.strip())
    return None


def _rc_local(sysfs: SysfsIO, pf: PhysicalFunction) -> Evidence | None:
    keys = [str(pf.address)] + ([pf.netdev] if pf.netdev else [])
    for path in _RC_LOCAL:
        for line in (_read(sysfs, path) or "").splitlines():
            if "sriov_numvfs" in line and any(k in line for k in keys):
                return _ev(path, line.strip())
    return None


def _check_persistence(sysfs: SysfsIO, pf: PhysicalFunction, facts: _Facts) -> CheckItem:
    name = f"persistence {_pf_label(pf)}"
    how = _persisted_by(sysfs, pf, facts.settings)
    if how is not None:
        return CheckItem(name, Verdict.PASS, "the VF count is kept across reboots", (how,))
    fix = f"sriovstack host set-vfs {pf.address} {pf.numvfs} --persist systemd"
    rc = _rc_local(sysfs, pf)
    if rc is not None:
        return CheckItem(name, Verdict.WARN, f"kept only by rc.local: {_RC_REASON}", (rc,), fix)
    return CheckItem(name, Verdict.FAIL, f"nothing recreates the {pf.numvfs} VFs after a reboot",
                     (_ev(unit_path(pf.address), None), _ev(UDEV_RULES, None)), fix)


def _pf_items(sysfs: SysfsIO, facts: _Facts) -> list[CheckItem]:
    pfs = discover(sysfs).pfs
    if not pfs:
        return [CheckItem("SR-IOV NICs", Verdict.FAIL, "no SR-IOV capable network PF found",
                          (_ev("/sys/bus/pci/devices/*/sriov_totalvfs", None),),
                          "check the NIC (lspci -nn) and enable SR-IOV in the BIOS")]
    items = []
    for pf in pfs:
        items += [_check_driver(pf), _check_vfs(sysfs, pf)]
        if pf.numvfs:
            items.append(_check_persistence(sysfs, pf, facts))
    if not any(pf.numvfs for pf in pfs):
        items.append(CheckItem("SR-IOV NICs", Verdict.FAIL, "no PF has any VF yet (20.2 step 4)",
                               (), "sriovstack host set-vfs <PF> <COUNT> --persist systemd"))
    return items


def check_host(host: Host) -> Report:
    """Run every readiness check of §20.2/§20.8 on ``host`` and return the report."""
    sysfs = host.sysfs
    facts = _facts(sysfs)
    ir = _check_ir(sysfs, facts)
    items = [_check_iommu(sysfs, facts), _check_cmdline(facts), ir,
             _check_unsafe(sysfs, facts, ir), _check_vfio(sysfs), *_pf_items(sysfs, facts)]
    return Report(tuple(items))
