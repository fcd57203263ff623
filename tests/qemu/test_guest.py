"""The guest runner: its QEMU command line and init (no QEMU needed), then one real guest
driven through `sriovstack host exec` and `sriovstack qemu list` (the qemu tier)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sriovstack.cli.main import main
from sriovstack.errors import NotFound
from sriovstack.qemu import Accel, Guest, GuestSpec, Image, Package, find_guest, qemu_argv
from sriovstack.qemu.guest import kernel_args
from sriovstack.qemu.initscript import init_archive
from tests.qemu.test_image_parts import read_newc

IMAGE = Image(Path("/img"), "6.1.0-57-amd64", (Package("linux-image-6.1.0-57-amd64", "6.1", 1),),
              ("igb",), 1, 1.0)


def argv_of(spec: GuestSpec, accel: Accel = Accel.TCG) -> list[str]:
    return qemu_argv(IMAGE, spec, accel, 4242, Path("/run/c.log"), Path("/run/c.initrd"))


def test_the_guest_has_the_iommu_with_interrupt_remapping_and_one_igb_per_port() -> None:
    argv = argv_of(GuestSpec("compute0", igb_ports=2))
    assert argv[:3] == ["qemu-system-x86_64", "-accel", "tcg"]
    assert "intel-iommu,intremap=on,caching-mode=on" in argv
    assert "q35,kernel-irqchip=split" in argv
    igbs = [a for a in argv if a.startswith("igb,")]
    assert igbs == ["igb,bus=rp0,netdev=p0,mac=52:54:00:82:57:00",
                    "igb,bus=rp1,netdev=p1,mac=52:54:00:82:57:01"]
    assert argv[argv.index("-initrd") + 1] == "/run/c.initrd"


def test_the_guest_reaches_nothing_but_its_agent_forward_on_loopback() -> None:
    argv = argv_of(GuestSpec("compute0", igb_ports=1))
    netdevs = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert len(netdevs) == 2 and all(",restrict=on" in n for n in netdevs)
    assert "hostfwd=tcp:127.0.0.1:4242-10.0.2.15:7000" in netdevs[0]
    assert "local,path=/,mount_tag=hostroot,security_model=none,readonly=on" in argv


def test_the_kernel_line_has_no_timer_check_and_the_iommu_unless_asked_not_to() -> None:
    on = kernel_args(GuestSpec("compute0", cmdline=("igb.max_vfs=7",))).split()
    assert {"console=ttyS0", "no_timer_check", "intel_iommu=on", "sriovstack.name=compute0",
            "igb.max_vfs=7"} <= set(on)
    off = kernel_args(GuestSpec("compute0", iommu=False)).split()
    assert "intel_iommu=on" not in off and "no_timer_check" in off
    assert argv_of(GuestSpec("c"), Accel.KVM)[:3] == ["qemu-system-x86_64", "-accel", "kvm"]


def test_the_init_archive_runs_the_exec_agent_chrooted_in_the_host_root() -> None:
    [(name, _, body, _)] = read_newc(gzip.decompress(init_archive()))
    script = body.decode()
    assert name == "init" and script.startswith("#!/bin/busybox sh\n")
    assert "mount -t 9p -o trans=virtio,version=9p2000.L,ro" in script
    assert 'chroot /host /usr/bin/env -i' in script


def test_an_unknown_guest_is_not_found_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no QEMU guest named compute9") as info:
        find_guest(tmp_path, "compute9")
    assert info.value.fix == "sriovstack qemu boot --name compute9"


def test_a_guest_whose_qemu_is_gone_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "compute0.json").write_text(json.dumps({
        "name": "compute0", "pid": 2 ** 22 + 7, "port": 1, "console": "/x", "accel": "tcg",
        "boot_seconds": 1.0}))
    with pytest.raises(NotFound, match="no longer running"):
        find_guest(tmp_path, "compute0")


def test_host_exec_needs_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["host", "exec", "--guests-dir", str(tmp_path), "compute0", "--"]) == 2
    assert "host exec needs a command after --" in capsys.readouterr().err


@pytest.mark.qemu
def test_host_exec_runs_the_guest_kernels_own_tools(
        qemu_guest: Guest, qemu_run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["host", "exec", "--guests-dir", str(qemu_run_dir), qemu_guest.name, "--",
                 "sh", "-c", "uname -r; cat /sys/bus/pci/devices/*/device; ip -br link"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6.1.0-") and out.count("0x10c9") == 2  # two 82576 PFs
    assert "52:54:00:82:57:00" in out and "52:54:00:82:57:01" in out


@pytest.mark.qemu
def test_the_guest_has_interrupt_remapping_for_real(qemu_guest: Guest) -> None:
    dmesg = qemu_guest.run(["dmesg"], 60)
    assert dmesg.rc == 0
    assert "DMAR-IR: Enabled IRQ remapping in xapic mode" in dmesg.stdout
    ecap = qemu_guest.run(["cat", "/sys/class/iommu/dmar0/intel-iommu/ecap"], 30).stdout
    assert (int(ecap, 16) >> 3) & 1  # bit 3: interrupt remapping supported


@pytest.mark.qemu
def test_exec_reports_timeouts_and_missing_programs(qemu_guest: Guest) -> None:
    assert qemu_guest.run(["sleep", "30"], timeout=2).rc == 124
    missing = qemu_guest.run(["no-such-program-here"], 30)
    assert missing.rc == 127 and "no-such-program-here" in missing.stderr


@pytest.mark.qemu
def test_the_guest_cannot_reach_out(qemu_guest: Guest) -> None:
    probe = ("import socket\ns = socket.socket(); s.settimeout(5)\n"
             "print(s.connect_ex(('10.0.2.2', 22)))")
    result = qemu_guest.run(["python3", "-c", probe], 60)
    assert result.rc == 0 and result.stdout.strip() != "0"  # restrict=on: no way out


@pytest.mark.qemu
def test_qemu_list_shows_the_running_guest(
        qemu_guest: Guest, qemu_run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["qemu", "list", "--guests-dir", str(qemu_run_dir)]) == 0
    out = capsys.readouterr().out
    assert qemu_guest.name in out and f"127.0.0.1:{qemu_guest.port}" in out


def test_a_compute_guest_reaches_the_api_on_loopback_through_a_relay_and_dies_with_us() -> None:
    argv = argv_of(GuestSpec("compute0", api=("127.0.0.1", 9876), tied=True))
    assert argv[:4] == ["setpriv", "--pdeathsig", "KILL", "--"]
    ctl = argv[argv.index("-netdev") + 1]
    assert ctl.startswith("user,id=ctl,restrict=on,hostfwd=tcp:127.0.0.1:4242-")
    fwd = ctl.split(",guestfwd=")[1]
    assert fwd.startswith("tcp:10.0.2.100:8080-cmd:")
    assert fwd.endswith("sriovstack/qemu/relay.py 127.0.0.1 9876")
    plain = argv_of(GuestSpec("compute0"))
    assert plain[0] == "qemu-system-x86_64" and "guestfwd" not in " ".join(plain)
