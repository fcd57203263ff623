"""Root on a machine without nftables (or iproute2): `scripts/demo`, `sriovstack demo` and
`sriovstack all-in-one` fall back to the simulated data plane with one line saying what is
missing and how to get packets, and never exit for it.  The programs are hidden from PATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sriovstack.allinone.dataplane import DataplaneMode, choose_dataplane
from sriovstack.dataplane import MissingCommand, missing_commands
from sriovstack.errors import ConfigError

SRIOVSTACK = Path(sys.executable).parent / "sriovstack"
REPO = Path(__file__).resolve().parents[2]
NFT = MissingCommand("nft", "nftables")
BOTH = (MissingCommand("ip", "iproute2"), NFT)


def path_without(tmp: Path, *hidden: str) -> str:
    """A PATH of one directory holding every program of the current PATH but ``hidden``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            target = bin_dir / entry.name
            if entry.name in hidden or target.exists() or not os.access(entry, os.X_OK):
                continue
            target.symlink_to(entry)
    return str(bin_dir)


def test_missing_commands_finds_what_path_lacks(tmp_path: Path) -> None:
    (tmp_path / "ip").write_text("#!/bin/sh\n")
    (tmp_path / "ip").chmod(0o755)
    assert missing_commands(str(tmp_path)) == (NFT,)
    assert missing_commands(str(tmp_path / "empty")) == BOTH


@pytest.mark.parametrize("missing, said", [
    ((NFT,), "needs nft, not found on PATH (for real packets: apt-get install nftables)"),
    (BOTH, "needs ip, nft, not found on PATH (for real packets: apt-get install iproute2 "
           "nftables)"),
])
def test_root_without_the_programs_falls_back_saying_what_is_missing(
        missing: tuple[MissingCommand, ...], said: str) -> None:
    chosen, note = choose_dataplane(None, None, 0, missing)
    assert chosen is DataplaneMode.NONE
    assert note is not None and said in note and "\n" not in note


def test_asking_for_netns_without_nft_names_the_option_and_the_fix() -> None:
    with pytest.raises(ConfigError, match="--dataplane netns needs nft") as caught:
        choose_dataplane(DataplaneMode.NETNS, None, 0, (NFT,))
    assert caught.value.fix == "apt-get install nftables, or pass --dataplane none"


def _root_only() -> None:
    if os.geteuid() != 0:
        pytest.skip("the fallback for a missing program is root's case (as a normal user the "
                    "netns data plane is off anyway)")


@pytest.mark.slow
def test_the_demo_as_root_without_nft_ends_with_its_summary(tmp_path: Path) -> None:
    _root_only()
    env = {**os.environ, "PATH": path_without(tmp_path, "nft")}
    done = subprocess.run([str(SRIOVSTACK), "demo", "--state-dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    notes = [line for line in done.stdout.splitlines() if "not found on PATH" in line]
    assert notes == ["data plane: simulated only (no packets): the netns data plane needs nft, "
                     "not found on PATH (for real packets: apt-get install nftables): the "
                     "packet steps are left out"]
    assert "every check held" in done.stdout and "Traceback" not in done.stderr
    for day2 in ("day 2 without the netns data plane", "after the hard reboot",
                 "webserver01 ACTIVE on compute1 (was on compute0)",
                 "live-migration traffic gap: not measured (no netns data plane)"):
        assert day2 in done.stdout, day2


@pytest.mark.slow
def test_the_all_in_one_as_root_without_nft_starts_and_says_why(tmp_path: Path) -> None:
    _root_only()
    env = {**os.environ, "PATH": path_without(tmp_path, "nft")}
    process = subprocess.Popen([str(SRIOVSTACK), "all-in-one", "--state-dir",
                                str(tmp_path / "aio"), "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    assert process.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops everything" in line or (not line and process.poll() is not None):
                break
        assert "Ctrl-C stops everything" in lines[-1], "".join(lines)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, "".join(lines) + out
    text = "".join(lines)
    assert text.count("not found on PATH") == 1
    assert "apt-get install nftables" in text and "netns data plane on" not in text


@pytest.mark.slow
def test_scripts_demo_without_nft_or_apt_get_runs_the_simulated_demo_and_installs_clients(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": path_without(tmp_path, "nft", "apt-get")}
    done = subprocess.run([str(REPO / "scripts/demo"), "--state-dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "every check held" in done.stdout
    if os.geteuid() == 0:
        assert "apt-get install nftables" in done.stdout
    # It installed sriovstack[clients]: README's `openstack` CLI, with osc-placement's commands.
    openstack = REPO / ".venv/bin/openstack"
    version = subprocess.run([str(openstack), "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("openstack "), version
    placement = subprocess.run([str(openstack), "help", "resource", "provider", "list"],
                               capture_output=True, text=True, timeout=120)
    assert placement.returncode == 0 and "--uuid" in placement.stdout, placement
