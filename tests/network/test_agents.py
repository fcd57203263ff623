"""The agents registry: a heartbeat creates or refreshes its agent in one statement."""

from __future__ import annotations

from sqlalchemy import event

from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.network import NetworkService
from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat
from tests.network.conftest import ADMIN


def test_a_heartbeat_is_one_upsert_that_keeps_what_the_agent_did_not_change(
        net: NetworkService, database: Database, fake_clock: FakeClock) -> None:
    """Issue 14: every agent beats every 10 or 30 seconds, so a beat is one statement (an
    upsert returning the row). The first creates the agent; later ones refresh its binary,
    mappings and heartbeat, keep its id and creation, and move started_at only with the
    start flag; a beat for another type is another agent."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        seen.append(statement)

    beat = Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                     device_mappings=(("physnet1", ("enp4s0f1",)),), start_flag=True)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        first = net.record_heartbeat("compute-0", beat)
        born = fake_clock.now()
        fake_clock.advance(20)
        again = net.record_heartbeat("compute-0", Heartbeat(
            NIC_AGENT_TYPE, "neutron-sriov-nic-agent-2", devices=3,
            device_mappings=(("physnet2", ("enp5s0f0",)),)))
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(seen) == 2, seen
    assert (again.id, again.created_at, again.started_at) == (first.id, born, born)
    assert (again.binary, again.devices, again.device_mappings, again.heartbeat_at) == (
        "neutron-sriov-nic-agent-2", 3, (("physnet2", ("enp5s0f0",)),), fake_clock.now())
    assert again.alive and again.admin_state_up
    fake_clock.advance(5)
    restarted = net.record_heartbeat("compute-0", beat)
    assert (restarted.id, restarted.created_at, restarted.started_at) == (
        first.id, born, fake_clock.now())
    other = net.record_heartbeat("compute-0", Heartbeat("Open vSwitch agent", "ovs"))
    assert other.id != first.id
    assert sorted(a.agent_type for a in net.agents.list(ADMIN)) == [
        NIC_AGENT_TYPE, "Open vSwitch agent"]
