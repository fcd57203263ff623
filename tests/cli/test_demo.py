"""sriovstack demo: the chapter's 20.2-20.7 end to end on a fresh all-in-one, every check held."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sriovstack.allinone.dataplane import dataplane_prefix
from sriovstack.cli.main import main
from sriovstack.dataplane.netns import list_ns
from tests.dataplane.dataplane_world import root_reason


def test_the_demo_runs_the_chapter_to_the_end(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    code = main(["demo", "--state-dir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert code == 0, out
    for expected in (
            "82576 Virtual Function [8086:10ca]",       # 20.2 lspci
            "VFs created through sriov_numvfs: [7, 7]",
            "config check: 0 finding(s)",               # 20.3-20.6
            "port DOWN, vnic_type direct",              # 20.7
            "server webserver01 ACTIVE",
            "port ACTIVE, vif_type hw_veb, bound to VF 0000:0b:",
            "the VF has the port's MAC and the network's VLAN",
            "webserver01 ACTIVE again on compute0 after the hard reboot",   # day 2
            "webserver01 ACTIVE on compute1 (was on compute0)",
            "same MAC",
            "VF reset: MAC zero, VLAN 0",
            "every check held"):
        assert expected in out, expected
    assert "✘" not in out
    assert "the traffic checks (UDP echo, the migration's traffic gap) are left out" in out \
        or "live-migration traffic gap: " in out


def test_the_demo_sends_real_packets_as_root_and_leaves_nothing_behind(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if root_reason():
        pytest.skip(str(root_reason()))
    state = tmp_path / "demo"
    code = main(["demo", "--state-dir", str(state)])
    out = capsys.readouterr().out
    assert code == 0, out
    for expected in (
            "webserver02 ACTIVE on compute",
            "webserver01 (10.0.0.2) reaches webserver02 (10.0.0.3) and back",
            "after the SR-IOV agent's pass the port is DOWN",
            "the chapter's 82576 (igb) has no VF link-state control",
            "admin_state_up true: the port is ACTIVE again",
            "webserver02's emulated guest (network namespace) is gone",
            "webserver01 no longer reaches 10.0.0.3",
            "webserver02 reaches webserver01 after the reboot",             # day 2
            "webserver02 reaches webserver01 on compute1: traffic gap of the live migration",
            "every check held"):
        assert expected in out, expected
    gap = re.search(r"live-migration traffic gap: (\d+) ms", out)
    assert gap is not None, out
    print(f"\ndemo: live-migration traffic gap {gap.group(1)} ms")
    prefix = dataplane_prefix(state)
    assert [ns for ns in list_ns() if ns.startswith(prefix)] == []
