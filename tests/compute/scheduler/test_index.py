"""The host index reads only what changed (the scheduler revision and newer heartbeats) and
still sees every claim, release, heartbeat, enable/disable and new host (SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import BuildRequest, Scheduler, SchedulerConfig
from sriovstack.compute.scheduler.index import HostIndex
from sriovstack.compute.scheduler.revision import touch_hosts
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
    before = by_name(index)["compute-0"]
    beat = before.heartbeat_at
    clock.advance(30)
    registry.record_heartbeat("compute-0")
    beaten = by_name(index)["compute-0"]
    assert beaten.heartbeat_at == beat + 30
    assert beaten.pool_set is before.pool_set  # a heartbeat does not prepare the pools again
    assert beaten == replace(before, heartbeat_at=beat + 30)
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


def test_the_ranked_choice_follows_claims_releases_disables_and_heartbeats(database, clock):
    """``choose`` (a few hosts visited best-first) agrees with the full scan
    (``select_hosts``) while the hosts change under it; NoValidHost keeps its counts."""
    import pytest

    from sriovstack.errors import NoValidHost

    registry = HostRegistry(database, clock)
    for n in range(3):
        registry.update_inventory(*inventory(f"compute-{n}", memory_mb=4096 * (n + 1)))
    sched = Scheduler(database, SchedulerConfig(), clock)

    def choice() -> str:
        chosen = sched.choose(vf("probe"))
        assert chosen.name == sched.select_hosts(vf("probe"))[0].name
        return chosen.name

    assert choice() == "compute-2"  # the most free RAM
    sched.schedule_and_claim(BuildRequest("big", "p", 1, 12288))  # fills compute-2's RAM...
    assert choice() == "compute-1"
    sched.release("big")  # ...until it is released
    assert choice() == "compute-2"
    registry.set_enabled("compute-2", False, "maintenance")
    assert choice() == "compute-1"
    registry.set_enabled("compute-2", True, None)
    assert choice() == "compute-2"
    clock.advance(45)
    for name in ("compute-0", "compute-1"):
        registry.record_heartbeat(name)
    clock.advance(30)  # compute-2 is silent for 75 s: down
    assert choice() == "compute-1"
    with pytest.raises(NoValidHost) as failed:
        sched.choose(BuildRequest("huge", "p", 200, 512))
    assert failed.value.message == (
        "No valid host among 3 hosts. ComputeFilter: 1 host is down (no heartbeat in 60 s). "
        "CoreFilter: 2 hosts have fewer than 200 vCPUs free (cpu_allocation_ratio 16)")


def test_a_change_committed_after_a_newer_one_still_reaches_the_index(database, clock):
    """PostgreSQL stamps hosts with the writing transaction's id, so stamps commit out of
    order: a transaction that began first (compute-0) commits after a later one (compute-1)
    and after a snapshot; the next snapshot still reloads compute-0."""
    import pytest
    from sqlalchemy import update

    from sriovstack.compute.scheduler.revision import touch_hosts
    from sriovstack.db.models import HostRow

    if database.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: its stamps commit in order")
    registry = HostRegistry(database, clock)
    registry.update_inventory(*inventory("compute-0"))
    registry.update_inventory(*inventory("compute-1"))
    index = HostIndex(database)
    ids = {name: h.id for name, h in by_name(index).items()}

    def use(s, name: str, mb: int) -> None:
        s.execute(update(HostRow).where(HostRow.id == ids[name]).values(
            memory_mb_used=mb, generation=HostRow.generation + 1))
        touch_hosts(s, (ids[name],))

    with database.transaction() as early:
        use(early, "compute-0", 1000)  # its transaction id is the smaller one
        with database.transaction() as late:
            use(late, "compute-1", 2000)
        assert by_name(index)["compute-1"].memory_mb_used == 2000
        assert by_name(index)["compute-0"].memory_mb_used == 0  # not committed yet
    assert by_name(index)["compute-0"].memory_mb_used == 1000


def test_the_first_read_loads_every_host_in_the_same_few_statements(database, clock):
    # The first decision of each API process loads every host: without lists of ids (at
    # 5,000 hosts, ten lists of 500 ids were sent three times each, parsed by the driver).
    from sqlalchemy import event

    from sriovstack.db.models import HostRow

    def read_statements(index: HostIndex) -> int:
        seen = []

        def count(*_args: object) -> None:
            seen.append(1)

        event.listen(database.engine, "before_cursor_execute", count)
        try:
            index.snapshot()
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(seen)

    HostRegistry(database, clock).update_inventory(*inventory("compute-0"))
    warm = HostIndex(database)
    few = read_statements(warm)
    with database.transaction() as s:
        added = [HostRow(name=f"compute-{n:04d}", vcpus=8, memory_mb=8192, disk_gb=100)
                 for n in range(1, 1200)]
        s.add_all(added)
        s.flush()
        touch_hosts(s, [h.id for h in added])  # as registering them does
    assert read_statements(HostIndex(database)) == few
    assert len(HostIndex(database).snapshot()) == 1200
    # An index read before most hosts registered reads them all the same way, not in lists
    # of 500 ids (the API's sweep keeps each worker's index warm while hosts register).
    assert read_statements(warm) == few
    assert len(warm.snapshot()) == 1200


def test_a_removed_host_leaves_the_index_and_a_quiet_read_never_reads_every_host(
        database, clock):
    """A deleted host row carries no revision stamp: the index learns of removals from their
    counter, read with the changed hosts, and lists every host id only after one (a quiet
    read is the same two statements at any number of hosts, no count of the hosts)."""
    from sqlalchemy import event

    from sriovstack.compute.services import ComputeServiceRegistry
    from tests.compute.conftest import ADMIN

    registry = HostRegistry(database, clock)
    for name in ("compute-0", "compute-1", "compute-2"):
        registry.update_inventory(*inventory(name))
    index = HostIndex(database)
    assert sorted(by_name(index)) == ["compute-0", "compute-1", "compute-2"]
    sql: list[str] = []

    def seen(_conn, _cursor, statement, *_rest) -> None:
        sql.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        index.snapshot()
        assert len(sql) == 2 and not any("count(" in s for s in sql), sql
        ComputeServiceRegistry(database, clock).delete(ADMIN, "compute-1")
        sql.clear()
        assert sorted(by_name(index)) == ["compute-0", "compute-2"]
        assert len(sql) == 3, sql  # the changes, the heartbeats and, once, every host id
        sql.clear()
        assert sorted(by_name(index)) == ["compute-0", "compute-2"]
        assert len(sql) == 2, sql
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    # An index made after the removal starts from the counter as it is
    assert sorted(by_name(HostIndex(database))) == ["compute-0", "compute-2"]


def test_postgresql_reads_changed_hosts_and_new_heartbeats_by_index_without_statistics(
        database):
    """A refresh's two reads (hosts stamped since, heartbeats since) use their indexes on a
    hosts table PostgreSQL has no statistics for yet (a fresh database, autovacuum not yet
    run): not a scan of every host at every decision."""
    from datetime import UTC, datetime

    import pytest
    from sqlalchemy import text

    from sriovstack.compute.scheduler.index import _BEATS_SINCE
    from sriovstack.compute.scheduler.revision import _CHANGED_PG
    from tests.plans import scans_of

    if database.dialect != "postgresql":
        pytest.skip("the plans are PostgreSQL's")
    with database.transaction() as s:
        s.execute(text(
            "INSERT INTO hosts (id, name, enabled, forced_down, availability_zone, vcpus, "
            "memory_mb, disk_gb, vcpus_used, memory_mb_used, disk_gb_used, capabilities, "
            "numa_topology, last_heartbeat, generation, revision) SELECT 'h' || n, "
            "'compute-' || n, true, false, 'nova', 64, 262144, 2000, 0, 0, 0, '{}', '[]', "
            "now() - n * interval '1 ms', 0, n FROM generate_series(1, 5000) AS n"))
        assert s.scalar(text("SELECT count(*) FROM pg_statistic "
                             "WHERE starelid = 'hosts'::regclass")) == 0
        for statement, params in ((_CHANGED_PG, {"since": 4990}),
                                  (_BEATS_SINCE, {"beat_since": datetime.now(UTC)})):
            scans = scans_of(s, statement, "hosts", **params)
            assert scans and all(n["Node Type"] != "Seq Scan" for n in scans), scans
