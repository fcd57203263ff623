"""The run loop (level-triggered retries, stop on the Event, bad config and credentials stop
it), the agents' state files (atomic, unreadable ones named), and VF settings applied only
where they differ with each driver's refusals remembered (simulated netlink seam)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from sriovstack.agents.loop import AgentLoop
from sriovstack.agents.records import BookedDevice, DeviceBook, VfAssignment, VfLedger
from sriovstack.agents.sriov import link_state_for
from sriovstack.agents.vfconfig import VfConfigurator, is_baseline
from sriovstack.errors import ConfigError, HostError, Unauthorized, Unreachable
from sriovstack.host import Host
from sriovstack.host.netlink import LinkState, VfLinkState, VfMac, VfTrust, VfVlan
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress
from sriovstack.wire import DesiredPort, VnicType

VF = PciAddress.parse("0000:0b:10.1")
MAC = MacAddress("fa:16:3e:00:00:01")


class Script:
    """A reconcile step that fails as told, counting calls; stops the loop after ``last``."""

    def __init__(self, stop: threading.Event, errors: list[Exception | None], last: int) -> None:
        self.stop, self.errors, self.last, self.calls = stop, errors, last, 0

    def __call__(self) -> None:
        self.calls += 1
        if self.calls >= self.last:
            self.stop.set()
        error = self.errors[self.calls - 1] if self.calls <= len(self.errors) else None
        if error is not None:
            raise error


def test_the_loop_retries_failed_passes_and_stops_on_the_event() -> None:
    stop = threading.Event()
    step = Script(stop, [Unreachable("api down"), HostError("EBUSY"), None], last=4)
    beats: list[int] = []
    AgentLoop("t", step, lambda: beats.append(1), report_interval=60,
              retry_delay=0).run(stop)
    assert step.calls == 4 and beats == [1]  # the first heartbeat is sent before any pass


@pytest.mark.parametrize("error", [ConfigError("bad", option="x"), Unauthorized("no")])
def test_bad_config_or_credentials_stop_the_loop(error: Exception) -> None:
    stop = threading.Event()
    with pytest.raises(type(error)):
        AgentLoop("t", Script(stop, [error], last=99), lambda: None, report_interval=60,
                  retry_delay=0).run(stop)


def test_wrong_credentials_at_the_first_heartbeat_refuse_to_start() -> None:
    def beat() -> None:
        raise Unauthorized("wrong password")

    with pytest.raises(Unauthorized):
        AgentLoop("t", lambda: None, beat, report_interval=60).run(threading.Event())


def test_a_failed_heartbeat_is_retried_after_the_retry_delay_not_an_interval() -> None:
    stop = threading.Event()
    beats: list[str] = []

    def beat() -> None:
        beats.append("beat")
        if len(beats) == 2:  # the first periodic beat lands on an API restart
            raise Unreachable("the API restarts")
        if len(beats) == 3:
            stop.set()

    loop = AgentLoop("t", lambda: stop.wait(0.05), beat, report_interval=2.0,
                     retry_delay=0.01)
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    # Beats at 0 and 2 s (failed), then at once: well before the next interval (4 s).
    assert stop.wait(timeout=3.5), beats
    thread.join(timeout=10)
    assert beats == ["beat"] * 3


def test_the_ledger_survives_a_restart_and_drops_what_is_forgotten(tmp_path: Path) -> None:
    a = VfAssignment("s1", "p1", VF, MAC, 15, 3)
    b = VfAssignment("s2", "p2", VF, MacAddress("fa:16:3e:00:00:02"), 15, 5)
    ledger = VfLedger(tmp_path)
    ledger.record(a)
    ledger.record(b)
    again = VfLedger(tmp_path)
    assert again.assignments() == (a, b) and again.holders(VF) == (a, b)
    again.forget(a)
    assert VfLedger(tmp_path).assignments() == (b,)
    assert [p.name for p in tmp_path.iterdir()] == [VfLedger.FILE]  # no temporary left


def test_the_device_book_survives_a_restart(tmp_path: Path) -> None:
    book = DeviceBook(tmp_path)
    book.put(BookedDevice(MAC, VF, True))
    assert DeviceBook(tmp_path).devices() == (BookedDevice(MAC, VF, True),)
    book.drop((MAC, VF))
    assert DeviceBook(tmp_path).devices() == ()


@pytest.mark.parametrize("text", ["{", '{"version": 9, "items": []}',
                                  '{"version": 1, "items": [{"server_id": "s"}]}'])
def test_an_unreadable_state_file_is_named(tmp_path: Path, text: str) -> None:
    (tmp_path / VfLedger.FILE).write_text(text)
    with pytest.raises(HostError, match=VfLedger.FILE) as info:
        VfLedger(tmp_path)
    assert info.value.fix


def test_only_settings_that_differ_are_sent_and_link_state_is_skipped_on_igb(
        compute0: Host) -> None:
    vfs = VfConfigurator(compute0.netlink)
    wanted = (VfMac(MAC), VfVlan(15), VfLinkState(LinkState.ENABLE))
    assert vfs.apply("enp11s0f1", 0, wanted) == (wanted[2],)  # igb: no link-state callback
    assert not vfs.supports("enp11s0f1", VfLinkState)
    state = vfs.state("enp11s0f1", 0)
    assert state is not None and (state.mac, state.vlan) == (MAC, 15)
    assert vfs.apply("enp11s0f1", 0, wanted) == (wanted[2],)  # not asked again
    assert vfs.reset("enp11s0f1", 0) == ()  # link state is already auto: nothing skipped
    state = vfs.state("enp11s0f1", 0)
    assert state is not None and is_baseline(state)


def test_a_probe_asks_the_driver_once_even_when_the_vf_reads_as_having_it(
        compute0: Host, x710: tuple[Host, Path, Path]) -> None:
    # igb reports every VF's link state as auto but cannot set any (EOPNOTSUPP).
    recording = Recording(compute0.netlink)
    vfs = VfConfigurator(recording)  # type: ignore[arg-type]
    auto = VfLinkState(LinkState.AUTO)
    assert vfs.apply("enp11s0f1", 0, (auto,)) == () and recording.sent == []  # satisfied
    assert vfs.probe("enp11s0f1", 0, auto) is False
    assert vfs.probe("enp11s0f1", 1, auto) is False and recording.sent == [auto]  # once
    assert not vfs.supports("enp11s0f1", VfLinkState)
    # i40e takes it: learnt once, then known.
    host, _, _ = x710
    recording = Recording(host.netlink)
    vfs = VfConfigurator(recording)  # type: ignore[arg-type]
    assert vfs.probe("ens1f0", 0, auto) is True
    assert vfs.probe("ens1f0", 1, auto) is True and recording.sent == [auto]


@pytest.mark.parametrize(("admin_up", "propagate", "state"), [
    (True, False, LinkState.ENABLE), (True, True, LinkState.AUTO),
    (False, True, LinkState.DISABLE), (False, False, LinkState.DISABLE)])
def test_the_link_state_a_port_asks_for(admin_up: bool, propagate: bool,
                                        state: LinkState) -> None:
    port = DesiredPort("p", MAC, VnicType.DIRECT, 15, VF, "physnet1", admin_up, 1,
                       propagate_uplink_status=propagate)
    assert link_state_for(port) is state


class Recording:
    """A VfNetlink that notes each setting sent through it."""

    def __init__(self, inner: object) -> None:
        self.inner, self.sent = inner, []  # type: list[object]

    def get_vfs(self, pf_netdev: str) -> tuple[object, ...]:
        return self.inner.get_vfs(pf_netdev)  # type: ignore[attr-defined]

    def set_vf(self, pf_netdev: str, vf: int, setting: object) -> object:
        self.sent.append(setting)
        return self.inner.set_vf(pf_netdev, vf, setting)  # type: ignore[attr-defined]


def test_a_reset_clears_the_mac_last_so_a_vf_never_reads_free_with_a_tenant_vlan(
        compute0: Host) -> None:
    VfConfigurator(compute0.netlink).apply("enp11s0f1", 0, (VfMac(MAC), VfVlan(15)))
    recording = Recording(compute0.netlink)
    VfConfigurator(recording).reset("enp11s0f1", 0)  # type: ignore[arg-type]
    assert [type(s) for s in recording.sent] == [VfVlan, VfMac]


def test_a_required_setting_the_driver_refuses_is_an_error(compute0: Host) -> None:
    vfs = VfConfigurator(compute0.netlink)
    with pytest.raises(HostError, match="enp11s0f1 vf 0"):
        vfs.apply("enp11s0f1", 0, (VfVlan(4096),))  # igb: EINVAL
    assert vfs.apply("enp11s0f1", 0, (VfTrust(True),)) == ()  # igb has trust since 4.14
