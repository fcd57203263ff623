"""Persistence files: the systemd unit, the udev rule, the modprobe option (§20.2 4c), idempotence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sriovstack.errors import NotSupported
from sriovstack.host.persistence import (
    BEFORE_UNITS,
    UDEV_RULES,
    PersistMethod,
    PersistTarget,
    apply_persistence,
    device_unit,
    pf_device_path,
    plan_persistence,
    unit_path,
)
from sriovstack.host.sysfs import RealSysfs
from sriovstack.pci.address import PciAddress

PF0 = PciAddress.parse("0000:0b:00.0")
PF1 = PciAddress.parse("0000:0b:00.1")
DEV0 = "/sys/devices/pci0000:00/0000:00:03.0/0000:0b:00.0"
DEV1 = "/sys/devices/pci0000:00/0000:00:03.0/0000:0b:00.1"


def target(address: PciAddress = PF0, count: int = 7, driver: str | None = "igb") -> PersistTarget:
    return PersistTarget(address, driver, count, DEV0 if address == PF0 else DEV1)


def persist(root: Path, method: PersistMethod, tgt: PersistTarget | None = None) -> None:
    apply_persistence(root, plan_persistence(root, tgt or target(), method))


def read(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text()


def unit_lines(root: Path) -> dict[str, str]:
    lines = read(root, unit_path(PF0)).splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            out[str(path.relative_to(root))] = path.read_text() if not path.is_symlink() else ""
    return out


def test_device_unit_is_the_escaped_sysfs_path() -> None:
    assert device_unit(DEV0) == "sys-devices-pci0000:00-0000:00:03.0-0000:0b:00.0.device"
    assert device_unit("/sys/devices/a-b/.x") == "sys-devices-a\\x2db-.x.device"


def test_pf_device_path_resolves_the_bus_link(tmp_path: Path) -> None:
    real = tmp_path / DEV0.lstrip("/")
    real.mkdir(parents=True)
    bus = tmp_path / "sys/bus/pci/devices"
    bus.mkdir(parents=True)
    (bus / str(PF0)).symlink_to("../../../devices/pci0000:00/0000:00:03.0/0000:0b:00.0")
    assert pf_device_path(RealSysfs(tmp_path), PF0) == DEV0


def test_systemd_unit_content_and_ordering(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.SYSTEMD)
    unit = unit_lines(tmp_path)
    dev = "sys-devices-pci0000:00-0000:00:03.0-0000:0b:00.0.device"
    assert unit["After"] == dev and unit["Requires"] == dev
    before = unit["Before"].split()
    assert before == list(BEFORE_UNITS)
    for required in ("libvirtd.service", "sriovstack-compute-agent.service",
                     "sriovstack-sriov-agent.service", "neutron-sriov-nic-agent.service",
                     "openstack-nova-compute.service"):
        assert required in before
    assert unit["Type"] == "oneshot" and unit["RemainAfterExit"] == "yes"
    assert unit["WantedBy"] == "multi-user.target"
    # By PCI address, not by netdev name.
    assert unit["ExecStart"] == "/usr/bin/sriovstack host set-vfs 0000:0b:00.0 7"
    text = read(tmp_path, unit_path(PF0))
    assert text.index("[Unit]") < text.index("[Service]") < text.index("[Install]")


def test_systemd_enables_the_unit_like_systemctl(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.SYSTEMD)
    wants = tmp_path / "etc/systemd/system/multi-user.target.wants"
    link = wants / "sriovstack-vfs@0000:0b:00.0.service"
    assert os.readlink(link) == "/etc/systemd/system/sriovstack-vfs@0000:0b:00.0.service"


def test_systemd_udev_rule_tags_and_restarts_on_bind(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.SYSTEMD)
    rules = [r for r in read(tmp_path, UDEV_RULES).splitlines() if not r.startswith("#")]
    assert rules == [
        'ACTION=="add|bind|change", SUBSYSTEM=="pci", KERNEL=="0000:0b:00.0", TAG+="systemd"',
        'ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:0b:00.0", RUN+="/usr/bin/systemctl '
        '--no-block restart sriovstack-vfs@0000:0b:00.0.service"',
    ]


def test_udev_only_writes_the_count_on_bind(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.UDEV)
    rules = [r for r in read(tmp_path, UDEV_RULES).splitlines() if not r.startswith("#")]
    assert rules == ['ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:0b:00.0", '
                     'ATTR{sriov_numvfs}="7"']
    assert not (tmp_path / unit_path(PF0).lstrip("/")).exists()


@pytest.mark.parametrize("method", list(PersistMethod))
def test_rerunning_is_idempotent(tmp_path: Path, method: PersistMethod) -> None:
    persist(tmp_path, method)
    first = tree(tmp_path)
    persist(tmp_path, method)
    assert tree(tmp_path) == first


def test_new_count_replaces_the_line_never_duplicates(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.UDEV)
    persist(tmp_path, PersistMethod.UDEV, target(count=3))
    rules = read(tmp_path, UDEV_RULES)
    assert rules.count('KERNEL=="0000:0b:00.0"') == 1 and 'ATTR{sriov_numvfs}="3"' in rules


def test_two_pfs_keep_each_others_lines(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.SYSTEMD)
    persist(tmp_path, PersistMethod.SYSTEMD, target(PF1, 5))
    persist(tmp_path, PersistMethod.SYSTEMD, target(PF0, 2))
    rules = read(tmp_path, UDEV_RULES)
    assert rules.count('KERNEL=="0000:0b:00.0"') == 2 and rules.count('KERNEL=="0000:0b:00.1"') == 2
    assert "set-vfs 0000:0b:00.1 5" in read(tmp_path, unit_path(PF1))
    assert "set-vfs 0000:0b:00.0 2" in read(tmp_path, unit_path(PF0))


def test_switching_systemd_to_udev_removes_our_unit(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.SYSTEMD)
    persist(tmp_path, PersistMethod.UDEV)
    assert not os.path.lexists(tmp_path / unit_path(PF0).lstrip("/"))
    assert not any("multi-user.target.wants" in p and "0b:00.0" in p for p in tree(tmp_path))
    assert "systemctl" not in read(tmp_path, UDEV_RULES)


def test_modprobe_writes_the_chapter_option_with_warnings(tmp_path: Path) -> None:
    plan = plan_persistence(tmp_path, target(), PersistMethod.MODPROBE)
    apply_persistence(tmp_path, plan)
    lines = read(tmp_path, "/etc/modprobe.d/igb.conf").splitlines()
    assert lines[-1] == "options igb max_vfs=7"
    assert any("EVERY port" in w and "20.2 4c" in w for w in plan.warnings)
    assert any("initramfs" in w for w in plan.warnings)
    assert plan.next_steps == ("dracut -f",)


def test_modprobe_keeps_other_lines_and_replaces_the_chapters_append(tmp_path: Path) -> None:
    conf = tmp_path / "etc/modprobe.d/igb.conf"
    conf.parent.mkdir(parents=True)
    # What the chapter's `echo "options igb max_vfs=7" >> igb.conf` leaves, beside other content.
    conf.write_text("# site settings\nblacklist igbvf\noptions igb max_vfs=7 debug=2\n"
                    "options igb max_vfs=7\n")
    persist(tmp_path, PersistMethod.MODPROBE, target(count=4))
    persist(tmp_path, PersistMethod.MODPROBE, target(count=4))
    assert conf.read_text().splitlines() == [
        "# site settings", "blacklist igbvf", "options igb debug=2",
        "# sriovstack: max_vfs for every igb port", "options igb max_vfs=4"]


def test_modprobe_mlx4_uses_num_vfs(tmp_path: Path) -> None:
    persist(tmp_path, PersistMethod.MODPROBE, target(driver="mlx4_core", count=4))
    assert "options mlx4_core num_vfs=4" in read(tmp_path, "/etc/modprobe.d/mlx4_core.conf")


@pytest.mark.parametrize("driver", ["i40e", "ice", "mlx5_core", None])
def test_modprobe_refused_for_sysfs_only_drivers(tmp_path: Path, driver: str | None) -> None:
    with pytest.raises(NotSupported) as err:
        plan_persistence(tmp_path, target(driver=driver), PersistMethod.MODPROBE)
    assert "--persist systemd" in str(err.value) and "0000:0b:00.0" in str(err.value)
    assert not any(tmp_path.iterdir())
