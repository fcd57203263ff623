"""Resize, cold and live migration of a server with a direct port (SQLite and PostgreSQL):
the target VF is claimed while the source VF stays held (by the migration), the port binding
moves, confirm frees the source, revert returns to it; no valid host leaves the server where
it was; a worker that dies mid-move is rolled back (or its revert finished) by the sweep. The
ledger audit is clean after every step: no VF owned twice, none leaked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from sriovstack.compute import MigrationService, MoveKind
from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from sriovstack.compute.scheduler import Scheduler, SchedulerConfig
from sriovstack.compute.types import (ConfirmResizeAction, LiveMigrateAction, MigrateAction,
                                      NetworkRequest, Operation, PowerAction, ResizeAction,
                                      RevertResizeAction, ServerCreate, ServerStatus)
from sriovstack.db.models import HostAllocationRow, HostRow, MigrationRow, PciDeviceRow
from sriovstack.errors import Conflict, Forbidden, Invalid, NotFound
from sriovstack.identity import Caller
from sriovstack.wire import ServerOutcome, ServerReport
from tests.compute.conftest import ADMIN, ALICE, Cloud, intel_82576_devices

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"
RUNNING = ServerReport(ServerOutcome.RUNNING)
STOPPED = ServerReport(ServerOutcome.STOPPED)
St = ServerStatus


def _ledger(cloud: Cloud) -> dict[tuple[str, str], str]:
    """Every held device as (host, address) → owner."""
    with cloud.db.transaction() as s:
        rows = s.execute(select(HostRow.name, PciDeviceRow.address, PciDeviceRow.owner)
                         .join(HostRow, HostRow.id == PciDeviceRow.host_id)
                         .where(PciDeviceRow.owner.is_not(None))).all()
    return {(h, a): o for h, a, o in rows}


def _allocations(cloud: Cloud) -> dict[str, str]:
    """consumer → host name of every host allocation."""
    with cloud.db.transaction() as s:
        rows = s.execute(select(HostAllocationRow.server_id, HostRow.name)
                         .join(HostRow, HostRow.id == HostAllocationRow.host_id)).all()
    return dict(rows)


def _migration(cloud: Cloud, server_id: str) -> MigrationRow:
    with cloud.db.transaction() as s:
        row = s.scalars(select(MigrationRow).where(MigrationRow.server_id == server_id)
                        .order_by(MigrationRow.id.desc())).first()
        assert row is not None
        s.expunge(row)
        return row


def _clean(cloud: Cloud) -> None:
    report = cloud.compute.audit.check()
    assert report.findings == (), report.findings


def _boot(cloud: Cloud, hosts: tuple[str, ...] = ("compute-1", "compute-2")) -> tuple[str, str]:
    for host in hosts:
        cloud.add_host(host)
    port = cloud.port(ADMIN, cloud.network())
    server = cloud.compute.servers.create(ADMIN, ServerCreate(
        name="web", flavor_ref="1", image_ref=CIRROS_ID,
        networks=(NetworkRequest(port_id=port.id),)))
    cloud.compute.servers.builder.build(server.id)
    placed = cloud.compute.servers.get(ADMIN, server.id)
    assert placed.host is not None
    cloud.compute.reports.server_status(placed.host, server.id, RUNNING)
    assert cloud.compute.servers.get(ADMIN, server.id).status is St.ACTIVE
    return server.id, port.id


def _slot(cloud: Cloud, port_id: str) -> tuple[str, str]:
    port = cloud.net.get_port(ADMIN, port_id)
    return port.binding.host, str(port.binding.profile.pci_slot)


def test_resize_claims_the_target_vf_while_the_source_stays_held_then_confirm_frees_it(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    servers = cloud.compute.servers

    servers.action(ADMIN, server_id, ResizeAction("2"), "req-resize")
    moving = servers.get(ADMIN, server_id)
    target = _slot(cloud, port_id)
    mig = _migration(cloud, server_id)
    assert moving.status is St.RESIZE and moving.task_state == "resize_finish"
    assert moving.host == target[0] != source[0] and moving.flavor_id == "2"
    assert _ledger(cloud) == {source: mig.uuid, target: server_id}
    assert _allocations(cloud) == {mig.uuid: source[0], server_id: target[0]}
    assert (mig.migration_type, mig.status, mig.source_compute, mig.dest_compute) == \
        ("resize", "post-migrating", source[0], target[0])
    port = cloud.net.get_port(ADMIN, port_id)
    assert dict(port.binding.vif_details)["vlan"] == "15"
    assert port.binding.profile.physical_network == "physnet1"
    _clean(cloud)
    # The source's desired state no longer lists the server: its agent destroys the guest
    # and resets the VF (still held by the migration, so nobody else can take it).
    assert cloud.compute.desired_state.desired_state(source[0]).servers == ()
    wanted = cloud.compute.desired_state.desired_state(target[0]).servers
    assert [(s.server_id, s.replug, s.awaiting) for s in wanted] == [(server_id, True, True)]
    assert str(wanted[0].ports[0].pci_address) == target[1]

    cloud.compute.reports.server_status(target[0], server_id, RUNNING)
    assert servers.get(ADMIN, server_id).status is St.VERIFY_RESIZE
    assert _migration(cloud, server_id).status == "finished"
    _clean(cloud)

    servers.action(ADMIN, server_id, ConfirmResizeAction(), "req-confirm")
    done = servers.get(ADMIN, server_id)
    assert (done.status, done.task_state, done.host) == (St.ACTIVE, None, target[0])
    assert _ledger(cloud) == {target: server_id}
    assert _allocations(cloud) == {server_id: target[0]}
    assert _migration(cloud, server_id).status == "confirmed"
    actions = [a.action for a in servers.actions(ADMIN, server_id)]
    assert actions[:2] == ["confirmResize", "resize"]
    _clean(cloud)


def test_revert_returns_to_the_source_vf_and_frees_the_targets(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    servers = cloud.compute.servers
    servers.action(ADMIN, server_id, MigrateAction(), "req-migrate")
    target = _slot(cloud, port_id)
    cloud.compute.reports.server_status(target[0], server_id, RUNNING)
    assert _migration(cloud, server_id).migration_type == "migration"

    servers.action(ADMIN, server_id, RevertResizeAction(), "req-revert")
    back = servers.get(ADMIN, server_id)
    assert (back.status, back.task_state, back.host) == (St.REVERT_RESIZE,
                                                          "resize_reverting", source[0])
    assert _slot(cloud, port_id) == source
    assert _ledger(cloud) == {source: server_id}
    assert _allocations(cloud) == {server_id: source[0]}
    assert _migration(cloud, server_id).status == "reverted"
    _clean(cloud)
    cloud.compute.reports.server_status(source[0], server_id, RUNNING)
    assert servers.get(ADMIN, server_id).status is St.ACTIVE
    _clean(cloud)


def test_confirm_and_revert_need_verify_resize(cloud: Cloud) -> None:
    server_id, _ = _boot(cloud)
    for action in (ConfirmResizeAction(), RevertResizeAction()):
        with pytest.raises(Conflict, match="while it is in vm_state active"):
            cloud.compute.servers.action(ADMIN, server_id, action, "req")


def test_resize_to_the_same_flavor_or_an_unknown_one_is_refused(cloud: Cloud) -> None:
    server_id, _ = _boot(cloud)
    with pytest.raises(Invalid, match="must change flavor"):
        cloud.compute.servers.action(ADMIN, server_id, ResizeAction("1"), "req")
    with pytest.raises(Invalid, match="Invalid flavorRef"):
        cloud.compute.servers.action(ADMIN, server_id, ResizeAction("nope"), "req")
    assert cloud.compute.servers.get(ADMIN, server_id).status is St.ACTIVE


def test_migrate_is_admin_only_and_checks_its_host(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    with pytest.raises(NotFound):  # nova: another project's server is 404 before policy
        cloud.compute.servers.action(ALICE, server_id, MigrateAction(), "req")
    member = Caller("u-member", "p-admin")  # the server's project, not an admin: 403
    with pytest.raises(Forbidden):
        cloud.compute.servers.action(member, server_id, MigrateAction(), "req")
    with pytest.raises(Invalid, match="Compute host nowhere could not be found"):
        cloud.compute.servers.action(ADMIN, server_id, MigrateAction(host="nowhere"), "req")
    with pytest.raises(Invalid, match="server's own host"):  # allow_resize_to_same_host off
        cloud.compute.servers.action(ADMIN, server_id, MigrateAction(host=source[0]), "req")
    other = "compute-2" if source[0] == "compute-1" else "compute-1"
    cloud.compute.servers.action(ADMIN, server_id, MigrateAction(host=other), "req")
    assert cloud.compute.servers.get(ADMIN, server_id).host == other


def test_no_free_vf_on_the_target_leaves_the_server_active_with_its_vf(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud, hosts=("compute-1",))
    cloud.add_host("compute-2", devices=intel_82576_devices(physnet="physnet2"))
    before = _ledger(cloud)
    # 2.34 and later: nova's async checks — 202, the migration and the action say why.
    cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(), "req-live")
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert (server.status, server.task_state, server.host) == (St.ACTIVE, None, "compute-1")
    assert _ledger(cloud) == before and _slot(cloud, port_id)[0] == "compute-1"
    assert _migration(cloud, server_id).status == "error"
    event = cloud.compute.servers.instance_action(ADMIN, server_id, "req-live").events[0]
    assert event.result == "Error" and "PciPassthroughFilter" in (event.traceback or "")
    _clean(cloud)
    # Below 2.34 (and for cold migration): 400 NoValidHost naming the filter.
    with pytest.raises(Invalid, match="No valid host was found.*PciPassthroughFilter"):
        cloud.compute.servers.action(ADMIN, server_id,
                                     LiveMigrateAction(async_checks=False), "req-live2")
    with pytest.raises(Invalid, match="No valid host was found.*PciPassthroughFilter"):
        cloud.compute.servers.action(ADMIN, server_id, MigrateAction(), "req-cold")
    assert _ledger(cloud) == before
    assert cloud.compute.servers.get(ADMIN, server_id).status is St.ACTIVE
    _clean(cloud)


def test_live_migration_moves_the_vf_and_frees_the_source_once_the_target_runs(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(), "req-live")
    moving = cloud.compute.servers.get(ADMIN, server_id)
    target = _slot(cloud, port_id)
    assert (moving.status, moving.task_state, moving.host) == (St.MIGRATING, "migrating",
                                                               target[0])
    mig = _migration(cloud, server_id)
    assert (mig.migration_type, mig.status) == ("live-migration", "running")
    assert _ledger(cloud) == {source: mig.uuid, target: server_id}
    _clean(cloud)
    cloud.compute.reports.server_status(target[0], server_id, RUNNING)
    assert cloud.compute.servers.get(ADMIN, server_id).status is St.ACTIVE
    assert _migration(cloud, server_id).status == "completed"
    assert _ledger(cloud) == {target: server_id}
    assert _allocations(cloud) == {server_id: target[0]}
    _clean(cloud)


def test_delete_in_verify_resize_frees_both_vfs(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    cloud.compute.servers.action(ADMIN, server_id, ResizeAction("2"), "req")
    cloud.compute.reports.server_status(_slot(cloud, port_id)[0], server_id, RUNNING)
    cloud.compute.servers.delete(ADMIN, server_id)
    assert _ledger(cloud) == {} and _allocations(cloud) == {}
    _clean(cloud)


def _other_worker(cloud: Cloud) -> MigrationService:
    return MigrationService(cloud.db, cloud.net, cloud.scheduler,
                            cloud.compute.servers.builder, cloud.clock)


def _begun_by_a_worker_that_dies(cloud: Cloud, server_id: str, kind: str,
                                 source_host: str) -> tuple[MigrationService, Callable[[], Any]]:
    """A move's first step taken by hand as a worker that will die (its lease is left to
    expire); returns that worker's service and its next step, claiming on the target."""
    dead = cloud.compute.migrations
    assert dead is not None
    flavor_id = cloud.compute.servers.get(ADMIN, server_id).flavor_id
    ignore, requested = dead._targets(kind, source_host, None)
    token = f"dead-worker#{kind}"
    dead._begin(server_id, kind, "u", "req-dead", token, flavor_id)
    return dead, lambda: dead._claim(server_id, token, flavor_id, ignore, requested)


@pytest.mark.parametrize("step", ["begun", "claimed", "bound"])
def test_a_move_whose_worker_died_is_rolled_back_by_the_sweep(cloud: Cloud, step: str) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    dead, claim_target = _begun_by_a_worker_that_dies(cloud, server_id, MoveKind.MIGRATION,
                                                      source[0])
    if step in ("claimed", "bound"):
        claim = claim_target()
        if step == "bound":
            assert dead._bind(server_id, claim.host, claim) == ""
    assert len(_ledger(cloud)) == (1 if step == "begun" else 2)  # nothing freed, none twice

    sweeper = _other_worker(cloud)
    assert sweeper.recover() == ()  # the lease is still live
    cloud.clock.advance(timedelta(seconds=DEFAULT_LEASE_SECONDS + 1))
    assert len(sweeper.recover()) == 1
    back = cloud.compute.servers.get(ADMIN, server_id)
    assert (back.status, back.task_state, back.host) == (St.ACTIVE, None, source[0])
    assert _ledger(cloud) == {source: server_id}
    assert _allocations(cloud) == {server_id: source[0]}
    assert _slot(cloud, port_id) == source
    assert _migration(cloud, server_id).status == "error"
    assert sweeper.recover() == ()  # once
    _clean(cloud)


def test_a_revert_whose_worker_died_is_finished_by_the_sweep(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    cloud.compute.servers.action(ADMIN, server_id, ResizeAction("2"), "req")
    cloud.compute.reports.server_status(_slot(cloud, port_id)[0], server_id, RUNNING)
    dead = cloud.compute.migrations
    assert dead is not None
    dead._to_source = lambda mig, token, reason="": None  # type: ignore[method-assign]  # dies
    dead.revert(cloud.compute.servers.get(ADMIN, server_id), "u", "req-revert")
    assert len(_ledger(cloud)) == 2

    cloud.clock.advance(timedelta(seconds=DEFAULT_LEASE_SECONDS + 1))
    assert len(_other_worker(cloud).recover()) == 1
    back = cloud.compute.servers.get(ADMIN, server_id)
    assert (back.host, back.flavor_id, back.task_state) == (source[0], "1",
                                                            "resize_reverting")
    assert _ledger(cloud) == {source: server_id} and _slot(cloud, port_id) == source
    cloud.compute.reports.server_status(source[0], server_id, RUNNING)
    assert cloud.compute.servers.get(ADMIN, server_id).status is St.ACTIVE
    _clean(cloud)


def test_migrations_are_listed_newest_first(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    cloud.compute.servers.action(ADMIN, server_id, MigrateAction(), "req")
    cloud.compute.reports.server_status(_slot(cloud, port_id)[0], server_id, RUNNING)
    cloud.compute.servers.action(ADMIN, server_id, ConfirmResizeAction(), "req2")
    cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(), "req3")
    migrations = cloud.compute.migrations
    assert migrations is not None
    listed = migrations.list(server_id=server_id)
    assert [(m.migration_type, m.status) for m in listed] == [
        ("live-migration", "running"), ("migration", "confirmed")]
    assert [m.migration_type for m in migrations.list(in_progress_live=True)] == [
        "live-migration"]


def _stop(cloud: Cloud, server_id: str) -> None:
    servers = cloud.compute.servers
    servers.action(ADMIN, server_id, PowerAction(Operation.STOP), "req-stop")
    host = servers.get(ADMIN, server_id).host
    assert host is not None
    cloud.compute.reports.server_status(host, server_id, STOPPED)
    assert servers.get(ADMIN, server_id).status is St.SHUTOFF


def _aim(cloud: Cloud, host: str, server_id: str) -> tuple[ServerOutcome, bool]:
    """(target, awaiting) of the server in ``host``'s desired state."""
    wanted = [s for s in cloud.compute.desired_state.desired_state(host).servers
              if s.server_id == server_id]
    assert len(wanted) == 1
    return wanted[0].target, wanted[0].awaiting


def test_a_stopped_server_is_resized_off_and_stays_shutoff_after_confirm(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    servers = cloud.compute.servers
    _stop(cloud, server_id)

    servers.action(ADMIN, server_id, ResizeAction("2"), "req-resize")
    target = _slot(cloud, port_id)
    mig = _migration(cloud, server_id)
    assert target[0] != source[0] and mig.old_status == "SHUTOFF"
    assert servers.get(ADMIN, server_id).status is St.RESIZE
    assert _ledger(cloud) == {source: mig.uuid, target: server_id}
    # The target's agent must not start the guest: it aims at a stopped one and reports it.
    assert _aim(cloud, target[0], server_id) == (ServerOutcome.STOPPED, True)
    cloud.compute.reports.server_status(target[0], server_id, RUNNING)  # not what was asked
    assert servers.get(ADMIN, server_id).status is St.RESIZE
    cloud.compute.reports.server_status(target[0], server_id, STOPPED)
    assert servers.get(ADMIN, server_id).status is St.VERIFY_RESIZE
    assert _aim(cloud, target[0], server_id) == (ServerOutcome.STOPPED, False)
    _clean(cloud)

    servers.action(ADMIN, server_id, ConfirmResizeAction(), "req-confirm")
    done = servers.get(ADMIN, server_id)
    assert (done.status, done.task_state, done.host, done.flavor_id) == (
        St.SHUTOFF, None, target[0], "2")
    assert _ledger(cloud) == {target: server_id} and _slot(cloud, port_id) == target
    assert _aim(cloud, target[0], server_id) == (ServerOutcome.STOPPED, False)
    _clean(cloud)
    # Started again on the target, it runs there on the VF it was moved to.
    servers.action(ADMIN, server_id, PowerAction(Operation.START), "req-start")
    assert _aim(cloud, target[0], server_id) == (ServerOutcome.RUNNING, True)


def test_a_stopped_server_migrated_and_reverted_returns_shutoff_to_its_source(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    servers = cloud.compute.servers
    _stop(cloud, server_id)
    servers.action(ADMIN, server_id, MigrateAction(), "req-migrate")
    target = _slot(cloud, port_id)
    cloud.compute.reports.server_status(target[0], server_id, STOPPED)
    assert servers.get(ADMIN, server_id).status is St.VERIFY_RESIZE

    servers.action(ADMIN, server_id, RevertResizeAction(), "req-revert")
    assert _slot(cloud, port_id) == source and _ledger(cloud) == {source: server_id}
    assert _aim(cloud, source[0], server_id) == (ServerOutcome.STOPPED, True)
    cloud.compute.reports.server_status(source[0], server_id, STOPPED)
    back = servers.get(ADMIN, server_id)
    assert (back.status, back.task_state, back.host) == (St.SHUTOFF, None, source[0])
    assert _migration(cloud, server_id).status == "reverted"
    _clean(cloud)


def test_a_stopped_server_is_not_live_migrated_and_a_failed_move_leaves_it_shutoff(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud, hosts=("compute-1",))
    cloud.add_host("compute-2", devices=intel_82576_devices(physnet="physnet2"))
    _stop(cloud, server_id)
    before = _ledger(cloud)
    with pytest.raises(Conflict, match="vm_state shutoff"):
        cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(), "req")
    with pytest.raises(Invalid, match="No valid host was found.*PciPassthroughFilter"):
        cloud.compute.servers.action(ADMIN, server_id, ResizeAction("2"), "req-resize")
    still = cloud.compute.servers.get(ADMIN, server_id)
    assert (still.status, still.task_state, still.host, still.flavor_id) == (
        St.SHUTOFF, None, "compute-1", "1")
    assert _ledger(cloud) == before and _slot(cloud, port_id)[0] == "compute-1"
    assert _migration(cloud, server_id).status == "error"
    assert _aim(cloud, "compute-1", server_id) == (ServerOutcome.STOPPED, False)
    _clean(cloud)


def _windowed(cloud: Cloud, seconds: int) -> MigrationService:
    """Another API worker whose nova.conf sets [DEFAULT] resize_confirm_window."""
    scheduler = Scheduler(cloud.db, SchedulerConfig(resize_confirm_window=seconds), cloud.clock)
    return MigrationService(cloud.db, cloud.net, scheduler, cloud.compute.servers.builder,
                            cloud.clock)


def test_the_sweep_confirms_a_move_left_in_verify_resize_past_the_confirm_window(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    servers = cloud.compute.servers
    servers.action(ADMIN, server_id, MigrateAction(), "req-migrate")
    target = _slot(cloud, port_id)
    cloud.compute.reports.server_status(target[0], server_id, RUNNING)
    mig = _migration(cloud, server_id)

    cloud.clock.advance(timedelta(seconds=3599))
    assert _windowed(cloud, 3600).recover() == ()
    assert _windowed(cloud, 0).recover() == ()  # 0: off, however long it waits
    cloud.clock.advance(timedelta(seconds=2))
    assert _windowed(cloud, 0).recover() == ()
    assert _windowed(cloud, 3600).recover() == (mig.uuid,)
    done = servers.get(ADMIN, server_id)
    assert (done.status, done.host) == (St.ACTIVE, target[0])
    assert _migration(cloud, server_id).status == "confirmed"
    assert _ledger(cloud) == {target: server_id}
    action = servers.actions(ADMIN, server_id)[0]
    assert (action.action, action.user_id) == ("confirmResize", "")
    assert action.request_id.startswith("req-") and action.request_id != "req-migrate"
    assert _windowed(cloud, 3600).recover() == ()  # once
    _clean(cloud)
