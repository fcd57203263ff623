"""sriovstack demo: the chapter's 20.2-20.7 end to end on a fresh all-in-one, every check held."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.cli.main import main


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
            "VF reset: MAC zero, VLAN 0",
            "every check held"):
        assert expected in out, expected
    assert "✘" not in out
