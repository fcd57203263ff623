"""The client commands against a running all-in-one: the chapter's 20.7 with `sriovstack
network|subnet|port|server`, moving a server (`server resize|confirm|migrate|revert|
live-migrate`), the operator's `host list|show|drain`, and one-line errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sriovstack.cli.main import main


@pytest.fixture(autouse=True)
def _env(clouds_yaml: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    monkeypatch.setenv("OS_CLOUD", "sriovstack")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_chapter_boot_through_the_client_commands(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert run(capsys, "network", "create", "web", "--provider-network-type", "vlan",
               "--provider-physical-network", "physnet1", "--provider-segment", "16")[0] == 0
    assert run(capsys, "subnet", "create", "web-subnet", "--network", "web",
               "--subnet-range", "10.0.0.0/24")[0] == 0
    code, out, _ = run(capsys, "network", "list")
    assert code == 0 and "web" in out and "10.0.0.0/24" in out
    code, out, _ = run(capsys, "port", "create", "sr-iov", "--network", "web",
                       "--vnic-type", "direct")
    assert code == 0 and "DOWN" in out and "direct" in out and "fa:16:3e:" in out
    code, out, _ = run(capsys, "server", "create", "webserver01", "--flavor", "m1.tiny",
                       "--image", "cirros", "--nic", "port-id=sr-iov", "--wait")
    assert code == 0 and "ACTIVE" in out, out
    code, out, _ = run(capsys, "port", "show", "sr-iov")
    assert code == 0 and "hw_veb" in out and "pci_slot=0000:0b:" in out and "vlan=16" in out

    code, out, _ = run(capsys, "host", "list")
    assert code == 0 and "compute0" in out and "compute1" in out and "physnet1" in out
    host = next(h for h in ("compute0", "compute1") if "webserver01" in
                run(capsys, "host", "show", h)[1])
    code, out, _ = run(capsys, "host", "show", host)
    row = next(line for line in out.splitlines() if "webserver01" in line)
    assert " 16 " in row and "fa:16:3e:" in row and "read from the host's kernel" in out

    assert run(capsys, "server", "delete", "webserver01", "--wait")[0] == 0
    code, out, _ = run(capsys, "server", "list")
    assert code == 0 and "webserver01" not in out
    for argv in (("port", "delete", "sr-iov"), ("subnet", "delete", "web-subnet"),
                 ("network", "delete", "web")):
        assert run(capsys, *argv)[0] == 0


@pytest.mark.parametrize("argv, exit_code, words", [
    (("network", "show", "nope"), 1, ["no network", "'nope'"]),
    (("port", "create", "p", "--network", "nope"), 1, ["no network", "'nope'"]),
    (("server", "create", "s", "--flavor", "m1.tiny", "--image", "cirros", "--nic", "port=x"),
     2, ["--nic", "port-id=ID or net-id=ID"]),
    (("network", "list", "--os-cloud", "elsewhere"), 2, ["no cloud 'elsewhere'",
                                                         "sriovstack-demo"]),
    (("host", "show", "compute9"), 1, ["404", "compute9"]),
])
def test_errors_are_one_clear_line_and_a_nonzero_exit(
        capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], exit_code: int,
        words: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == exit_code
    assert all(w in err for w in words), err
    assert "Traceback" not in err


def test_agent_list_shows_both_agents_of_each_compute_host(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agent", "list")
    assert code == 0 and out.count("NIC Switch agent") == 2 and out.count("Compute agent") == 2
    assert "physnet1=enp11s0f1" in out


def test_members_get_a_403_for_the_operator_view(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "host", "list", "--os-cloud", "sriovstack-demo")
    assert code == 1 and "403" in err and "admin only" in err


def test_without_a_clouds_yaml_the_error_says_where_to_point(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "missing.yaml"))
    code, _, err = run(capsys, "network", "list")
    assert code == 2 and "missing.yaml does not exist" in err and "all-in-one" in err


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_drain_plans_and_a_pulled_cable_turns_vfs_unhealthy_on_the_all_in_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "network", "create", "ops", "--provider-network-type", "vlan",
               "--provider-physical-network", "physnet1", "--provider-segment", "17")[0] == 0
    assert run(capsys, "subnet", "create", "ops-subnet", "--network", "ops",
               "--subnet-range", "10.0.7.0/24")[0] == 0
    for n in range(2):
        assert run(capsys, "port", "create", f"ops-{n}", "--network", "ops",
                   "--vnic-type", "direct")[0] == 0
        code, out, _ = run(capsys, "server", "create", f"ops-vm{n}", "--flavor", "m1.tiny",
                           "--image", "cirros", "--nic", f"port-id=ops-{n}", "--wait")
        assert code == 0 and "ACTIVE" in out, out
    host = next(h for h in ("compute0", "compute1") if "ops-vm0" in
                run(capsys, "host", "show", h)[1])
    other = "compute1" if host == "compute0" else "compute0"

    code, out, _ = run(capsys, "host", "drain", host, "--dry-run")
    row = next(line for line in out.splitlines() if "ops-vm0" in line)
    assert code == 0 and other in row and "dry run: nothing changed" in out, out
    code, out, _ = run(capsys, "host", "drain", host)
    assert code == 0 and "every server is live-migrating off it" in out, out
    _wait_for(lambda: "ops-vm" not in run(capsys, "host", "show", host)[1],
              "the drained host's servers to live-migrate off it")
    code, out, _ = run(capsys, "server", "show", "ops-vm0")
    assert code == 0 and "ACTIVE" in out and other in out, out
    assert run(capsys, "host", "undrain", host)[1].strip() == f"{host} enabled"

    assert run(capsys, "host", "link", host, "enp11s0f1", "down")[0] == 0
    _wait_for(lambda: "unhealthy" in run(capsys, "host", "show", host)[1],
              "the SR-IOV agent to report the PF's VFs unhealthy")
    assert run(capsys, "host", "link", host, "enp11s0f1", "up")[0] == 0
    _wait_for(lambda: "unhealthy" not in run(capsys, "host", "show", host)[1],
              "the VFs to be healthy again")
    for n in range(2):
        assert run(capsys, "server", "delete", f"ops-vm{n}", "--wait")[0] == 0


def _host_of(capsys: pytest.CaptureFixture[str], name: str) -> str:
    out = run(capsys, "server", "show", name, "-f", "json")[1]
    return str(json.loads(out)["host"])


def test_server_moves_through_the_client_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "network", "create", "mv", "--provider-network-type", "vlan",
               "--provider-physical-network", "physnet1", "--provider-segment", "20")[0] == 0
    assert run(capsys, "subnet", "create", "mv-subnet", "--network", "mv",
               "--subnet-range", "10.0.20.0/24")[0] == 0
    assert run(capsys, "port", "create", "mv-0", "--network", "mv", "--vnic-type",
               "direct")[0] == 0
    code, out, _ = run(capsys, "server", "create", "mv-vm", "--flavor", "m1.tiny",
                       "--image", "cirros", "--nic", "port-id=mv-0", "--wait")
    assert code == 0 and "ACTIVE" in out, out
    first = _host_of(capsys, "mv-vm")
    other = "compute1" if first == "compute0" else "compute0"

    code, out, _ = run(capsys, "server", "resize", "mv-vm", "--flavor", "m1.small", "--wait")
    assert code == 0 and f"VERIFY_RESIZE on {other}" in out, out
    code, out, _ = run(capsys, "server", "confirm", "mv-vm")
    assert code == 0 and "source VF of server mv-vm is released" in out
    code, out, _ = run(capsys, "server", "migrate", "mv-vm", "--host", first, "--wait")
    assert code == 0 and f"VERIFY_RESIZE on {first}" in out, out
    code, out, _ = run(capsys, "server", "revert", "mv-vm", "--wait")
    assert code == 0 and f"ACTIVE on {other}" in out, out
    code, out, _ = run(capsys, "server", "live-migrate", "mv-vm", "--wait")
    assert code == 0 and f"ACTIVE on {first}" in out, out
    code, _, err = run(capsys, "server", "live-migrate", "mv-vm", "--host", first)
    assert code == 2 and "own host" in err, err  # a 400: Invalid, exit 2
    assert run(capsys, "server", "delete", "mv-vm", "--wait")[0] == 0
    for argv in (("port", "delete", "mv-0"), ("subnet", "delete", "mv-subnet"),
                 ("network", "delete", "mv")):
        assert run(capsys, *argv)[0] == 0
