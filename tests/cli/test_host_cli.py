"""The ``sriovstack host`` commands through sriovstack.cli.main.main, on simulated hosts."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from sriovstack.cli.main import main

NOVA_CONF = """\
[pci]
passthrough_whitelist = {"address": "0000:0b:00.0", "physical_network": "physnet1"}
"""


def simulate(root: Path, *extra: str) -> None:
    assert main(["host", "simulate", "--root", str(root), *extra]) == 0


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content hash or link target: byte-level identity."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def numvfs(root: Path, address: str = "0000:0b:00.0") -> int:
    return int((root / f"sys/bus/pci/devices/{address}/sriov_numvfs").read_text())


def test_simulate_builds_the_chapter_host(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert (tmp_path / "proc/cmdline").exists()
    assert (tmp_path / "sys/bus/pci/devices/0000:0b:00.0").exists()
    assert "compute0" in capsys.readouterr().out


def test_simulate_unknown_host_is_one_clear_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["host", "simulate", "--root", str(tmp_path), "--host", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no host 'nope'" in err and "compute0" in err and "Traceback" not in err


def test_set_vfs_by_netdev_then_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert main(["host", "set-vfs", "enp11s0f0", "0", "--root", str(tmp_path)]) == 0
    assert main(["host", "set-vfs", "enp11s0f0", "7", "--root", str(tmp_path)]) == 0
    assert numvfs(tmp_path) == 7
    capsys.readouterr()
    assert main(["host", "set-vfs", "0000:0b:00.0", "7", "--root", str(tmp_path)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_set_vfs_seven_to_three(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    main(["host", "set-vfs", "enp11s0f0", "7", "--root", str(tmp_path)])
    assert main(["host", "set-vfs", "enp11s0f0", "3", "--root", str(tmp_path)]) == 0
    assert numvfs(tmp_path) == 3
    out = capsys.readouterr().out
    assert "echo 0 >" in out and "echo 3 >" in out


def test_set_vfs_over_total_is_one_line_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    capsys.readouterr()
    before = numvfs(tmp_path)
    assert main(["host", "set-vfs", "enp11s0f0", "8", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "at most 7" in err and "ERANGE" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert numvfs(tmp_path) == before


def test_set_vfs_unknown_pf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert main(["host", "set-vfs", "eth9", "2", "--root", str(tmp_path)]) == 1
    assert "enp11s0f0" in capsys.readouterr().err


@pytest.mark.parametrize("persist", [None, "systemd", "udev", "modprobe"])
def test_dry_run_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 persist: str | None) -> None:
    simulate(tmp_path)
    main(["host", "set-vfs", "enp11s0f0", "7", "--root", str(tmp_path)])
    before = snapshot(tmp_path)
    argv = ["host", "set-vfs", "enp11s0f0", "3", "--dry-run", "--root", str(tmp_path)]
    capsys.readouterr()
    assert main(argv + (["--persist", persist] if persist else [])) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing changed" in out and "7 -> 3 VFs" in out
    assert snapshot(tmp_path) == before


def test_persist_systemd_writes_unit_and_rule(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert main(["host", "set-vfs", "0000:0b:00.1", "5", "--persist", "systemd",
                 "--root", str(tmp_path)]) == 0
    unit = tmp_path / "etc/systemd/system/sriovstack-vfs@0000:0b:00.1.service"
    assert "ExecStart=/usr/bin/sriovstack host set-vfs 0000:0b:00.1 5" in unit.read_text()
    assert 'KERNEL=="0000:0b:00.1"' in (tmp_path / "etc/udev/rules.d/70-sriovstack-vfs.rules"
                                          ).read_text()
    assert "systemctl daemon-reload" in capsys.readouterr().out


def test_persist_modprobe_warns_about_every_port(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert main(["host", "set-vfs", "enp11s0f0", "7", "--persist", "modprobe",
                 "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "EVERY port" in out and "initramfs" in out
    assert "options igb max_vfs=7" in (tmp_path / "etc/modprobe.d/igb.conf").read_text()


def test_set_vfs_help_says_why_not_rc_local(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["host", "set-vfs", "--help"])
    out = capsys.readouterr().out
    assert "rc.local is never used" in out and "libvirtd" in out


def test_check_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    main(["host", "set-vfs", "enp11s0f0", "7", "--persist", "systemd", "--root", str(tmp_path)])
    main(["host", "set-vfs", "enp11s0f1", "7", "--persist", "systemd", "--root", str(tmp_path)])
    capsys.readouterr()
    code = main(["host", "check", "--root", str(tmp_path)])
    out = capsys.readouterr().out
    assert "IOMMU active" in out and "verdict:" in out
    assert code == (1 if "verdict: FAIL" in out else 0)
    # Take the persistence away from one PF: that item FAILs and so does the command.
    (tmp_path / "etc/systemd/system/sriovstack-vfs@0000:0b:00.0.service").unlink()
    rules = tmp_path / "etc/udev/rules.d/70-sriovstack-vfs.rules"
    rules.write_text("".join(line + "\n" for line in rules.read_text().splitlines()
                             if "0000:0b:00.0" not in line))
    assert main(["host", "check", "--root", str(tmp_path)]) == 1
    assert "verdict: FAIL" in capsys.readouterr().out


def test_list_shows_lspci_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    main(["host", "set-vfs", "enp11s0f0", "2", "--root", str(tmp_path)])
    capsys.readouterr()
    assert main(["host", "devices", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "[8086:10c9]" in out and "0000:0b:00.0" in out and "enp11s0f0" in out
    assert "physnet" not in out


def test_list_with_whitelist_shows_physnet(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    main(["host", "set-vfs", "enp11s0f0", "2", "--root", str(tmp_path)])
    main(["host", "set-vfs", "enp11s0f1", "1", "--root", str(tmp_path)])
    conf = tmp_path / "nova.conf"
    conf.write_text(NOVA_CONF)
    capsys.readouterr()
    assert main(["host", "devices", "--root", str(tmp_path), "--config-file", str(conf)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "VF " in line]
    assert len(rows) == 3
    assert sum("physnet1" in r for r in rows) == 2   # the VFs of enp11s0f0 only


def test_host_link_pulls_and_puts_back_a_pfs_cable(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    operstate = tmp_path / "sys/bus/pci/devices/0000:0b:00.1/net/enp11s0f1/operstate"
    carrier = operstate.with_name("carrier")
    assert main(["host", "link", "compute0", "enp11s0f1", "down", "--root", str(tmp_path)]) == 0
    assert (operstate.read_text().strip(), carrier.read_text().strip()) == ("down", "0")
    assert "PF 0000:0b:00.1 (enp11s0f1) link down" in capsys.readouterr().out
    assert main(["host", "link", "compute0", "0000:0b:00.1", "up", "--root", str(tmp_path)]) == 0
    assert (operstate.read_text().strip(), carrier.read_text().strip()) == ("up", "1")


def test_host_link_names_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    simulate(tmp_path)
    assert main(["host", "link", "compute0", "eth9", "down", "--root", str(tmp_path)]) == 1
    assert "eth9" in capsys.readouterr().err
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
    assert main(["host", "link", "compute9", "enp11s0f1", "down"]) == 1
    err = capsys.readouterr().err
    assert "compute9" in err and "--root" in err and "Traceback" not in err
