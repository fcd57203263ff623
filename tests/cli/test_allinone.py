"""sriovstack all-in-one: the chapter's hosts built with their VFs and files, clouds.yaml that
works, SIGTERM stops everything, and a restart on the same state directory reuses it all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sriovstack.allinone import AllInOneOptions
from sriovstack.allinone.agents import AgentSet
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.hosts import live_vfs, prepare_hosts
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.clouds import find_cloud
from sriovstack.compute.scheduler.model import scheduler_config
from sriovstack.conf import load_config
from sriovstack.errors import ConfigError
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.mac import MacAddress
from tests.polling import until

SRIOVSTACK = Path(sys.executable).parent / "sriovstack"


def test_prepare_hosts_gives_each_82576_port_7_vfs_persisted_and_the_chapter_files(
        tmp_path: Path) -> None:
    hosts = prepare_hosts(bundled_topology(), tmp_path)
    assert [h.name for h in hosts] == ["controller", "network", "compute0", "compute1"]
    compute0 = hosts[2]
    vfs = live_vfs(compute0.root)
    assert len(vfs) == 14 and {v.pf_netdev for v in vfs.values()} == {"enp11s0f0", "enp11s0f1"}
    assert all(v.state.mac == MacAddress.ZERO and v.state.vlan == 0 for v in vfs.values())
    units = sorted(p.name for p in (compute0.root / "etc/systemd/system").glob("*.service"))
    assert units == ["sriovstack-vfs@0000:0b:00.0.service", "sriovstack-vfs@0000:0b:00.1.service"]
    agent_ini = compute0.root / "etc/neutron/plugins/ml2/sriov_agent.ini"
    assert "physnet1:enp11s0f1" in agent_ini.read_text()
    assert [f.name for f in hosts[0].config_files] == ["nova.conf", "ml2_conf.ini",
                                                       "ml2_conf_sriov.ini"]
    # Again on the same directory: nothing rebuilt, nothing lost.
    again = prepare_hosts(bundled_topology(), tmp_path)
    assert live_vfs(again[2].root).keys() == vfs.keys()


def test_resize_confirm_window_goes_into_the_controllers_nova_conf_each_start(
        tmp_path: Path) -> None:
    window = AllInOneOptions(state_dir=tmp_path, resize_confirm_window=5).nova_defaults
    hosts = prepare_hosts(bundled_topology(), tmp_path, nova_defaults=window)
    controller = hosts[0].config_files
    config = load_config(controller)
    assert config.nova.resize_confirm_window.value == 5
    assert scheduler_config(config).resize_confirm_window == 5
    # the chapter's own [DEFAULT] options are still read, in the one section
    assert "PciPassthroughFilter" in config.nova.enabled_filters.value
    assert controller[0].read_text().count("[DEFAULT]") == 1
    assert "resize_confirm_window" not in hosts[2].config_files[0].read_text()  # compute's
    # started again without the option: the chapter's files as they are, the window off
    unset = AllInOneOptions(state_dir=tmp_path).nova_defaults
    again = prepare_hosts(bundled_topology(), tmp_path, nova_defaults=unset)
    assert load_config(again[0].config_files).nova.resize_confirm_window.value == 0


def test_saved_credentials_are_reused_and_a_broken_file_is_named(tmp_path: Path) -> None:
    first = Credentials.load_or_create(tmp_path)
    assert Credentials.load_or_create(tmp_path) == first
    assert (tmp_path / "credentials.json").stat().st_mode & 0o777 == 0o600
    (tmp_path / "credentials.json").write_text("{not json")
    with pytest.raises(ConfigError, match="credentials.json"):
        Credentials.load_or_create(tmp_path)


def _start(state: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([str(SRIOVSTACK), "all-in-one", "--state-dir", str(state),
                             "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_ready(process: subprocess.Popen[str], state: Path) -> str:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            return "".join(lines)
        if not line and process.poll() is not None:
            break
    process.kill()
    pytest.fail("all-in-one did not start:\n" + "".join(lines))


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


def _session(state: Path, cloud: str) -> CloudSession:
    env = {"OS_CLIENT_CONFIG_FILE": str(state / "clouds.yaml")}
    return CloudSession(find_cloud(cloud, env))


def test_all_in_one_serves_both_clouds_stops_on_sigterm_and_restarts_on_its_state(
        tmp_path: Path) -> None:
    state = tmp_path / "aio"
    process = _start(state)
    banner = _wait_ready(process, state)
    assert f"OS_CLIENT_CONFIG_FILE={state / 'clouds.yaml'}" in banner
    with _session(state, "sriovstack") as admin:
        hosts = admin.call("GET", "compute", "/os-sriov-hosts")["hosts"]
        assert {h["host"]: h["physnets"] for h in hosts} == {
            name: [{"physnet": "physnet1", "total": 7, "free": 7, "used": 0, "unhealthy": 0}]
            for name in ("compute0", "compute1")}
        deadline = time.monotonic() + 20
        while True:
            agents = admin.call("GET", "network", "/v2.0/agents")["agents"]
            if len([a for a in agents if a["alive"]]) == 4 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted((a["host"], a["agent_type"]) for a in agents if a["alive"]) == sorted(
            (h, t) for h in ("compute0", "compute1")
            for t in ("Compute agent", "NIC Switch agent"))
        admin.call("POST", "network", "/v2.0/networks", {"network": {"name": "kept"}})
    with _session(state, "sriovstack-demo") as demo:
        assert demo.call("GET", "network", "/v2.0/networks")["networks"] == []
    assert "stopped" in _stop(process)

    again = _start(state)
    _wait_ready(again, state)
    try:
        with _session(state, "sriovstack") as admin:
            names = [n["name"] for n in admin.call("GET", "network", "/v2.0/networks")["networks"]]
            assert names == ["kept"]
    finally:
        _stop(again)


def test_a_bad_topology_starts_nothing_and_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "topo.toml"
    bad.write_text('[[host]]\nname = "x"\nrole = "compute"\ncolour = 1\n')
    done = subprocess.run([str(SRIOVSTACK), "all-in-one", "--state-dir", str(tmp_path / "s"),
                           "--listen", "127.0.0.1:0", "--topology", str(bad)],
                          capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 2
    assert str(bad) in done.stderr and "colour" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s" / "clouds.yaml").exists()


def test_one_hosts_agents_stop_and_start_again_while_the_others_run() -> None:
    runs: dict[str, int] = {}

    def loop_of(name: str):  # noqa: ANN202 - a loop as start_agents makes them
        def loop(stop: threading.Event) -> None:
            runs[name] = runs.get(name, 0) + 1
            stop.wait(30)
        return loop

    agents = AgentSet()
    names = ("compute-agent@compute0", "sriov-agent@compute0", "compute-agent@compute1")
    for name in names:
        agents.start(name, loop_of(name))
    assert agents.of_host("compute0") == names[:2]
    agents.stop(*agents.of_host("compute0"), timeout=5)
    assert agents.alive() == ("compute-agent@compute1",)
    with pytest.raises(RuntimeError, match="compute-agent@compute1 is already running"):
        agents.start("compute-agent@compute1")
    agents.start("sriov-agent@compute0")
    assert set(agents.alive()) == {"sriov-agent@compute0", "compute-agent@compute1"}
    until(lambda: dict(runs), lambda r: r == {names[0]: 1, names[1]: 2, names[2]: 1},
          "the restarted loop to run", timeout=10)
    agents.stop(timeout=5)
    assert agents.alive() == ()
