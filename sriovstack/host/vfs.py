"""Setting a PF's VF count through ``sriov_numvfs``: the plan (iov.c's rules) and applying it.

The recommended algorithm of reference/linux_host.md §1.7: read ``sriov_totalvfs`` and refuse
more; stop when the count is already right; before changing a nonzero count make sure no VF is
in use (vfio-pci / pci-stub) and write 0 first (nonzero -> nonzero is EBUSY); write n; read it
back, because a driver may enable fewer VFs than asked and the write still succeeds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sriovstack.errors import Conflict, HostError, Invalid, NoSriovDriver, VfCountRange, \
    host_error_from_errno
from sriovstack.host.records import PhysicalFunction
from sriovstack.host.sysfs import SysfsIO
from sriovstack.pci import PciAddress

if TYPE_CHECKING:
    from sriovstack.host import Host

__all__ = ["StepKind", "Step", "VfPlan", "VfResult", "plan_vf_count", "apply"]

# Drivers that mean "handed to a guest (or held for one)": disabling VFs under them blocks or
# fails, and would pull the device out from under a running VM (§1.7 step 5, §5.5).
_IN_USE_DRIVERS = frozenset({"vfio-pci", "pci-stub"})


class StepKind(enum.Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Step:
    """One sysfs access of a plan: read ``path``, or write ``value`` to it."""

    kind: StepKind
    path: str
    value: str | None = None

    def __str__(self) -> str:
        if self.kind is StepKind.WRITE:
            return f"echo {self.value} > {self.path}"
        return f"cat {self.path}"


@dataclass(frozen=True, slots=True)
class VfPlan:
    """How to take the PF at ``address`` from ``current`` to ``target`` VFs (``total`` at most)."""

    address: PciAddress
    netdev: str | None
    driver: str | None
    total: int
    current: int
    target: int
    steps: tuple[Step, ...]
    sysfs: SysfsIO = field(compare=False, repr=False)

    @property
    def noop(self) -> bool:
        return self.current == self.target

    def describe(self) -> tuple[str, ...]:
        """Human lines: the summary, then each step as the shell command it amounts to."""
        name = f"{self.address} ({self.netdev or 'no netdev'}, driver {self.driver or 'none'})"
        head = (f"{name}: already {self.target} VFs, nothing to do" if self.noop
                else f"{name}: {self.current} -> {self.target} VFs (sriov_totalvfs {self.total})")
        return (head, *(f"  {step}" for step in self.steps))


@dataclass(frozen=True, slots=True)
class VfResult:
    """What the kernel reports after applying: ``enabled`` VFs; ``note`` explains a shortfall."""

    plan: VfPlan
    enabled: int
    note: str | None = None

    @property
    def complete(self) -> bool:
        return self.enabled == self.plan.target


def _pf_dir(address: PciAddress) -> str:
    return f"/sys/bus/pci/devices/{address}"


def _read_int(sysfs: SysfsIO, path: str) -> int:
    try:
        return int(sysfs.read(path))
    except OSError as exc:
        raise host_error_from_errno(exc, path, f"read {path}") from exc
    except ValueError as exc:
        raise HostError(f"{path} does not hold a number", path=path) from exc


def _check_not_in_use(pf: PhysicalFunction) -> None:
    busy = [vf for vf in pf.vfs if vf.driver in _IN_USE_DRIVERS]
    if busy:
        names = ", ".join(f"{vf.address} ({vf.driver})" for vf in busy)
        raise Conflict(
            f"PF {pf.address} ({pf.netdev or 'no netdev'}): cannot change the VF count while VFs "
            f"are handed to guests: {names}; changing it destroys every VF",
            fix="detach those VFs from their instances (or unbind them from vfio-pci) first",
            field="count")


def plan_vf_count(host: Host, pf: PhysicalFunction, count: int) -> VfPlan:
    """The steps that give ``pf`` exactly ``count`` VFs, read from the live sysfs.

    Raises Invalid (negative count), VfCountRange (above sriov_totalvfs, naming the total),
    Conflict (VFs in use by guests) or NoSriovDriver (no PF driver bound).
    """
    base = _pf_dir(pf.address)
    numvfs = f"{base}/sriov_numvfs"
    total = _read_int(host.sysfs, f"{base}/sriov_totalvfs")
    current = _read_int(host.sysfs, numvfs)
    label = f"PF {pf.address} ({pf.netdev or 'no netdev'})"
    if count < 0:
        raise Invalid(f"VF count must be 0 or more, not {count}", field="count", value=count)
    if count > total:
        raise VfCountRange(
            f"{label}: cannot create {count} VFs; its driver {pf.driver or '(none)'} allows at "
            f"most {total} (sriov_totalvfs = {total}; the kernel answers ERANGE)",
            fix=f"ask for {total} or fewer", path=f"{base}/sriov_totalvfs", value=count)
    steps = [Step(StepKind.READ, f"{base}/sriov_totalvfs"), Step(StepKind.READ, numvfs)]
    if count == current:
        return VfPlan(pf.address, pf.netdev, pf.driver, total, current, count, tuple(steps),
                      host.sysfs)
    if pf.driver is None:
        raise NoSriovDriver(
            f"{label}: no driver is bound, so the kernel cannot configure SR-IOV "
            f"(writing sriov_numvfs gives ENOENT)",
            fix=f"load and bind the NIC driver first (e.g. modprobe igb, or echo {pf.address} > "
                f"/sys/bus/pci/drivers/<driver>/bind)", path=numvfs)
    if current:
        _check_not_in_use(pf)
        steps.append(Step(StepKind.WRITE, numvfs, "0"))
    if count:
        steps.append(Step(StepKind.WRITE, numvfs, str(count)))
    steps.append(Step(StepKind.READ, numvfs))
    return VfPlan(pf.address, pf.netdev, pf.driver, total, current, count, tuple(steps),
                  host.sysfs)


def _restore(plan: VfPlan, path: str) -> str:
    """Best effort after a failed enable that followed a disable: put the old count back."""
    if not plan.current or _read_int(plan.sysfs, path) == plan.current:
        return ""
    try:
        plan.sysfs.write(path, str(plan.current))
    except OSError:
        return f"; the previous {plan.current} VFs could not be restored: the PF now has 0"
    return f"; restored the previous {plan.current} VFs"


def _shortfall(plan: VfPlan, enabled: int) -> str | None:
    if enabled == plan.target:
        return None
    if enabled < plan.target:
        return (f"{plan.driver} enabled {enabled} of {plan.target} VFs on {plan.address}: the "
                f"driver caps the count below sriov_totalvfs ({plan.total}) (kernel log: "
                f"\"{plan.target} VFs requested; only {enabled} enabled\"); ask for {enabled} or "
                f"fewer, or check the driver's limits and the firmware's SR-IOV settings")
    return (f"{plan.address} reports {enabled} VFs after asking for {plan.target}: another "
            f"agent (NetworkManager, a udev rule) may be setting this PF too")


def apply(plan: VfPlan) -> VfResult:
    """Run ``plan``'s writes in order, then read back; OSError becomes the matching HostError.

    A no-op plan writes nothing.  A driver that enables fewer VFs than asked is not an error
    to the kernel: the result's ``note`` explains the shortfall and ``complete`` is False.
    """
    for step in plan.steps:
        if step.kind is not StepKind.WRITE:
            continue
        try:
            plan.sysfs.write(step.path, step.value or "")
        except OSError as exc:
            err = host_error_from_errno(
                exc, step.path, f"write {step.value} to sriov_numvfs of {plan.address}")
            restored = _restore(plan, step.path) if step.value != "0" else ""
            raise type(err)(err.message + restored, path=step.path, errno=exc.errno) from exc
    enabled = _read_int(plan.sysfs, f"{_pf_dir(plan.address)}/sriov_numvfs")
    return VfResult(plan, enabled, _shortfall(plan, enabled))
