"""The server lifecycle over the real network service and scheduler (SQLite and PostgreSQL):
create → BUILD, build → placed and bound, agent report → ACTIVE, delete → VF free again."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, update

from sriovstack.compute.types import (LiveMigrateAction, MigrateAction, NetworkRequest,
                                      ServerCreate, ServerFilter, ServerStatus)
from sriovstack.db.models.compute import ServerRow
from sriovstack.db.models.hosts import PciDeviceRow
from sriovstack.errors import Conflict, Forbidden, Invalid, NotFound, NotSupported
from sriovstack.network import VifType
from sriovstack.wire import PortStatus
from sriovstack.wire import VnicType
from sriovstack.wire import DeviceReport, ServerOutcome, ServerReport
from tests.compute.conftest import ADMIN, ALICE, BOB, Cloud
from tests.statements import inside_transactions, recorded

RUNNING = ServerReport(ServerOutcome.RUNNING)

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"


def _spec(*networks: NetworkRequest, name: str = "webserver01",
          flavor: str = "1") -> ServerCreate:
    return ServerCreate(name=name, flavor_ref=flavor, image_ref=CIRROS_ID, networks=networks)


def _held(cloud: Cloud) -> dict[str, str | None]:
    with cloud.db.transaction() as s:
        rows = s.execute(select(PciDeviceRow.address, PciDeviceRow.owner).where(
            PciDeviceRow.status != "available")).all()
    return {a: o for a, o in rows}


def _boot(cloud: Cloud, vnic: VnicType = VnicType.DIRECT) -> tuple[str, str]:
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id, vnic)
    server = cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port.id)))
    cloud.compute.servers.builder.build(server.id)
    return server.id, port.id


def test_chapter_boot_binds_a_vf_then_the_agent_makes_it_active(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id)
    created = cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port.id)))
    assert created.status is ServerStatus.BUILD and created.host is None

    cloud.compute.servers.builder.build(created.id)
    placed = cloud.compute.servers.get(ADMIN, created.id)
    assert placed.status is ServerStatus.BUILD and placed.host == "compute-1"
    bound = cloud.net.get_port(ADMIN, port.id)
    assert bound.binding.vif_type is VifType.HW_VEB
    assert bound.binding.host == "compute-1" and bound.device_id == created.id
    assert bound.device_owner == "compute:nova"
    assert bound.binding.profile.pci_slot is not None
    slot = str(bound.binding.profile.pci_slot)
    assert slot.startswith("0000:0b:10.")
    assert bound.binding.profile.pci_vendor_info == "8086:10ca"
    assert bound.binding.profile.physical_network == "physnet1"
    assert _held(cloud) == {slot: created.id}
    assert [(a.network_name, a.addr, a.mac) for a in placed.addresses] == \
        [("web", bound.fixed_ips[0].ip_address, bound.mac)]

    active = cloud.compute.reports.server_status("compute-1", created.id, RUNNING)
    assert (active.server_id, active.status) == (created.id, ServerStatus.ACTIVE)
    assert cloud.compute.servers.get(ADMIN, created.id).launched_at is not None
    with cloud.db.transaction() as s:  # the guest runs: claimed → allocated (nova §2.4)
        status = s.scalar(select(PciDeviceRow.status).where(PciDeviceRow.address == slot))
    assert status == "allocated"


def test_delete_unbinds_the_port_and_frees_the_vf(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, port_id = _boot(cloud)
    cloud.compute.servers.delete(ADMIN, server_id)
    with pytest.raises(NotFound):
        cloud.compute.servers.get(ADMIN, server_id)
    port = cloud.net.get_port(ADMIN, port_id)
    assert port.binding.vif_type is VifType.UNBOUND and port.device_id == ""
    assert port.status is PortStatus.DOWN
    assert _held(cloud) == {}
    # The port can be used again by a new server.
    again = cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port_id)))
    assert again.ports[0].port_id == port_id


def test_a_port_in_use_is_refused_with_novas_message(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    _server_id, port_id = _boot(cloud)
    with pytest.raises(Conflict, match=f"^Port {port_id} is still in use.$"):
        cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port_id)))


def test_a_port_already_held_by_a_building_server_is_in_use(cloud: Cloud) -> None:
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id)
    cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port.id)))
    with pytest.raises(Conflict, match="is still in use"):
        cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port.id)))


def test_given_ports_are_checked_in_order_before_a_repeat_is_refused(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    _server_id, taken = _boot(cloud)  # built: its port is bound to the server
    free = cloud.port(ADMIN, cloud.net.get_port(ADMIN, taken).network_id)
    ask = (free.id, taken, free.id)  # the port in use comes before the repeat
    with pytest.raises(Conflict, match=f"^Port {taken} is still in use.$"):
        cloud.compute.servers.create(ADMIN, _spec(*(NetworkRequest(port_id=p) for p in ask)))
    with pytest.raises(Invalid, match=f"^Port {free.id} is requested more than once.$"):
        cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=free.id),
                                                  NetworkRequest(port_id=free.id),
                                                  NetworkRequest(port_id="nope")))


def test_a_create_on_given_ports_is_one_transaction_whatever_their_number(
        cloud: Cloud) -> None:
    """Issue 14: the checks and the insert commit together, and the ports are read at
    once (three ports cost the reads of one)."""
    net_id = cloud.network()
    commits: list[int] = []

    def commit(_conn: object) -> None:
        commits.append(1)

    cost = []
    for n in (1, 3):
        ports = [cloud.port(ADMIN, net_id) for _ in range(n)]
        commits.clear()
        event.listen(cloud.db.engine, "commit", commit)
        try:
            with recorded(cloud.db.engine) as ran:
                server = cloud.compute.servers.create(
                    ADMIN, _spec(*(NetworkRequest(port_id=p.id) for p in ports)))
        finally:
            event.remove(cloud.db.engine, "commit", commit)
        reads = [r for r in ran if r.statement.lstrip().upper().startswith("SELECT")]
        cost.append((len(reads), len(commits)))
        assert [a.addr for a in server.addresses] == \
            [p.fixed_ips[0].ip_address for p in ports]
    assert cost[0] == cost[1] and cost[0][1] == 1


@pytest.mark.parametrize("spec, error, text", [
    (ServerCreate("vm", "42", CIRROS_ID), Invalid, "Flavor 42 could not be found."),
    (ServerCreate("vm", "1", "cirros"), Invalid, "Can not find requested image cirros"),
    (ServerCreate("vm", "1", None), Invalid, "Missing imageRef"),
    (ServerCreate("vm", "1", CIRROS_ID, (NetworkRequest(port_id="nope"),)), Invalid,
     "Port nope could not be found."),
    (ServerCreate("vm", "1", CIRROS_ID, (NetworkRequest(network_id="nope"),)), Invalid,
     "Network nope could not be found."),
])
def test_bad_references_are_400s_naming_the_value(cloud: Cloud, spec: ServerCreate,
                                                  error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        cloud.compute.servers.create(ADMIN, spec)


def test_no_free_vf_ends_in_error_with_a_fault_naming_the_filter(cloud: Cloud) -> None:
    cloud.add_host("compute-1", devices=())
    server_id, port_id = _boot(cloud)
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.status is ServerStatus.ERROR and server.host is None
    assert server.fault is not None and server.fault.code == 500
    assert server.fault.message.startswith("No valid host was found.")
    assert "PciPassthroughFilter" in server.fault.message
    assert cloud.net.get_port(ADMIN, port_id).binding.vif_type is VifType.UNBOUND
    assert _held(cloud) == {}


def test_binding_failure_frees_the_claim_tries_the_next_host_then_errors(cloud: Cloud) -> None:
    cloud.add_host("compute-1", sriov_agent=False)
    cloud.add_host("compute-2", sriov_agent=False)
    server_id, port_id = _boot(cloud)
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.status is ServerStatus.ERROR and server.fault is not None
    assert "NIC Switch agent" in server.fault.message
    assert _held(cloud) == {}
    port = cloud.net.get_port(ADMIN, port_id)
    assert port.device_id == "" and port.binding.vif_type is VifType.UNBOUND


def test_binding_failure_on_one_host_is_retried_on_another(cloud: Cloud) -> None:
    cloud.add_host("compute-1", sriov_agent=False)
    cloud.add_host("compute-2", sriov_agent=True)
    server_id, port_id = _boot(cloud)
    server = cloud.compute.servers.get(ADMIN, server_id)
    assert server.host == "compute-2" and server.fault is None
    assert list(_held(cloud).values()) == [server_id]


def test_a_network_request_creates_a_normal_port_deleted_with_the_server(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    net_id = cloud.network()
    created = cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(network_id=net_id)))
    port_id = created.ports[0].port_id
    assert created.ports[0].created_by_compute
    assert cloud.net.get_port(ADMIN, port_id).vnic_type is VnicType.NORMAL
    cloud.compute.servers.delete(ADMIN, created.id)
    with pytest.raises(NotFound):
        cloud.net.get_port(ADMIN, port_id)


def test_migration_of_a_server_still_spawning_is_409_invalid_state(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, _port = _boot(cloud)  # placed, the agent has not reported yet
    for action in (MigrateAction(), LiveMigrateAction()):
        with pytest.raises(Conflict, match="while it is in task_state spawning"):
            cloud.compute.servers.action(ADMIN, server_id, action)


def test_projects_see_only_their_servers_and_name_is_a_regex(cloud: Cloud) -> None:
    net_id = cloud.network()
    for name in ("web-1", "web-2", "db-1"):
        cloud.compute.servers.create(ALICE, _spec(name=name))
    bob = cloud.compute.servers.create(BOB, _spec(name="web-bob"))
    assert {s.name for s in cloud.compute.servers.list(ALICE, ServerFilter(name="^web"))} == \
        {"web-1", "web-2"}
    with pytest.raises(NotFound):
        cloud.compute.servers.get(ALICE, bob.id)
    assert len(cloud.compute.servers.list(ADMIN, ServerFilter(all_projects=True))) == 4
    assert cloud.compute.servers.list(ALICE, ServerFilter(all_projects=True)) != ()
    assert all(s.project_id == "p-alice"
               for s in cloud.compute.servers.list(ALICE, ServerFilter(all_projects=True)))
    with pytest.raises(Invalid, match="not a valid regular expression"):
        cloud.compute.servers.list(ALICE, ServerFilter(name="(["))
    assert net_id


def test_an_unscoped_caller_cannot_create(cloud: Cloud) -> None:
    from sriovstack.identity import Caller

    with pytest.raises(Forbidden, match="project-scoped"):
        cloud.compute.servers.create(Caller("u", None), _spec())


def test_status_reports_must_come_from_the_servers_host(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id, _port = _boot(cloud)
    with pytest.raises(Conflict, match="not placed on host compute-9"):
        cloud.compute.reports.server_status("compute-9", server_id, RUNNING)
    with pytest.raises(NotFound):
        cloud.compute.reports.server_status("compute-1", "nope", RUNNING)
    answer = cloud.compute.reports.server_status(
        "compute-1", server_id, ServerReport(ServerOutcome.ERROR, "libvirt: hostdev attach failed"))
    assert answer.status is ServerStatus.ERROR
    failed = cloud.compute.servers.get(ADMIN, server_id)
    assert failed.fault is not None and failed.fault.message == "libvirt: hostdev attach failed"


def test_a_boots_status_report_locks_and_completes_the_server_in_one_update(
        cloud: Cloud) -> None:
    """Issue 14: a boot's report reads no server row; its conditional UPDATE takes the lock.
    Then the event is finished, the devices allocated and the revision bumped: all of it one
    statement on PostgreSQL (the UPDATE first, in a WITH), five on SQLite. A report that
    completes no boot bumps the revision once. A server building again (evacuated) keeps the
    launched_at of its first boot."""
    cloud.add_host("compute-1")
    server_id, _port = _boot(cloud)
    revisions = cloud.compute.servers.builder.revisions
    before = revisions.current("compute-1")
    with recorded(cloud.db.engine) as ran:
        cloud.compute.reports.server_status("compute-1", server_id, RUNNING)
    seen = [" ".join(r.statement.split()) for r in ran]
    if cloud.db.dialect == "postgresql":  # committed on its own: no BEGIN, no COMMIT
        assert len(seen) == 1 and seen[0].startswith("WITH built AS (UPDATE servers SET "
                                                     "status="), seen
        assert not ran[0].in_transaction
    else:
        assert len(seen) == 5 and seen[0].startswith("UPDATE servers SET status="), seen
    assert not [s for s in seen if s.startswith("SELECT") and "FROM servers" in s]
    assert revisions.current("compute-1") == before + 1
    (create,) = cloud.compute.servers.actions(ADMIN, server_id)
    (build,) = cloud.compute.servers.instance_action(ADMIN, server_id, create.request_id).events
    assert (build.result, build.finish_time) == ("Success", cloud.clock.now())
    with cloud.db.transaction() as s:
        held = s.scalars(select(PciDeviceRow.status).where(PciDeviceRow.owner == server_id))
        assert list(held) == ["allocated"]
    # The guest reported running again: the boot's statement finds no boot and bumps
    # nothing; the report's other path bumps the revision once.
    cloud.compute.reports.server_status("compute-1", server_id, RUNNING)
    assert revisions.current("compute-1") == before + 2
    launched = cloud.compute.servers.get(ADMIN, server_id).launched_at
    with cloud.db.transaction() as s:  # as an evacuation leaves it, on its new host
        s.execute(update(ServerRow).where(ServerRow.id == server_id).values(
            status=ServerStatus.BUILD.value, task_state="rebuilding"))
    cloud.clock.advance(60)
    cloud.compute.reports.server_status("compute-1", server_id, RUNNING)
    again = cloud.compute.servers.get(ADMIN, server_id)
    assert (again.status, again.task_state, again.launched_at) == (
        ServerStatus.ACTIVE, None, launched)
    assert revisions.current("compute-1") == before + 3


def test_the_reads_clients_poll_run_without_begin_or_commit_on_postgresql(
        cloud: Cloud) -> None:
    """A client waiting for its server polls GET /servers/{id} (``openstack server create
    --wait``, tempest): the server's show, the ports' and the networks' shows and lists read
    outside a transaction on PostgreSQL, two round trips fewer each (the server list keeps
    one: a name pattern streams its rows through a server-side cursor)."""
    cloud.add_host("compute-1")
    server_id, port_id = _boot(cloud)
    net_id = cloud.net.get_port(ADMIN, port_id).network_id
    with recorded(cloud.db.engine) as ran:
        assert cloud.compute.servers.get(ADMIN, server_id).host == "compute-1"
        assert cloud.net.ports.get(ADMIN, port_id).device_id == server_id
        assert [p.id for p in cloud.net.ports.list(ADMIN)] == [port_id]
        assert cloud.net.networks.get(ADMIN, net_id).id == net_id
        assert [n.id for n in cloud.net.networks.list(ADMIN)] == [net_id]
    inside = inside_transactions(ran)
    assert ran and not (cloud.db.dialect == "postgresql" and inside), inside


def test_every_statement_of_a_boot_has_a_cache_key_so_is_compiled_once(cloud: Cloud) -> None:
    """Issue 14: SQLAlchemy compiles a statement that has no cache key (a multi-row VALUES,
    for one) again at every run, at several times the CPU of the run itself. A boot's
    statements, from the create of a server with two ports to the agents' reports, all have
    one."""
    cloud.add_host("compute-1")
    net_id = cloud.network()
    ports = [cloud.port(ADMIN, net_id), cloud.port(ADMIN, net_id, VnicType.NORMAL)]
    with recorded(cloud.db.engine) as ran:
        server = cloud.compute.servers.create(ADMIN, _spec(
            *(NetworkRequest(port_id=p.id) for p in ports)))
        cloud.compute.servers.builder.build(server.id)
        (placed,) = cloud.compute.desired_state.desired_state("compute-1").servers
        for port in placed.ports:
            if port.mac is not None and port.pci_address is not None:
                cloud.compute.reports.device_status("compute-1", DeviceReport(
                    port.mac, port.pci_address, True))
        cloud.compute.reports.server_status("compute-1", server.id, RUNNING)
    assert cloud.compute.servers.get(ADMIN, server.id).status is ServerStatus.ACTIVE
    assert cloud.net.get_port(ADMIN, ports[0].id).status is PortStatus.ACTIVE
    assert len(ran) > 10 and not [r.statement for r in ran if r.compiled_each_run]


def test_a_create_writes_its_server_ports_action_and_event_in_one_insert_on_postgresql(
        cloud: Cloud) -> None:
    """Issue 14: the create's writes are one statement on PostgreSQL (the server, its ports,
    the action and its build event as data-modifying CTEs), four on SQLite; either way the
    log shows both, the event pending until the agent's report finishes it, and the server
    holds its ports in order."""
    cloud.add_host("compute-1")
    net_id = cloud.network()
    ports = [cloud.port(ADMIN, net_id), cloud.port(ADMIN, net_id, VnicType.NORMAL)]
    with recorded(cloud.db.engine) as ran:
        server = cloud.compute.servers.create(ADMIN, _spec(
            *(NetworkRequest(port_id=p.id) for p in ports)))
    writes = [" ".join(r.statement.split()) for r in ran if "INSERT INTO" in r.statement]
    if cloud.db.dialect == "postgresql":
        assert len(writes) == 1, writes
        assert all(f"INSERT INTO {table} " in writes[0] for table in (
            "servers", "server_ports", "instance_actions", "instance_action_events"))
    else:
        assert len(writes) == 4, writes
    assert [p.port_id for p in cloud.compute.servers.get(ADMIN, server.id).ports] == [
        p.id for p in ports]
    (action,) = cloud.compute.servers.actions(ADMIN, server.id)
    assert (action.action, action.project_id, action.user_id) == (
        "create", server.project_id, server.user_id)
    (build,) = cloud.compute.servers.instance_action(ADMIN, server.id, action.request_id).events
    assert (build.event, build.start_time, build.finish_time, build.host) == (
        "compute__do_build_and_run_instance", action.start_time, None, None)
    cloud.compute.servers.builder.build(server.id)
    cloud.compute.reports.server_status("compute-1", server.id, RUNNING)
    (done,) = cloud.compute.servers.instance_action(ADMIN, server.id, action.request_id).events
    assert (done.result, done.finish_time is not None) == ("Success", True)


def test_security_groups_with_an_sriov_port_are_refused_per_20_9(cloud: Cloud) -> None:
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id)
    spec = ServerCreate("vm", "1", CIRROS_ID, (NetworkRequest(port_id=port.id),),
                        security_groups=("web-sg",))
    with pytest.raises(NotSupported, match="20.9"):
        cloud.compute.servers.create(ADMIN, spec)
    assert cloud.compute.servers.list(ADMIN) == ()
    # The default group alone is what OSC sends implicitly: accepted.
    plain = ServerCreate("vm", "1", CIRROS_ID, (NetworkRequest(port_id=port.id),),
                         security_groups=("default",))
    assert cloud.compute.servers.create(ADMIN, plain).status is ServerStatus.BUILD


def test_a_failed_create_deletes_the_ports_it_made(cloud: Cloud) -> None:
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id)
    cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(port_id=port.id)))
    before = {p.id for p in cloud.net.ports.list(ADMIN)}
    with pytest.raises(Conflict, match=f"Port {port.id} is still in use."):
        cloud.compute.servers.create(ADMIN, _spec(NetworkRequest(network_id=net_id),
                                                  NetworkRequest(port_id=port.id)))
    assert {p.id for p in cloud.net.ports.list(ADMIN)} == before
