"""Build recovery (SQLite and PostgreSQL): a build whose API worker died between the 202 and the
end is taken over once its lease expires, its partial state undone and built again; a live
lease, a placed server and a deleted one are left alone; racing sweepers take over once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from sriovstack.api.app import create_app
from sriovstack.api.services import Services, build_services
from sriovstack.api.settings import ApiSettings
from sriovstack.clock import FakeClock
from sriovstack.compute.build import DEVICE_OWNER, ServerBuilder
from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS, LeaseState
from sriovstack.compute.scheduler.model import BuildRequest
from sriovstack.compute.types import NetworkRequest, ServerCreate, ServerStatus
from sriovstack.db import Database
from sriovstack.db.models.compute import ServerRow
from sriovstack.db.models.hosts import HostAllocationRow, HostRow, PciDeviceRow
from sriovstack.errors import ConfigError, Conflict, ErrorKind, Unavailable
from sriovstack.identity import Caller
from sriovstack.network import BindingProfile, VifType
from sriovstack.pci.device import DevType
from sriovstack.pci.pools import PciRequest
from sriovstack.wire import COMPUTE_AGENT_TYPE, Heartbeat
from tests.compute.conftest import ADMIN, Cloud, inventory

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"
EXPIRED = DEFAULT_LEASE_SECONDS + 1
TINY_RAM = 512  # m1.tiny


def _worker(cloud: Cloud) -> ServerBuilder:
    """Another API process over the same database (what starts after the dead one)."""
    return ServerBuilder(cloud.db, cloud.net, cloud.scheduler,
                         cloud.compute.servers.builder.revisions, clock=cloud.clock)


def _create(cloud: Cloud) -> tuple[str, str]:
    """The 202: a server in BUILD with one direct port, its build queued but not run."""
    port = cloud.port(ADMIN, cloud.network())
    server = cloud.compute.servers.create(ADMIN, ServerCreate(
        name="webserver01", flavor_ref="1", image_ref=CIRROS_ID,
        networks=(NetworkRequest(port_id=port.id),)))
    return server.id, port.id


def _held(cloud: Cloud) -> dict[str, str | None]:
    with cloud.db.transaction() as s:
        rows = s.execute(select(PciDeviceRow.address, PciDeviceRow.owner).where(
            PciDeviceRow.status != "available")).all()
    return {a: o for a, o in rows}


def _ram_used(cloud: Cloud) -> int:
    with cloud.db.transaction() as s:
        return int(s.scalar(select(func.sum(HostRow.memory_mb_used))) or 0)


def _allocations(cloud: Cloud, server_id: str) -> int:
    with cloud.db.transaction() as s:
        return int(s.scalar(select(func.count()).select_from(HostAllocationRow).where(
            HostAllocationRow.server_id == server_id)) or 0)


def _assert_built_once(cloud: Cloud, server_id: str, port_id: str) -> None:
    """Placed on a host, exactly one VF claimed and one RAM allocation, the port bound to it."""
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.status is ServerStatus.BUILD and server.host == "compute-1"
    held = _held(cloud)
    assert list(held.values()) == [server_id]
    assert _allocations(cloud, server_id) == 1 and _ram_used(cloud) == TINY_RAM
    port = cloud.net.get_port(ADMIN, port_id)
    assert port.binding.vif_type is VifType.HW_VEB and port.binding.host == "compute-1"
    assert port.device_id == server_id
    assert str(port.binding.profile.pci_slot) == next(iter(held))
    assert str(server.ports[0].pci_address) == next(iter(held))
    with cloud.db.transaction() as s:
        row = s.get(ServerRow, server_id)
        assert row is not None and row.build_owner is None and row.build_lease_until is None


def _die_after_claim_and_bind(cloud: Cloud, server_id: str, port_id: str) -> str:
    """What a build does before it records the host, run by a worker that then dies: it
    takes the lease, claims a VF and binds the port to it; the host is never recorded."""
    dead = _worker(cloud)
    with cloud.db.transaction() as s:  # this process queued the build for the dead worker
        s.execute(update(ServerRow).where(ServerRow.id == server_id)
                  .values(build_owner=dead.leases.worker))
    assert dead.leases.start(server_id) is not None
    claim = cloud.scheduler.schedule_and_claim(BuildRequest(
        server_id=server_id, project_id=ADMIN.project_id or "", vcpus=1, memory_mb=TINY_RAM,
        disk_gb=1, pci_requests=(PciRequest(dev_type=DevType.VF, physnet="physnet1",
                                            port_id=port_id),)))
    dev = claim.device_for(port_id)
    assert dev is not None
    cloud.net.bind_port(port_id, claim.host, server_id, DEVICE_OWNER, BindingProfile(
        pci_slot=dev.address, pci_vendor_info=dev.pci_vendor_info,
        physical_network=dev.physnet))
    return str(dev.address)


def test_a_build_that_never_ran_is_built_by_the_next_sweep(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == (server_id,)
    _assert_built_once(cloud, server_id, port_id)


def test_a_build_that_died_after_claiming_and_binding_ends_with_one_claim(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    _die_after_claim_and_bind(cloud, server_id, port_id)
    assert _allocations(cloud, server_id) == 1 and len(_held(cloud)) == 1
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == (server_id,)
    _assert_built_once(cloud, server_id, port_id)
    assert _worker(cloud).recover() == ()  # placed: the agent's part is pending, nothing to do


def test_a_live_lease_is_left_alone_and_renewing_keeps_it_live(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, _port_id = _create(cloud)
    sweeper = _worker(cloud)
    cloud.clock.advance(DEFAULT_LEASE_SECONDS - 1)
    assert sweeper.recover() == ()
    owner = cloud.compute.servers.builder
    lease = owner.leases.start(server_id)  # the queued build starts and renews as it works
    assert lease is not None
    cloud.clock.advance(DEFAULT_LEASE_SECONDS - 1)
    assert owner.leases.renew(lease) is LeaseState.HELD
    cloud.clock.advance(DEFAULT_LEASE_SECONDS - 1)
    assert sweeper.recover() == ()
    assert _held(cloud) == {} and cloud.compute.servers.get(ADMIN, server_id).host is None


def test_two_sweepers_racing_take_the_build_over_once(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    cloud.clock.advance(EXPIRED)
    first, second = _worker(cloud), _worker(cloud)
    seen_first, seen_second = first.leases.expired(), second.leases.expired()
    assert [o.server_id for o in seen_first] == [o.server_id for o in seen_second] == [server_id]
    won = first.leases.take_over(seen_first[0])
    assert won is not None
    assert second.leases.take_over(seen_second[0]) is None  # its snapshot is stale now
    assert first.leases.renew(won) is LeaseState.HELD


def test_two_sweepers_in_threads_rebuild_once(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    _die_after_claim_and_bind(cloud, server_id, port_id)
    cloud.clock.advance(EXPIRED)
    sweepers = [_worker(cloud) for _ in range(2)]
    start = threading.Barrier(len(sweepers))
    results: list[tuple[str, ...]] = []

    def sweep(builder: ServerBuilder) -> None:
        start.wait()
        results.append(builder.recover())

    threads = [threading.Thread(target=sweep, args=(b,)) for b in sweepers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == [(), (server_id,)]
    _assert_built_once(cloud, server_id, port_id)


def test_the_slow_original_worker_does_not_build_a_second_time(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == (server_id,)
    cloud.compute.servers.builder.build(server_id)  # the background task finally runs
    _assert_built_once(cloud, server_id, port_id)


def test_delete_mid_build_wins_over_recovery(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    _die_after_claim_and_bind(cloud, server_id, port_id)
    cloud.compute.servers.delete(ADMIN, server_id)
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == ()
    assert _held(cloud) == {} and _ram_used(cloud) == 0
    assert cloud.net.get_port(ADMIN, port_id).binding.vif_type is VifType.UNBOUND


def test_a_taken_over_or_deleted_lease_says_so_on_renew(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, _port_id = _create(cloud)
    original = cloud.compute.servers.builder
    lease = original.leases.start(server_id)
    assert lease is not None
    cloud.clock.advance(EXPIRED)
    taker = _worker(cloud)
    taken = taker.leases.take_over(taker.leases.expired()[0])
    assert taken is not None
    assert original.leases.renew(lease) is LeaseState.LOST
    cloud.compute.servers.delete(ADMIN, server_id)
    assert taker.leases.renew(taken) is LeaseState.GONE


def test_a_server_from_before_the_lease_columns_is_recovered(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    with cloud.db.transaction() as s:  # a row written before migration 0003
        s.execute(update(ServerRow).where(ServerRow.id == server_id)
                  .values(build_owner=None, build_lease_until=None))
    assert _worker(cloud).recover() == (server_id,)
    _assert_built_once(cloud, server_id, port_id)


def test_a_recovered_build_with_no_host_left_ends_in_error_not_in_a_loop(cloud: Cloud) -> None:
    server_id, port_id = _create(cloud)  # no compute host registered
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == (server_id,)
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.status is ServerStatus.ERROR and server.fault is not None
    assert "No valid host" in server.fault.message
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == ()


@pytest.mark.parametrize("delay", [-1.0, 3601.0, float("nan")])
def test_the_test_build_delay_hook_rejects_a_bad_value(settings: ApiSettings,
                                                       delay: float) -> None:
    with pytest.raises(ConfigError, match="--test-build-delay"):
        replace(settings, build_start_delay=delay)


def test_the_build_waits_the_test_build_delay_the_api_settings_give(
        settings: ApiSettings, database: Database, clock: FakeClock) -> None:
    delay = 0.3
    services = build_services(replace(settings, build_start_delay=delay), database, clock=clock)
    services.compute.reports.inventory(*inventory("compute-1"))
    services.compute.reports.heartbeat("compute-1",
                                       Heartbeat(COMPUTE_AGENT_TYPE, "sriovstack-compute"))
    caller = Caller("u-demo", "p-demo")
    server = services.compute.servers.create(caller, ServerCreate(
        name="late", flavor_ref="1", image_ref=CIRROS_ID, networks=()))
    started = time.monotonic()
    services.compute.servers.builder.build(server.id)
    assert time.monotonic() - started >= delay
    assert services.compute.servers.get(caller, server.id).host == "compute-1"


def test_the_api_sweeps_at_start(services: Services, settings: ApiSettings,
                                 clock: FakeClock) -> None:
    reports = services.compute.reports
    reports.inventory(*inventory("compute-1"))
    reports.heartbeat("compute-1", Heartbeat(COMPUTE_AGENT_TYPE, "sriovstack-compute"))
    caller = Caller("u-demo", "p-demo")
    server = services.compute.servers.create(caller, ServerCreate(
        name="orphan", flavor_ref="1", image_ref=CIRROS_ID, networks=()))
    clock.advance(timedelta(seconds=EXPIRED))
    with TestClient(create_app(settings, services, recovery_interval=3600)):
        deadline = time.monotonic() + 30
        while services.compute.servers.get(caller, server.id).host is None:
            assert time.monotonic() < deadline, "the start-up sweep did not build the server"
            time.sleep(0.05)
    assert services.compute.servers.get(caller, server.id).host == "compute-1"


def test_the_api_sweep_keeps_the_host_index_warm(services: Services, settings: ApiSettings,
                                                clock: FakeClock) -> None:
    # Issue 14: hosts registered while no build runs are read into each worker's index by
    # the sweep, so a worker's first decision does not load every host (1.5 s at 5,000).
    index = services.scheduler._index  # the in-memory states, read without a refresh
    services.compute.reports.inventory(*inventory("compute-1"))
    assert [h.name for h in index.snapshot()] == ["compute-1"]  # read once: now only in memory
    with TestClient(create_app(settings, services, recovery_interval=0.05)):
        services.compute.reports.inventory(*inventory("compute-2"))
        deadline = time.monotonic() + 30
        while sorted(h.name for h in index.snapshot(refresh=False)) != ["compute-1",
                                                                         "compute-2"]:
            assert time.monotonic() < deadline, "the sweep did not read the new host"
            time.sleep(0.05)


class _StallingNetwork:
    """The network service as a build under heavy load meets it (issue 16): the first
    bind_port or bind_devices call (a batch binds with one) runs ``meanwhile`` (what other
    threads did while this one was descheduled) and then fails with ``error``; everything
    else is the real service."""

    def __init__(self, real: object, meanwhile: Callable[[], object],
                 error: Exception) -> None:
        self._real, self._meanwhile, self._error = real, meanwhile, error
        self.calls = 0

    def _stalled(self, name: str, *args: object, **kwargs: object) -> object:
        self.calls += 1
        if self.calls == 1:
            self._meanwhile()
            raise self._error
        return getattr(self._real, name)(*args, **kwargs)

    def bind_port(self, *args: object, **kwargs: object) -> object:
        return self._stalled("bind_port", *args, **kwargs)

    def bind_devices(self, *args: object, **kwargs: object) -> object:
        return self._stalled("bind_devices", *args, **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


def _slow_worker(cloud: Cloud, server_id: str, network: _StallingNetwork) -> ServerBuilder:
    """The worker that queued the build, with the stalling network."""
    slow = ServerBuilder(cloud.db, network, cloud.scheduler,  # type: ignore[arg-type]
                         cloud.compute.servers.builder.revisions, clock=cloud.clock)
    with cloud.db.transaction() as s:
        s.execute(update(ServerRow).where(ServerRow.id == server_id)
                  .values(build_owner=slow.leases.worker))
    return slow


def test_a_lock_timeout_mid_build_leaves_the_server_to_the_sweep_not_in_error(
        cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)
    locked = Unavailable("the database is unavailable: database is locked")
    slow = _slow_worker(cloud, server_id, _StallingNetwork(cloud.net, lambda: None, locked))
    slow.build(server_id)
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.status is ServerStatus.BUILD and server.fault is None
    assert _worker(cloud).recover() == ()  # its lease still runs
    cloud.clock.advance(EXPIRED)
    assert _worker(cloud).recover() == (server_id,)
    _assert_built_once(cloud, server_id, port_id)


def test_a_build_stalled_past_its_lease_does_not_undo_the_takers_claim_and_binding(
        cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _create(cloud)

    def taken_over() -> None:  # this worker was descheduled: its lease ran out meanwhile
        cloud.clock.advance(EXPIRED)
        assert _worker(cloud).recover() == (server_id,)

    failed = Conflict("binding timed out", kind=ErrorKind.PORT_BINDING_FAILED)
    slow = _slow_worker(cloud, server_id, _StallingNetwork(cloud.net, taken_over, failed))
    slow.build(server_id)  # claims, meets the failed binding, finds its lease lost
    _assert_built_once(cloud, server_id, port_id)
