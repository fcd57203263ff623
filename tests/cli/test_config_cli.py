"""``sriovstack config check FILE...``: exit codes and messages that name file, section, option."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chapter"


def chapter_files() -> list[str]:
    return [str(p) for p in sorted(EXAMPLES.glob("*/*"))]


@pytest.mark.parametrize("fmt", ["table", "lines"])
def test_chapter_examples_exit_0(capsys, fmt):
    assert main(["config", "check", "--format", fmt, *chapter_files()]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_error_exits_1_and_names_file_section_option(tmp_path, capsys):
    bad = tmp_path / "ml2_conf_sriov.ini"
    bad.write_text("[ml2_sriov]\nagent_required = maybe\n")
    assert main(["config", "check", "--format", "lines", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"error: {bad}: [ml2_sriov] agent_required: bad value 'maybe'" in out
    assert "fix: write True or False" in out


def test_table_format_shows_the_same_finding(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    bad = tmp_path / "sriov_agent.ini"
    bad.write_text("[sriov_nic]\nphysical_device_mappings = physnet1:enp11s0f1\n"
                   "exclude_devices = eth1:0000:07:00.2\n")
    assert main(["config", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert str(bad) in out and "[sriov_nic] exclude_devices" in out and "'eth1'" in out


def test_warnings_alone_exit_0_and_are_printed(tmp_path, capsys):
    ovs = tmp_path / "openvswitch_agent.ini"
    ovs.write_text("[securitygroup]\nfirewall_driver = iptables_hybrid\n")
    assert main(["config", "check", "--format", "lines", *chapter_files(), str(ovs)]) == 0
    out = capsys.readouterr().out
    assert f"warning: {ovs}: [securitygroup] firewall_driver" in out
    assert "0 error(s), 1 warning(s)" in out


def test_every_problem_is_listed(tmp_path, capsys):
    ml2 = tmp_path / "ml2_conf.ini"
    ml2.write_text("[ml2]\ntype_drivers = vxlan\ntenant_network_types = vxlan\n"
                   "mechanism_drivers = openvswitch\n")
    assert main(["config", "check", "--format", "lines", str(ml2)]) == 1
    out = capsys.readouterr().out
    assert "[ml2] mechanism_drivers" in out and "[ml2] type_drivers" in out
    assert "2 error(s)" in out


def test_missing_file_exits_2_naming_it(tmp_path, capsys):
    missing = tmp_path / "nova.conf"
    assert main(["config", "check", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err


def test_help_says_warnings_exit_0(capsys):
    with pytest.raises(SystemExit):
        main(["config", "check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "warnings alone are printed but still exit 0" in out
