"""`sriovstack guest exec|ping` finding the guest by --prefix or by the all-in-one's --state-dir
(its data plane's prefix, and SERVER as a name looked up with its admin cloud), or like every
client command through OS_CLOUD/OS_CLIENT_CONFIG_FILE (the name looked up in that cloud, the
prefix of the all-in-one whose clouds.yaml it is); one-line errors when the two are mixed or
the state directory or clouds.yaml cannot answer.  The packet part needs root."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.dataplane.dataplane_world import root_reason

from sriovstack.allinone import AllInOne, AllInOneOptions
from sriovstack.allinone.dataplane import DataplaneMode, dataplane_prefix
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.cloud.servers import wait_for_status
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.clouds import write_clouds_yaml
from sriovstack.cli.main import main
from sriovstack.dataplane import Names, create_ns, remove_ns

_ID = str(uuid.UUID(int=7))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, " ".join(out.split()), " ".join(err.split())  # rich wraps at the width


@pytest.mark.parametrize("command", [("exec",), ("ping",)])
def test_prefix_and_state_dir_together_are_refused_naming_both(
        command: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tail = ("--", "true") if command == ("exec",) else ("10.0.0.1",)
    code, _, err = run(capsys, "guest", *command, "--prefix", "sx-", "--state-dir",
                       str(tmp_path), _ID, *tail)
    assert code == 2 and "--prefix" in err and "--state-dir" in err
    assert "Traceback" not in err


def test_a_name_without_a_cloud_names_the_missing_clouds_yaml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    code, _, err = run(capsys, "guest", "ping", "--prefix", "sx-", "webserver01", "10.0.0.1")
    assert code == 2 and f"{tmp_path / 'clouds.yaml'} does not exist" in err
    assert "OS_CLIENT_CONFIG_FILE" in err


def test_a_state_dir_that_is_not_a_directory_is_a_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    code, _, err = run(capsys, "guest", "exec", "--state-dir", str(missing), _ID, "--", "true")
    assert code == 2 and f"{missing} is not a directory" in err and "--state-dir" in err


def test_a_name_needs_the_state_dirs_clouds_yaml(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "guest", "exec", "--state-dir", str(tmp_path), "web", "--", "true")
    assert code == 2 and f"{tmp_path / 'clouds.yaml'} does not exist" in err
    assert "'web'" in err


def test_an_id_with_state_dir_looks_under_that_clouds_prefix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # No clouds.yaml needed for an id; the guest is looked for under the state dir's prefix.
    code, _, err = run(capsys, "guest", "ping", "--state-dir", str(tmp_path), _ID, "10.0.0.1")
    assert code == 1 and f"server {_ID} has no emulated guest here" in err
    assert f"no network namespace {dataplane_prefix(tmp_path)}g-" in err


@dataclass(frozen=True)
class Booted:
    state: Path
    server_id: str
    ip: str


def _boot(s: CloudSession, name: str) -> tuple[str, str]:
    net = s.call("POST", "network", "/v2.0/networks", {"network": {
        "name": "guests", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 16}})["network"]
    s.call("POST", "network", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"}})
    port = s.call("POST", "network", "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:vnic_type": "direct"}})["port"]
    image = s.call("GET", "image", "/v2/images")["images"][0]
    flavor = next(f for f in s.call("GET", "compute", "/flavors")["flavors"]
                  if f["name"] == "m1.tiny")
    made = s.call("POST", "compute", "/servers", {"server": {
        "name": name, "flavorRef": flavor["id"], "imageRef": image["id"],
        "networks": [{"port": port["id"]}]}})["server"]
    assert wait_for_status(s, made["id"], 60.0)["status"] == "ACTIVE"
    return str(made["id"]), str(port["fixed_ips"][0]["ip_address"])


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    """An all-in-one (netns data plane as root) with one ACTIVE server, 'guest01'."""
    state = tmp_path_factory.mktemp("guest") / "aio"
    mode = DataplaneMode.NETNS if root_reason() is None else DataplaneMode.NONE
    with AllInOne(AllInOneOptions(state_dir=state, port=0, dataplane=mode)) as aio:
        admin, demo = clouds_of(aio)
        write_clouds_yaml(state / "clouds.yaml", (admin, demo))
        with CloudSession(admin) as s:
            server_id, ip = _boot(s, "guest01")
        yield Booted(state, server_id, ip)


def test_an_unknown_name_is_not_found_by_the_admin_cloud(
        booted: Booted, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "guest", "ping", "--state-dir", str(booted.state), "ghost",
                       "10.0.0.1")
    assert code == 1 and "no server with name or id 'ghost'" in err


def _use_cloud(monkeypatch: pytest.MonkeyPatch, state: Path, cloud: str) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(state / "clouds.yaml"))
    monkeypatch.setenv("OS_CLOUD", cloud)


def test_through_os_cloud_a_name_is_looked_up_in_that_cloud(
        booted: Booted, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _use_cloud(monkeypatch, booted.state, "sriovstack-demo")  # the admin booted guest01
    code, _, err = run(capsys, "guest", "ping", "--prefix", "sx-", "guest01", "10.0.0.1")
    assert code == 1 and "no server with name or id 'guest01'" in err
    _use_cloud(monkeypatch, booted.state, "sriovstack")
    # The name resolves; --prefix names a data plane that has no guest for it.
    code, _, err = run(capsys, "guest", "ping", "--prefix", "sx-", "guest01", "10.0.0.1")
    assert code == 1 and f"server {booted.server_id} has no emulated guest here" in err
    assert "no network namespace sx-g-" in err


def test_through_os_cloud_a_name_reaches_the_servers_guest(
        booted: Booted, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _use_cloud(monkeypatch, booted.state, "sriovstack")
    reason = root_reason()
    if reason:
        # Without the data plane the name resolves and the prefix is the all-in-one's.
        code, _, err = run(capfd, "guest", "exec", "guest01", "--", "true")
        assert code == 1 and f"server {booted.server_id} has no emulated guest" in err
        assert f"no network namespace {dataplane_prefix(booted.state)}g-" in err
        pytest.skip(f"{reason}: the guest itself was not checked")
    code, out, _ = run(capfd, "guest", "exec", "guest01", "--", "ip", "-4", "addr", "show")
    assert code == 0 and f"inet {booted.ip}/" in out
    code, out, _ = run(capfd, "guest", "ping", "--count", "1", "guest01", booted.ip)
    assert code == 0 and f"guest01 ({booted.server_id}) -> {booted.ip}: 1 sent, 1 received" in out


def test_a_name_reaches_the_servers_guest(booted: Booted,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    capsys = capfd  # `ip netns exec` writes to the process's stdout itself
    reason = root_reason()
    if reason:
        # Without the data plane the name still resolves: the error names the server's id.
        code, _, err = run(capsys, "guest", "exec", "--state-dir", str(booted.state),
                           "guest01", "--", "true")
        assert code == 1 and f"server {booted.server_id} has no emulated guest" in err
        pytest.skip(f"{reason}: the guest itself was not checked")
    code, out, _ = run(capsys, "guest", "exec", "--state-dir", str(booted.state), "guest01",
                       "--", "ip", "-4", "addr", "show")
    assert code == 0 and f"inet {booted.ip}/" in out
    code, out, _ = run(capsys, "guest", "ping", "--state-dir", str(booted.state), "--count",
                       "1", "guest01", booted.ip)
    assert code == 0 and f"guest01 ({booted.server_id}) -> {booted.ip}: 1 sent, 1 received" in out


def test_with_guests_on_two_hosts_the_one_on_the_servers_host_is_reached(
        booted: Booted, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    # The other end of a live migration: the server's guest on a second (simulated) host,
    # an empty namespace; the API says the server is on its first host.
    prefix = dataplane_prefix(booted.state)
    other = Names(prefix).guest_ns(str((booted.state / "hosts" / "elsewhere").resolve()),
                                   booted.server_id)
    create_ns(other, exist_ok=False)
    try:
        code, out, _ = run(capfd, "guest", "exec", "--state-dir", str(booted.state), "guest01",
                           "--", "ip", "-4", "addr", "show")
        assert code == 0 and f"inet {booted.ip}/" in out
        monkeypatch.delenv("OS_CLIENT_CONFIG_FILE", raising=False)
        # With only a prefix nothing can say which host the server is on: refused, naming both.
        code, _, err = run(capfd, "guest", "exec", "--prefix", prefix, booted.server_id, "--",
                           "true")
        assert code == 1 and "a live migration is under way" in err and other in err
    finally:
        remove_ns(other)
