"""The host index reads only what changed (the scheduler revision and newer heartbeats) and
still sees every claim, release, heartbeat, enable/disable and new host (SQLite, PostgreSQL)."""

from __future__ import annotations

from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import Scheduler, SchedulerConfig
from sriovstack.compute.scheduler.index import HostIndex
from tests.compute.test_claims import inventory, vf


def by_name(index: HostIndex):
    return {h.name: h for h in index.snapshot()}


def test_a_quiet_snapshot_reloads_nothing(database, clock):
    HostRegistry(database, clock).update_inventory(*inventory("compute-0"))
    index = HostIndex(database)
    first = index.snapshot()
    assert index.snapshot() is first


def test_claims_and_releases_reach_the_index_and_only_their_host_is_reloaded(database, clock):
    registry = HostRegistry(database, clock)
    registry.update_inventory(*inventory("compute-0"))
    registry.update_inventory(*inventory("compute-1", memory_mb=4096))
    index, sched = HostIndex(database), Scheduler(database, SchedulerConfig(), clock)
    before = by_name(index)
    claim = sched.schedule_and_claim(vf("s1"))
    assert claim.host == "compute-0"  # more free RAM wins
    after = by_name(index)
    assert after["compute-0"].free_pci == before["compute-0"].free_pci - 2  # VF and its PF
    assert after["compute-0"].memory_mb_used == 512
    assert after["compute-1"] is before["compute-1"]
    sched.release("s1")
    assert by_name(index)["compute-0"].free_pci == before["compute-0"].free_pci


def test_heartbeats_enable_and_new_hosts_reach_the_index(database, clock):
    registry = HostRegistry(database, clock)
    registry.update_inventory(*inventory("compute-0"))
    index = HostIndex(database)
    beat = by_name(index)["compute-0"].heartbeat_at
    clock.advance(30)
    registry.record_heartbeat("compute-0")
    assert by_name(index)["compute-0"].heartbeat_at == beat + 30
    registry.set_enabled("compute-0", False, "maintenance")
    assert by_name(index)["compute-0"].enabled is False
    registry.update_inventory(*inventory("compute-1"))
    assert sorted(by_name(index)) == ["compute-0", "compute-1"]


def test_a_forgotten_host_is_reloaded(database, clock):
    HostRegistry(database, clock).update_inventory(*inventory("compute-0"))
    index = HostIndex(database)
    state = by_name(index)["compute-0"]
    index.forget(state.id)
    reloaded = by_name(index)["compute-0"]
    assert reloaded == state and reloaded is not state


def test_a_snapshot_waiting_on_the_database_does_not_block_the_index(database, clock):
    """While one snapshot waits on a lock in PostgreSQL, ``forget`` (and so the filters and
    claims of other builds) goes ahead: the index lock is never held across the read."""
    import threading

    import pytest
    from sqlalchemy import text

    if database.dialect != "postgresql":
        pytest.skip("SQLite has no row lock to hold a reader on")
    registry = HostRegistry(database, clock)
    registry.update_inventory(*inventory("compute-0"))
    index = HostIndex(database)
    state = by_name(index)["compute-0"]
    registry.update_inventory(*inventory("compute-1"))  # the next snapshot has a read to do
    blocked, done = threading.Event(), threading.Event()
    with database.engine.connect() as locker:
        tx = locker.begin()
        locker.execute(text("LOCK TABLE hosts IN ACCESS EXCLUSIVE MODE"))

        def slow() -> None:
            blocked.set()
            index.snapshot()
            done.set()

        reader = threading.Thread(target=slow)
        reader.start()
        blocked.wait(5)
        assert not done.wait(0.5), "the snapshot should wait on the table lock"
        other = threading.Thread(target=index.forget, args=(state.id,))
        other.start()
        other.join(2)
        forgot = not other.is_alive()
        tx.rollback()
    reader.join(10)
    assert forgot, "forget() waited for a snapshot's database read"
    assert done.is_set()
    assert sorted(by_name(index)) == ["compute-0", "compute-1"]
