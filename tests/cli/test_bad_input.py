"""Bad input to any `sriovstack` command: one line naming the option or file and the fix,
exit 2, never a traceback; every option has help; `--version`.

The generic tests walk the parser, so a new subcommand is covered as soon as it is
registered: an unknown option, missing required arguments, a missing or binary file or a
missing host root for every option that takes one, and a missing or binary clouds.yaml for
every client command.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.parser_walk import leaves

from sriovstack.cli.inputs import host_root, text_file
from sriovstack.cli.main import build_parser, main

SRIOVSTACK = Path(sys.executable).parent / "sriovstack"
BINARY = bytes(range(128, 256)) * 4


LEAVES = dict(leaves(build_parser()))
COMMANDS = sorted(LEAVES)


def _ids(command: tuple[str, ...]) -> str:
    return " ".join(command)


def _one_line_exit_2(code: int | None, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int | None, str, str]:
    try:
        code: int | None = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


_DUMMY = {"ip": "10.0.0.1", "vfs": "1"}  # values that pass the command's own checks


def _dummy_required(parser: argparse.ArgumentParser) -> list[str]:
    """Values for every required argument, so the command gets past argparse."""
    argv: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        value = str(next(iter(action.choices))) if action.choices else _DUMMY.get(
            action.dest, "x")
        if not action.option_strings and action.nargs not in ("?", "*", argparse.REMAINDER):
            argv.append(value)
        elif action.option_strings and action.required:
            argv += [action.option_strings[0], value]
    return argv


def test_every_option_has_help() -> None:
    missing = [f"{_ids(cmd)}: {a.option_strings or a.dest}" for cmd, p in LEAVES.items()
               for a in p._actions if not a.help and not isinstance(a, argparse._HelpAction)]
    assert missing == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.startswith("sriovstack 0.") and len(out.splitlines()) == 1


def test_the_virt_driver_help_names_no_default_that_is_not_a_choice() -> None:
    (driver,) = [a for a in LEAVES[("all-in-one",)]._actions
                 if "--virt-driver" in a.option_strings]
    assert driver.choices is not None and driver.help is not None
    assert "default: netns" not in driver.help


@pytest.mark.parametrize("command", COMMANDS, ids=_ids)
def test_an_unknown_option_is_one_line_exit_2(command: tuple[str, ...],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run([*command, "--no-such-option", *_dummy_required(LEAVES[command])],
                          capsys)
    _one_line_exit_2(code, err)
    # argparse names the unknown option, or first a dummy value its type refused
    assert ("--no-such-option" in err or "argument " in err) and out == ""


@pytest.mark.parametrize("command", [c for c in COMMANDS if _dummy_required(LEAVES[c])],
                         ids=_ids)
def test_missing_required_arguments_are_one_line_exit_2(
        command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(list(command), capsys)
    _one_line_exit_2(code, err)
    assert "required" in err and out == ""


_PATH_OPTIONS = [(cmd, action.option_strings[0] if action.option_strings else None,
                  action.type) for cmd in COMMANDS for action in LEAVES[cmd]._actions
                 if action.type in (host_root, text_file)]


@pytest.mark.parametrize("command, option, kind", _PATH_OPTIONS,
                         ids=[f"{_ids(c)} {o}" for c, o, _ in _PATH_OPTIONS])
def test_a_missing_or_binary_path_names_the_option(
        command: tuple[str, ...], option: str | None, kind: object, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "binary.conf"
    binary.write_bytes(BINARY)
    bad = [str(tmp_path / "nonexistent")]
    bad += [str(binary)] if kind is text_file else [str(tmp_path)]  # a dir that is no root
    for value in bad:
        argv = [*command, option, value] if option else [*command, value]
        code, out, err = _run(argv, capsys)
        _one_line_exit_2(code, err)
        assert value in err and (option or "") in err and out == ""


_CLIENT_COMMANDS = [c for c in COMMANDS
                    if any("--os-cloud" in a.option_strings for a in LEAVES[c]._actions)]


@pytest.mark.parametrize("command", _CLIENT_COMMANDS, ids=_ids)
def test_a_client_command_without_a_usable_clouds_yaml_names_it(
        command: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "clouds.yaml"
    binary.write_bytes(BINARY)
    for clouds_yaml in (tmp_path / "nonexistent.yaml", binary):
        monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
        code, out, err = _run([*command, *_dummy_required(LEAVES[command])], capsys)
        _one_line_exit_2(code, err)
        assert str(clouds_yaml) in err and "fix:" in err and out == ""


def _simulated(root: Path) -> Path:
    assert main(["host", "simulate", "--root", str(root)]) == 0
    return root


@pytest.mark.parametrize("argv, names", [
    (["host", "check", "--root", "/nonexistent"], "--root"),
    (["host", "devices", "--root", "/nonexistent"], "--root"),
    (["host", "set-vfs", "enp11s0f1", "7", "--root", "/nonexistent"], "--root"),
    (["host", "set-vfs", "enp11s0f1", "seven"], "COUNT"),
    (["host", "devices", "--config-file", "/nonexistent.conf"], "/nonexistent.conf"),
    (["config", "check", "/nonexistent.conf"], "/nonexistent.conf"),
    (["api", "serve", "--listen", "8080"], "--listen"),
    (["api", "serve", "--workers", "0"], "--workers"),
    (["all-in-one", "--listen", "localhost"], "--listen"),
    (["all-in-one", "--resize-confirm-window", "-5"], "--resize-confirm-window"),
    (["all-in-one", "--resize-confirm-window", "soon"], "--resize-confirm-window"),
    (["guest", "ping", "--prefix", "p-", "00000000-0000-0000-0000-000000000001", "10.0.0"],
     "IP"),
    (["guest", "ping", "--count", "0", "x", "10.0.0.1"], "--count"),
])
def test_bad_input_names_what_is_wrong(argv: list[str], names: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(argv, capsys)
    _one_line_exit_2(code, err)
    assert names in err and out == ""


def test_config_check_on_a_binary_file_names_it(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "nova.conf"
    binary.write_bytes(BINARY)
    code, out, err = _run(["config", "check", str(binary)], capsys)
    _one_line_exit_2(code, err)
    assert str(binary) in err and "not a text file" in err and "fix:" in err


def test_host_devices_with_a_bad_whitelist_fails_before_printing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _simulated(tmp_path / "c0")
    capsys.readouterr()
    nova = tmp_path / "nova.conf"
    nova.write_text("[pci]\npassthrough_whitelist = {not json\n")
    code, out, err = _run(["host", "devices", "--root", str(root), "--config-file", str(nova)],
                          capsys)
    assert code == 2 and out == "" and str(nova) in err and "Traceback" not in err


def test_the_installed_command_prints_no_traceback_either(tmp_path: Path) -> None:
    binary = tmp_path / "sriov_agent.ini"
    binary.write_bytes(BINARY)
    done = subprocess.run([str(SRIOVSTACK), "config", "check", str(binary)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
