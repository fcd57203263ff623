"""Turning the data plane on and off, cleanup, and the commands that reach guests."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from tests.dataplane.dataplane_world import MAPPINGS, PF0_VFS, World, build_world, tear_down

from sriovstack.allinone.machines import open_simulated
from sriovstack.cli.main import main
from sriovstack.conf.parsers import DeviceMapping
from sriovstack.dataplane import (Names, NsLinks, cleanup_dataplane, dataplane_info,
                                  disable_dataplane, enable_dataplane, list_ns, ns_exists,
                                  ns_pids)
from sriovstack.dataplane.spoof import TABLE, list_ruleset
from sriovstack.errors import Conflict, Invalid, NotFound, NotSupported
from sriovstack.host.discovery import discover
from sriovstack.host.netlink import LinkState, VfLinkState, VfMac
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ")[-1][:1] == "Z"  # a zombie has ended
    except FileNotFoundError:
        return True


def _ours(prefix: str) -> list[str]:
    return [ns for ns in list_ns() if ns.startswith(prefix)]


def test_enable_makes_one_host_namespace_each_and_one_fabric(world: World) -> None:
    infos = [dataplane_info(plane) for plane in world.planes]
    assert all(info is not None for info in infos)
    host_ns = {info.host_ns for info in infos if info}
    assert len(host_ns) == 2 and {info.fabric_ns for info in infos if info} == {
        f"{world.prefix}fabric"}
    assert sorted(_ours(world.prefix)) == sorted([*host_ns, f"{world.prefix}fabric"])
    assert infos[0] and set(infos[0].physnets) == set(MAPPINGS)
    assert infos[0] and infos[0].vlan_filtering is False  # this kernel has no 802.1Q
    assert f"table bridge {TABLE}" in list_ruleset(next(iter(host_ns)))


def test_enable_again_is_a_no_op_and_other_settings_conflict(world: World) -> None:
    plane = world.planes[0]
    before = dataplane_info(plane)
    assert enable_dataplane(plane, MAPPINGS, prefix=world.prefix) == before
    with pytest.raises(Conflict) as exc:
        enable_dataplane(plane, MAPPINGS[:1], prefix=world.prefix)
    assert "already on" in str(exc.value)


def test_a_mapping_to_a_netdev_the_host_lacks_is_refused_before_anything_is_made(
        tmp_path: Path, prefix: str, no_leftovers: None) -> None:
    world = build_world(tmp_path, prefix, hosts=1)
    try:
        disable_dataplane(world.planes[0])
        with pytest.raises(Invalid) as exc:
            enable_dataplane(world.planes[0], [DeviceMapping("physnet1", "enp4s0f1")],
                             prefix=prefix)
        assert exc.value.field == "physical_device_mappings"
        assert "enp4s0f1" in str(exc.value) and "ens1f0" in str(exc.value)
        assert _ours(prefix) == [] and dataplane_info(world.planes[0]) is None
    finally:
        tear_down(world)


def test_enable_takes_the_settings_the_vfs_already_have(world: World) -> None:
    plane, host = world.planes[0], world.hosts[0]
    disable_dataplane(plane)
    host.netlink.set_vf("ens1f0", 2, VfLinkState(LinkState.DISABLE))  # heard by no plane
    enable_dataplane(plane, MAPPINGS, prefix=world.prefix)
    names = Names(world.prefix)
    with NsLinks(plane.info().host_ns) as links:
        assert not links.is_up(names.vf_port(str(plane.root), str(PF0_VFS[2])))
        assert links.is_up(names.vf_port(str(plane.root), str(PF0_VFS[1])))  # auto, PF up


def test_a_vf_netdev_on_the_host_carries_the_mac_sysfs_shows_for_it(world: World) -> None:
    ns, end = world.planes[0].vf_netdev(PF0_VFS[0])
    _, vf = discover(world.hosts[0].sysfs).find_vf(PF0_VFS[0])
    assert vf.mac is not None
    with NsLinks(ns) as links:
        assert links.mac(end) == vf.mac


def test_a_directory_without_a_simulated_host_has_no_data_plane(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        open_simulated(tmp_path)
    assert str(tmp_path) in str(exc.value) and "no .sriovstack-sim" in str(exc.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the refusal an unprivileged user gets")
def test_enable_without_root_says_so(tmp_path: Path) -> None:  # pragma: no cover - root CI
    data = {"host": [{"name": "c", "role": "compute", "iommu": "intel", "nic": [
        {"model": "intel-x710", "address": "0000:3b:00.0", "netdevs": ["ens1f0", "ens1f1"]}]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    with pytest.raises(NotSupported, match="needs root"):
        enable_dataplane(open_simulated(tmp_path / "root")[1], MAPPINGS)


def test_disable_keeps_the_fabric_until_the_last_host_goes(world: World) -> None:
    fabric = f"{world.prefix}fabric"
    assert disable_dataplane(world.planes[0]) is True
    assert disable_dataplane(world.planes[0]) is False
    assert ns_exists(fabric)
    disable_dataplane(world.planes[1])
    assert _ours(world.prefix) == []
    with pytest.raises(NotSupported, match="not enabled"):
        world.planes[0].info()


def test_cleanup_removes_every_namespace_and_process_and_the_record_heals(
        world: World) -> None:
    server, _ = world.spawn(0, 0, "10.10.0.1/24")
    guest_ns = world.drivers[0].guest_netns(server)
    echo = ns_pids(guest_ns)
    assert len(echo) == 1
    report = cleanup_dataplane(world.prefix)
    assert guest_ns in report.namespaces and set(echo) <= set(report.processes)
    assert _ours(world.prefix) == []
    assert _gone(echo[0])
    # The hosts' records notice their namespaces are gone, and the VF seams keep working.
    assert dataplane_info(world.planes[0]) is None
    world.hosts[0].netlink.set_vf("ens1f0", 1, VfMac(MacAddress("fa:16:3e:00:00:09")))


def test_the_cleanup_command_reports_what_it_removed(world: World,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataplane", "cleanup", "--prefix", world.prefix]) == 0
    out = capsys.readouterr().out
    assert f"removed network namespace {world.prefix}fabric" in out
    assert "3 namespace(s)" in out and _ours(world.prefix) == []


def test_guest_ping_and_exec_commands(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    world.spawn(1, 0, "10.10.0.2/24")
    assert main(["guest", "ping", "--prefix", world.prefix, "--count", "2", a,
                 "10.10.0.2"]) == 0
    assert "2 sent, 2 received" in capsys.readouterr().out
    assert main(["guest", "ping", "--prefix", world.prefix, "--count", "1", "--timeout",
                 "0.3", a, "10.10.0.99"]) == 1
    assert main(["guest", "exec", "--prefix", world.prefix, a, "--", "ip", "link", "show",
                 "eth0"]) == 0
    assert main(["guest", "exec", "--prefix", world.prefix, a, "--", "false"]) == 1


@pytest.mark.parametrize(("argv", "message", "code"), [
    # Not an id: a server name, looked up in the cloud of OS_CLOUD, and there is none here.
    (["guest", "ping", "not-a-uuid", "10.0.0.1"], "no clouds.yaml found", 2),
    (["guest", "ping", str(uuid.UUID(int=1)), "10.0.0.300"], "is not an IPv4 or IPv6 address",
     2),
    (["guest", "ping", str(uuid.UUID(int=1)), "10.0.0.1"], "has no emulated guest here", 1),
    (["guest", "exec", str(uuid.UUID(int=1)), "--"], "no command to run", 2),
    (["guest", "exec", str(uuid.UUID(int=1)), "--", "true"], "has no emulated guest here", 1),
    (["dataplane", "cleanup", "--prefix", "Bad_Prefix"], "is not usable", 2),
])
def test_bad_command_input_gets_one_clear_line(argv: list[str], message: str, code: int,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Bad input exits 2 (a usage error), a missing guest 1; one line, no traceback."""
    for name in ("OS_CLOUD", "OS_CLIENT_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
