"""Builds run in batches (issue 14, compute/build_batch.py), SQLite and PostgreSQL: a batch
places each server as a build of its own would, one server's failure or delete leaves the
others placed, and the servers placed together bump their host's revision once.  The batcher
runs every queued build exactly once, at most ``drainers`` batches at a time, and returns to
each caller only when its build has ended; a build waiting on the event loop holds no
thread."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from sqlalchemy import select, update

from sriovstack.compute.build_batch import BuildBatcher
from sriovstack.compute.types import NetworkRequest, ServerCreate
from sriovstack.compute.build_lease import LeaseState
from sriovstack.db.models import ServerPortRow, ServerRow
from sriovstack.network import DeviceBinding
from sriovstack.wire import ServerStatus
from tests.compute.conftest import ADMIN, Cloud, intel_82576_devices
from tests.polling import until

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"


def _queued(cloud: Cloud, network_id: str, name: str = "vm") -> str:
    """The 202: a server in BUILD on a new direct port, its build not yet run."""
    port = cloud.port(ADMIN, network_id)
    return cloud.compute.servers.create(ADMIN, ServerCreate(
        name=name, flavor_ref="1", image_ref=CIRROS_ID,
        networks=(NetworkRequest(port_id=port.id),))).id


def test_a_batch_places_what_fits_and_fails_the_rest_with_the_exact_fault(
        cloud: Cloud) -> None:
    """Two VFs, three servers in one batch: two are placed with their VF recorded on their
    port, the third ends in ERROR with the fault it gets when built on its own."""
    cloud.add_host("compute-1", devices=intel_82576_devices(vfs_per_pf=1))
    network = cloud.network()
    first, second, third = (_queued(cloud, network, f"vm{i}") for i in range(3))
    cloud.compute.servers.builder.build_batch((first, second, third))
    for server_id in (first, second):
        server = cloud.compute.servers.get(ADMIN, server_id)
        assert server.status is ServerStatus.BUILD and server.host == "compute-1"
    with cloud.db.transaction() as s:
        recorded = s.execute(select(ServerPortRow.server_id, ServerPortRow.pci_address)
                             .where(ServerPortRow.server_id.in_((first, second)))).all()
    assert len({address for _, address in recorded if address}) == 2
    batched = cloud.compute.servers.get(ADMIN, third)
    assert batched.status is ServerStatus.ERROR and batched.host is None
    # The same server built alone, on a host as full: the same message, word for word.
    cloud.compute.servers.delete(ADMIN, third)
    alone = _queued(cloud, network, "vm2")
    cloud.compute.servers.builder.build(alone)
    fault = cloud.compute.servers.get(ADMIN, alone).fault
    assert batched.fault is not None and fault is not None
    assert batched.fault.message == fault.message
    assert batched.fault.message.startswith("No valid host was found. No valid host among 1")


def test_servers_placed_together_bump_their_host_once(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    network = cloud.network()
    servers = tuple(_queued(cloud, network, f"vm{i}") for i in range(3))
    revisions = cloud.compute.servers.builder.revisions
    before = revisions.current("compute-1")
    cloud.compute.servers.builder.build_batch(servers)
    assert revisions.current("compute-1") == before + 1
    assert {cloud.compute.servers.get(ADMIN, s).host for s in servers} == {"compute-1"}


def test_a_server_deleted_before_its_batch_is_skipped_and_the_others_placed(
        cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    network = cloud.network()
    kept, deleted = _queued(cloud, network, "kept"), _queued(cloud, network, "deleted")
    cloud.compute.servers.delete(ADMIN, deleted)
    cloud.compute.servers.builder.build_batch((deleted, kept))
    assert cloud.compute.servers.get(ADMIN, kept).host == "compute-1"
    held = cloud.scheduler.claims.held_by(deleted)
    assert held == ()


def test_one_servers_unexpected_error_fails_it_alone(cloud: Cloud) -> None:
    """A bind that raises something unexpected for one server fails the batch's binding
    transaction; each server's ports are then bound alone: that server ends in ERROR with
    the error as its fault, its claim freed; the other server of the batch is placed."""
    cloud.add_host("compute-1")
    network = cloud.network()
    good, bad = _queued(cloud, network, "good"), _queued(cloud, network, "bad")
    real_bind = cloud.net.bind_port
    real_bind_devices = cloud.net.bind_devices

    def bind(port_id: str, host: str, device_id: str, *args: object, **kwargs: object) -> object:
        if device_id == bad:
            raise RuntimeError("the wire is cut")
        return real_bind(port_id, host, device_id, *args, **kwargs)  # type: ignore[arg-type]

    def bind_devices(devices: list[DeviceBinding]) -> object:
        if any(d.device_id == bad for d in devices):
            raise RuntimeError("the wire is cut")
        return real_bind_devices(devices)

    cloud.net.bind_port = bind  # type: ignore[method-assign, assignment]
    cloud.net.bind_devices = bind_devices  # type: ignore[method-assign, assignment]
    try:
        cloud.compute.servers.builder.build_batch((bad, good))
    finally:
        cloud.net.bind_port = real_bind  # type: ignore[method-assign]
        cloud.net.bind_devices = real_bind_devices  # type: ignore[method-assign]
    assert cloud.compute.servers.get(ADMIN, good).host == "compute-1"
    failed = cloud.compute.servers.get(ADMIN, bad)
    assert failed.status is ServerStatus.ERROR and failed.fault is not None
    assert "the wire is cut" in failed.fault.message
    assert cloud.scheduler.claims.held_by(bad) == ()


def test_the_batcher_runs_every_build_once_in_at_most_two_batches_at_a_time() -> None:
    lock = threading.Lock()
    ran: list[str] = []
    running = [0, 0]  # now, most at once
    release = threading.Event()
    done: dict[str, bool] = {}

    def run_batch(ids: tuple[str, ...]) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running)
        release.wait(timeout=10)
        with lock:
            running[0] -= 1
            ran.extend(ids)
        if "s3" in ids:
            raise RuntimeError("a broken batch still lets its callers go")

    batcher = BuildBatcher(run_batch, batch_size=4, drainers=2)

    def caller(server_id: str) -> None:
        batcher.run(server_id)
        with lock:
            done[server_id] = server_id in ran  # its build ended before run returned

    threads = [threading.Thread(target=caller, args=(f"s{i}",)) for i in range(12)]
    for t in threads:
        t.start()
    until(lambda: running[0], lambda n: n == 2, what="two batches running", timeout=10,
          interval=0.02)
    release.set()
    for t in threads:
        t.join(timeout=10)
    assert sorted(ran) == sorted(f"s{i}" for i in range(12))
    assert running[1] == 2
    assert done == {f"s{i}": True for i in range(12)}


def test_builds_waiting_on_the_event_loop_hold_no_thread_and_each_runs_once() -> None:
    # The API's background tasks wait for their batch on the event loop: only the callers
    # that take a drainer slot use a thread, so 40 queued builds leave the requests'
    # threadpool alone (waiting in ``run`` held a thread each).
    lock = threading.Lock()
    ran: list[str] = []
    threads: set[int] = set()
    release = threading.Event()

    def run_batch(ids: tuple[str, ...]) -> None:
        with lock:
            threads.add(threading.get_ident())
        release.wait(timeout=10)
        with lock:
            ran.extend(ids)

    batcher = BuildBatcher(run_batch, batch_size=4, drainers=2)

    async def boots() -> dict[str, bool]:
        done: dict[str, bool] = {}

        async def caller(server_id: str) -> None:
            await batcher.run_async(server_id)
            done[server_id] = server_id in ran  # its build ended before it returned

        before = threading.active_count()
        tasks = [asyncio.create_task(caller(f"s{i}")) for i in range(40)]
        for _ in range(200):  # until two batches run (in at most two new threads)
            await asyncio.sleep(0.01)
            if len(threads) == 2:
                break
        assert threading.active_count() - before <= 2
        release.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        return done

    done = asyncio.run(boots())
    assert sorted(ran) == sorted(f"s{i}" for i in range(40))
    assert len(threads) == 2
    assert done == {f"s{i}": True for i in range(40)}


def test_no_build_waits_with_no_drainer_left() -> None:
    # A drainer gives its slot back under the lock that queues: a build queued just after
    # the last batch is taken either is drained by it or takes the slot itself, never waits
    # with no drainer left.
    batcher = BuildBatcher(lambda ids: None, batch_size=1, drainers=1)

    async def many() -> None:
        for _ in range(50):
            await asyncio.wait_for(asyncio.gather(
                *(batcher.run_async(f"s{i}") for i in range(5))), timeout=5)

    asyncio.run(many())
    batcher.run("sync")  # the slot is free again for a thread's caller


@pytest.mark.parametrize("size, drainers", [(0, 1), (1, 0)])
def test_a_batcher_needs_a_size_and_a_drainer(size: int, drainers: int) -> None:
    with pytest.raises(ValueError):
        BuildBatcher(lambda ids: None, size, drainers)


def test_a_server_refused_by_one_host_in_a_batch_tries_the_next_alone(cloud: Cloud) -> None:
    """The batch binds every server's ports in one transaction; the host without a NIC
    agent refuses those it was claimed for, and each of them goes on to the next host on
    its own (its claim there freed first): every server ends on compute-2."""
    cloud.add_host("compute-1", sriov_agent=False)
    cloud.add_host("compute-2")
    network = cloud.network()
    servers = tuple(_queued(cloud, network, f"vm{i}") for i in range(3))
    cloud.compute.servers.builder.build_batch(servers)
    for server_id in servers:
        server = cloud.compute.servers.get(ADMIN, server_id)
        assert server.host == "compute-2" and server.fault is None
        assert {d.address for d in cloud.scheduler.claims.held_by(server_id)}
    with cloud.db.transaction() as s:
        refused = s.scalars(select(ServerPortRow.port_id)).all()
    for port_id in refused:
        assert cloud.net.get_port(ADMIN, port_id).binding.host == "compute-2"


def _without_ids(message: str) -> str:
    """The message but for its ports and hosts (the order hosts are tried in depends on
    what the others claimed)."""
    ports = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<port>",
                   message)
    return re.sub(r"compute-\d", "<host>", ports)


def test_a_batch_refused_everywhere_fails_each_server_as_a_lone_build(cloud: Cloud) -> None:
    """No host binds: each server of the batch ends in ERROR with the fault a lone build
    gets (no valid host once every host refused, naming the binding's reason)."""
    cloud.add_host("compute-1", sriov_agent=False)
    cloud.add_host("compute-2", sriov_agent=False)
    network = cloud.network()
    servers = tuple(_queued(cloud, network, f"vm{i}") for i in range(2))
    cloud.compute.servers.builder.build_batch(servers)
    alone = _queued(cloud, network, "alone")
    cloud.compute.servers.builder.build(alone)
    expected = cloud.compute.servers.get(ADMIN, alone).fault
    assert expected is not None
    for server_id in servers:
        server = cloud.compute.servers.get(ADMIN, server_id)
        assert server.status is ServerStatus.ERROR and server.fault is not None
        assert _without_ids(server.fault.message) == _without_ids(expected.message)
        assert cloud.scheduler.claims.held_by(server_id) == ()
    assert expected.message.startswith("No valid host was found.")
    assert "Binding failed on the hosts tried before" in expected.message


def test_placing_a_batch_settles_only_the_servers_whose_lease_holds(cloud: Cloud) -> None:
    """One UPDATE places the batch: each server on its own host if its lease is still ours;
    a server another worker took over is LOST, a deleted one GONE, neither touched."""
    network = cloud.network()
    held, taken, deleted = (_queued(cloud, network, name) for name in ("a", "b", "c"))
    leases = cloud.compute.servers.builder.leases
    with cloud.db.transaction() as s:
        started = leases.start_many((held, taken, deleted), s)
    with cloud.db.transaction() as s:
        s.execute(update(ServerRow).where(ServerRow.id == taken)
                  .values(build_owner="another-worker#1"))
    assert leases.fence_delete(deleted) is not None
    with cloud.db.transaction() as s:
        states = leases.settle_on_hosts(
            s, [(started[held], "compute-1"), (started[taken], "compute-2"),
                (started[deleted], "compute-3")], task_state="spawning")
    assert states == [LeaseState.HELD, LeaseState.LOST, LeaseState.GONE]
    with cloud.db.transaction() as s:
        rows = dict(s.execute(select(ServerRow.id, ServerRow.host)).all())
    assert rows == {held: "compute-1", taken: None, deleted: None}
