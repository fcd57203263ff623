"""deploy/'s systemd units: the chapter's --config-file lists, the commands, start-up ordering."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from sriovstack.host.persistence import BEFORE_UNITS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("sriovstack-api.service", "sriovstack-compute-agent.service",
         "sriovstack-sriov-agent.service")
AGENTS = UNITS[1:]

# The chapter's agent unit (20.6 step 5), as printed there.
CHAPTER_SRIOV_AGENT = (
    "/usr/bin/neutron-sriov-nic-agent --config-file /usr/share/neutron/neutron-dist.conf "
    "--config-file /etc/neutron/neutron.conf --log-file /var/log/neutron/sriov-nic-agent.log "
    "--config-file /etc/neutron/plugins/ml2/sriov_agent.ini")
RHEL_DEFAULTS = "/usr/share/neutron/neutron-dist.conf"  # neutron's packaged defaults, not ours

Unit = dict[str, dict[str, list[str]]]


def parse_unit(text: str) -> Unit:
    """systemd.syntax(7): [Section], Key=value (repeatable), # and ; comments, \\ continuations."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1].rstrip() + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"{line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"not Key=value: {line!r}"
        section.setdefault(key.strip(), []).append(value.strip())
    assert not pending, "file ends in a line continuation"
    return unit


def load(name: str) -> Unit:
    return parse_unit((DEPLOY / name).read_text(encoding="utf-8"))


def words(unit: Unit, section: str, key: str) -> list[str]:
    """A list-valued setting (After=, Wants=...) over all its lines, split on white space."""
    return [w for value in unit.get(section, {}).get(key, []) for w in value.split()]


def exec_argv(unit: Unit) -> list[str]:
    (line,) = unit["Service"]["ExecStart"]
    return [w for w in shlex.split(line) if not w.startswith("$")]  # $VARS: site options


def config_files(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, w in enumerate(argv) if w == "--config-file"]


def test_deploy_ships_exactly_the_three_units_and_a_readme() -> None:
    assert sorted(p.name for p in DEPLOY.glob("*.service")) == sorted(UNITS)
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in UNITS:
        assert name in readme


@pytest.mark.parametrize(("name", "command"), [
    ("sriovstack-api.service", ["api", "serve"]),
    ("sriovstack-compute-agent.service", ["agent", "compute"]),
    ("sriovstack-sriov-agent.service", ["agent", "sriov"]),
])
def test_each_unit_runs_its_sriovstack_command(name: str, command: list[str]) -> None:
    argv = exec_argv(load(name))
    assert argv[0] == "/usr/bin/sriovstack"
    assert argv[1:3] == command


@pytest.mark.parametrize(("name", "files"), [
    ("sriovstack-api.service", [          # 20.3 step 4 (the server's ML2 files) and 20.4
        "/etc/neutron/neutron.conf",
        "/etc/neutron/plugins/ml2/ml2_conf.ini",
        "/etc/neutron/plugins/ml2/ml2_conf_sriov.ini",
        "/etc/nova/nova.conf",
    ]),
    ("sriovstack-compute-agent.service", ["/etc/nova/nova.conf"]),   # 20.5
    ("sriovstack-sriov-agent.service", [  # 20.6 step 5
        "/etc/neutron/neutron.conf",
        "/etc/neutron/plugins/ml2/sriov_agent.ini",
    ]),
])
def test_config_file_lists_are_the_chapters(name: str, files: list[str]) -> None:
    assert config_files(exec_argv(load(name))) == files


def test_the_sriov_agent_reads_what_the_chapters_agent_reads_less_rhel_defaults() -> None:
    chapter = [f for f in config_files(shlex.split(CHAPTER_SRIOV_AGENT)) if f != RHEL_DEFAULTS]
    assert config_files(exec_argv(load("sriovstack-sriov-agent.service"))) == chapter


@pytest.mark.parametrize("name", UNITS)
def test_every_unit_waits_for_the_network_and_is_enabled_for_boot(name: str) -> None:
    unit = load(name)
    assert "network-online.target" in words(unit, "Unit", "After")
    assert "network-online.target" in words(unit, "Unit", "Wants")
    assert words(unit, "Install", "WantedBy") == ["multi-user.target"]
    assert unit["Service"]["Restart"] == ["on-failure"]


@pytest.mark.parametrize("name", AGENTS)
def test_the_vf_units_order_themselves_before_each_agent(name: str) -> None:
    # sriovstack-vfs@<addr>.service names these in Before=; systemd takes no globs in After=.
    assert name in BEFORE_UNITS
    unit = load(name)
    for key in ("After", "Before", "Wants", "Requires"):
        for word in words(unit, "Unit", key):
            assert "*" not in word, f"{name}: {key}={word}: systemd does not expand globs"
            assert not word.startswith("sriovstack-vfs@"), f"{name}: {key}={word}"


def test_the_compute_agent_starts_after_libvirt_which_starts_after_the_vfs() -> None:
    after = words(load("sriovstack-compute-agent.service"), "Unit", "After")
    assert {"libvirtd.service", "virtqemud.service"} <= set(after)
    assert {"libvirtd.service", "virtqemud.service"} <= set(BEFORE_UNITS)


def test_only_the_agents_run_as_root() -> None:
    assert load("sriovstack-api.service")["Service"]["User"] == ["sriovstack"]
    for name in AGENTS:
        assert load(name)["Service"]["User"] == ["root"]


@pytest.mark.parametrize(("text", "expected"), [
    ("[Unit]\nAfter=a b\nAfter=c\n", {"Unit": {"After": ["a b", "c"]}}),
    ("# c\n; c\n[S]\nX=1 \\\n  2 \\\n  3\n", {"S": {"X": ["1 2 3"]}}),
])
def test_the_unit_parser_reads_systemd_syntax(text: str, expected: Unit) -> None:
    assert parse_unit(text) == expected


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    for name in UNITS:
        # verify insists the binary exists: point it at one that does.
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace("/usr/bin/sriovstack", "/bin/true"))
    run = subprocess.run([tool, "verify", *(str(tmp_path / n) for n in UNITS)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stderr.strip() == ""
