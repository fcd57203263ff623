"""VF count changes on simulated hosts: the kernel's sriov_numvfs rules (reference §1.7)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sriovstack.errors import Conflict, HostError, Invalid, NoSriovDriver, VfCountRange
from sriovstack.host import Host
from sriovstack.host.discovery import discover
from sriovstack.host.records import PhysicalFunction
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.host.vfs import StepKind, apply, plan_vf_count

PF = "enp11s0f0"


def make_host(root: Path, numvfs: int = 0, **nic: object) -> Host:
    """The chapter's compute0 with ``numvfs`` VFs on enp11s0f0 (made through the kernel's rules)."""
    spec = bundled_topology().host("compute0")
    nics = tuple(dataclasses.replace(n, numvfs=0, **nic) for n in spec.nics)
    build_host(dataclasses.replace(spec, nics=nics), root)
    host = open_simulated_host(root=root)
    if numvfs:
        host.sysfs.write("/sys/bus/pci/devices/0000:0b:00.0/sriov_numvfs", str(numvfs))
    return host


def pf_of(host: Host, name: str = PF) -> PhysicalFunction:
    return discover(host.sysfs).find_pf(name)


def set_count(host: Host, count: int, name: str = PF) -> int:
    return apply(plan_vf_count(host, pf_of(host, name), count)).enabled


def writes(host: Host, count: int) -> list[str | None]:
    plan = plan_vf_count(host, pf_of(host), count)
    return [s.value for s in plan.steps if s.kind is StepKind.WRITE]


def test_zero_to_seven(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0)
    assert writes(host, 7) == ["7"]
    assert set_count(host, 7) == 7
    pf = pf_of(host)
    assert pf.numvfs == 7 and len(pf.vfs) == 7


def test_seven_to_seven_is_a_no_op(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=7)
    plan = plan_vf_count(host, pf_of(host), 7)
    assert plan.noop and writes(host, 7) == []
    assert "nothing to do" in plan.describe()[0]
    before = [vf.address for vf in pf_of(host).vfs]
    result = apply(plan)
    assert result.complete and result.enabled == 7
    assert [vf.address for vf in pf_of(host).vfs] == before


def test_seven_to_three_goes_through_zero(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=7)
    assert writes(host, 3) == ["0", "3"]
    assert set_count(host, 3) == 3


def test_to_zero_writes_zero_once(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=7)
    assert writes(host, 0) == ["0"]
    assert set_count(host, 0) == 0 and pf_of(host).vfs == ()


def test_eight_is_refused_naming_the_total(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0)
    with pytest.raises(VfCountRange) as err:
        plan_vf_count(host, pf_of(host), 8)
    text = str(err.value)
    assert "8 VFs" in text and "at most 7" in text and "sriov_totalvfs = 7" in text
    assert "ERANGE" in text and err.value.errno is not None
    assert pf_of(host).numvfs == 0


def test_negative_count_is_invalid(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0)
    with pytest.raises(Invalid):
        plan_vf_count(host, pf_of(host), -1)


def test_unbound_pf_gets_the_enoent_message(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0, driver_bound=False)
    pf = discover(host.sysfs).pfs[0]
    assert pf.driver is None
    with pytest.raises(NoSriovDriver) as err:
        plan_vf_count(host, pf, 7)
    assert "no driver is bound" in str(err.value) and "ENOENT" in str(err.value)
    assert "bind" in (err.value.fix or "")


def test_kernel_enoent_is_translated_when_driver_goes_away(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0)
    plan = plan_vf_count(host, pf_of(host), 7)
    host.sysfs.write("/sys/bus/pci/drivers/igb/unbind", str(plan.address))
    with pytest.raises(NoSriovDriver) as err:
        apply(plan)
    assert "ENOENT" in str(err.value) and str(plan.address) in str(err.value)


def test_vf_bound_to_vfio_blocks_a_change(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=7)
    vf = pf_of(host).vfs[2].address
    host.sysfs.write(f"/sys/bus/pci/devices/{vf}/driver_override", "vfio-pci")
    host.sysfs.write(f"/sys/bus/pci/devices/{vf}/driver/unbind", str(vf))
    host.sysfs.write("/sys/bus/pci/drivers_probe", str(vf))
    with pytest.raises(Conflict) as err:
        plan_vf_count(host, pf_of(host), 3)
    assert str(vf) in str(err.value) and "vfio-pci" in str(err.value)
    assert pf_of(host).numvfs == 7


def test_partial_enable_is_explained(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0, max_enabled=5)
    result = apply(plan_vf_count(host, pf_of(host), 7))
    assert not result.complete and result.enabled == 5
    assert result.note is not None
    assert result.note.startswith("igb enabled 5 of 7 VFs") and "caps" in result.note


def test_rerun_after_success_is_idempotent(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=0)
    set_count(host, 4)
    assert writes(host, 4) == []
    assert set_count(host, 4) == 4


def test_plan_describes_shell_steps(tmp_path: Path) -> None:
    host = make_host(tmp_path, numvfs=7)
    lines = plan_vf_count(host, pf_of(host), 3).describe()
    assert "7 -> 3 VFs" in lines[0]
    assert any(line.strip().startswith("echo 0 > /sys/bus/pci/devices/") for line in lines)


def test_failed_enable_after_disable_restores_old_count(tmp_path: Path) -> None:
    from errno import ENOMEM

    from sriovstack.host.simulated.kernel import inject_enable_failure

    host = make_host(tmp_path, numvfs=7)
    plan = plan_vf_count(host, pf_of(host), 3)
    inject_enable_failure(tmp_path, plan.address, ENOMEM)
    with pytest.raises(HostError) as err:
        apply(plan)
    assert "ENOMEM" in str(err.value)
    assert "previous 7 VFs" in str(err.value)
