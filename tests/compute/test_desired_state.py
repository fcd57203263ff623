"""The desired state of a host: its revision in the database, the early wake of a waiting
poll, and what a host's agents are told (servers, ports, VF address, VLAN)."""

from __future__ import annotations

import asyncio
import time
from ipaddress import ip_interface
from typing import Any

import pytest
from sqlalchemy import event

from sriovstack.compute import DesiredStateService, HostChangeNotifier, HostRevisions
from sriovstack.compute.types import NetworkRequest, ServerCreate, ServerStatus
from sriovstack.db import Database
from sriovstack.network.types import (FixedIpRequest, NetworkSpec, PortSpec, ProviderSpec,
                                      SubnetSpec, VnicType)
from tests.compute.conftest import ADMIN, Cloud
from tests.polling import until
from tests.statements import inside_transactions, recorded

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"


def _boot(cloud: Cloud, *port_ids: str, name: str = "vm", flavor: str = "2") -> str:
    """A server with these ports, built (placed on a host); returns its id."""
    server = cloud.compute.servers.create(ADMIN, ServerCreate(
        name, flavor, CIRROS_ID, tuple(NetworkRequest(port_id=p) for p in port_ids)))
    cloud.compute.servers.builder.build(server.id)
    return server.id


def _listening(revisions: HostRevisions) -> None:
    """Start ``revisions`` listening and wait until its LISTEN connection is up."""
    revisions.listen()
    until(lambda: revisions.listening, bool, "the LISTEN connection", timeout=15, interval=0.05)


def test_revisions_start_at_zero_and_count_up_per_host(database: Database) -> None:
    revisions = HostRevisions(database, HostChangeNotifier())
    assert revisions.current("compute-1") == 0
    assert [revisions.bump("compute-1") for _ in range(3)] == [1, 2, 3]
    assert revisions.current("compute-2") == 0
    # A second process (another API worker) sees the same counter.
    assert HostRevisions(database, HostChangeNotifier()).current("compute-1") == 3


def test_bumping_several_hosts_at_once_counts_each_up_once(database: Database) -> None:
    """A batch of builds bumps the hosts it placed on together (one statement on
    PostgreSQL): each host once, a host seen before counting on, a new one starting at 1."""
    revisions = HostRevisions(database, HostChangeNotifier())
    revisions.bump("compute-2")
    with database.transaction() as session:
        revisions.bump_many_in(session, ["compute-3", "compute-2", "compute-1", "compute-3"])
    assert [revisions.current(f"compute-{n}") for n in (1, 2, 3, 4)] == [1, 2, 1, 0]


def test_postgresql_tells_other_processes_of_every_host_bumped_at_once(
        database: Database) -> None:
    """``bump_many_in`` sends each host's NOTIFY, as ``bump_in`` does, at commit."""
    if database.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite processes re-read")
    heard: list[str] = []

    class Recording(HostChangeNotifier):
        def notify(self, host: str) -> None:
            heard.append(host)

    mine = HostRevisions(database, Recording())
    other = HostRevisions(database, HostChangeNotifier())  # another API process
    _listening(mine)
    try:
        with database.transaction() as session:
            other.bump_many_in(session, ["compute-8", "compute-7"])
        deadline = time.monotonic() + 15
        while len(heard) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        mine.close()
    assert sorted(heard) == ["compute-7", "compute-8"]


def test_the_desired_state_lists_placed_servers_with_their_vf(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    net_id = cloud.network()
    port = cloud.port(ADMIN, net_id)
    server = cloud.compute.servers.create(ADMIN, ServerCreate(
        "vm", "2", CIRROS_ID, (NetworkRequest(port_id=port.id),)))
    before = cloud.compute.desired_state.desired_state("compute-1")
    assert before.servers == ()  # not placed yet
    cloud.compute.servers.builder.build(server.id)
    state = cloud.compute.desired_state.desired_state("compute-1")
    assert state.revision > before.revision
    [desired] = state.servers
    assert (desired.server_id, desired.status, desired.memory_mb) == (server.id,
                                                                      ServerStatus.BUILD, 2048)
    [vf] = desired.ports
    bound = cloud.net.get_port(ADMIN, port.id)
    assert (vf.mac, vf.vlan, vf.physnet, vf.admin_state_up) == (bound.mac, 15, "physnet1", True)
    assert vf.pci_address == bound.binding.profile.pci_slot
    assert vf.fixed_ip == ip_interface(f"{bound.fixed_ips[0].ip_address}/24")
    assert vf.is_vf and vf.generation is not None and vf.generation >= 1
    assert cloud.compute.desired_state.desired_state("compute-2").servers == ()


def test_a_normal_port_is_told_its_segment_and_fixed_ip(cloud: Cloud) -> None:
    # The netns data plane plugs a normal (Open vSwitch) port into its physnet/VLAN (20.1).
    cloud.add_host("compute-1")
    port = cloud.port(ADMIN, cloud.network(), VnicType.NORMAL)
    _boot(cloud, port.id)
    [desired] = cloud.compute.desired_state.desired_state("compute-1").servers
    [normal] = desired.ports
    assert (normal.vnic_type, normal.pci_address, normal.physnet, normal.vlan) == (
        VnicType.NORMAL, None, "physnet1", 15)
    assert normal.fixed_ip == ip_interface(f"{port.fixed_ips[0].ip_address}/24")
    assert normal.is_normal and not normal.is_vf


def test_a_port_on_a_flat_network_has_vlan_0(cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    net = cloud.net.networks.create(ADMIN, NetworkSpec(
        name="flat", provider=ProviderSpec("flat", "physnet2")))
    cloud.net.subnets.create(ADMIN, SubnetSpec(network_id=net.id, cidr="10.9.0.0/16"))
    port = cloud.port(ADMIN, net.id, VnicType.NORMAL)
    _boot(cloud, port.id)
    [desired] = cloud.compute.desired_state.desired_state("compute-1").servers
    [flat] = desired.ports
    assert (flat.physnet, flat.vlan, flat.fixed_ip) == (
        "physnet2", 0, ip_interface(f"{port.fixed_ips[0].ip_address}/16"))


def test_a_port_with_two_fixed_ips_is_told_its_first(cloud: Cloud) -> None:
    # The first fixed IP (lowest position) with its own subnet's prefix, whatever the order
    # of the subnets or the addresses.
    cloud.add_host("compute-1")
    net = cloud.net.networks.create(ADMIN, NetworkSpec(
        name="two", provider=ProviderSpec("vlan", "physnet1", 16)))
    wide = cloud.net.subnets.create(ADMIN, SubnetSpec(network_id=net.id, cidr="10.8.0.0/16"))
    narrow = cloud.net.subnets.create(ADMIN, SubnetSpec(network_id=net.id,
                                                        cidr="10.7.0.0/24"))
    port = cloud.net.create_port(ADMIN, PortSpec(
        network_id=net.id, name="two-ips", vnic_type=VnicType.NORMAL,
        fixed_ips=(FixedIpRequest(narrow.id, "10.7.0.9"), FixedIpRequest(wide.id, "10.8.0.5"))))
    _boot(cloud, port.id)
    [desired] = cloud.compute.desired_state.desired_state("compute-1").servers
    [normal] = desired.ports
    assert normal.fixed_ip == ip_interface("10.7.0.9/24")


def test_a_port_deleted_under_its_server_is_told_without_a_mac(cloud: Cloud) -> None:
    # The agent must tear the VF down: no MAC, admin down, the claim's device and fence kept.
    cloud.add_host("compute-1")
    port = cloud.port(ADMIN, cloud.network())
    _boot(cloud, port.id)
    [before] = cloud.compute.desired_state.desired_state("compute-1").servers[0].ports
    cloud.net.delete_port(ADMIN, port.id)
    [gone] = cloud.compute.desired_state.desired_state("compute-1").servers[0].ports
    assert (gone.port_id, gone.mac, gone.admin_state_up, gone.vlan, gone.fixed_ip) == (
        port.id, None, False, 0, None)
    assert (gone.pci_address, gone.generation, gone.vnic_type) == (
        before.pci_address, before.generation, VnicType.DIRECT)
    assert not gone.is_vf


def test_the_desired_state_is_read_in_one_session_without_begin_on_postgresql(
        cloud: Cloud) -> None:
    """One connection from the pool for the whole read; on PostgreSQL its statements run
    outside a transaction (no BEGIN, no COMMIT: each sees its own snapshot, as it would in
    a READ COMMITTED one)."""
    cloud.add_host("compute-1")
    net_id = cloud.network()
    for n in range(3):
        ports = (cloud.port(ADMIN, net_id), cloud.port(ADMIN, net_id, VnicType.NORMAL))
        _boot(cloud, *(p.id for p in ports), name=f"vm{n}", flavor="1")
    begins: list[Any] = []

    def begun(conn: Any) -> None:
        begins.append(conn)

    event.listen(cloud.db.engine, "begin", begun)
    try:
        with recorded(cloud.db.engine) as ran:
            state = cloud.compute.desired_state.desired_state("compute-1")
    finally:
        event.remove(cloud.db.engine, "begin", begun)
    assert [len(s.ports) for s in state.servers] == [2, 2, 2]
    assert len(begins) == 1
    inside = inside_transactions(ran)
    assert ran and not (cloud.db.dialect == "postgresql" and inside), inside


def _statements_for_desired_state(cloud: Cloud, host: str) -> tuple[int, int]:
    """(servers in the host's desired state, SQL statements it took to build)."""
    with recorded(cloud.db.engine) as ran:
        state = cloud.compute.desired_state.desired_state(host)
    return len(state.servers), len(ran)


def test_the_desired_state_takes_the_same_few_statements_however_many_ports(
        cloud: Cloud) -> None:
    """No query per server or per port (issue 14): one server with one port and four
    servers with two ports each cost the same statements, two (the servers and ports with
    the revision and whether any holds devices for no port, the ports' wiring); the devices
    of a flavor's PCI alias are read only when a server holds some (test_alias_builds)."""
    cloud.add_host("compute-1", memory_mb=65536)
    net_id = cloud.network()
    _boot(cloud, cloud.port(ADMIN, net_id).id, name="first", flavor="1")
    assert _statements_for_desired_state(cloud, "compute-1")[0] == 1
    one = _statements_for_desired_state(cloud, "compute-1")[1]
    for n in range(3):
        ports = (cloud.port(ADMIN, net_id), cloud.port(ADMIN, net_id, VnicType.NORMAL))
        _boot(cloud, *(p.id for p in ports), name=f"vm{n}", flavor="1")
    servers, many = _statements_for_desired_state(cloud, "compute-1")
    assert servers == 4
    assert many == one == 2


def test_a_waiting_poll_wakes_when_this_process_bumps_the_host(cloud: Cloud) -> None:
    service = cloud.compute.desired_state
    revisions = cloud.compute.servers.builder.revisions
    start = revisions.current("compute-1")

    async def scenario() -> tuple[int, float]:
        began = time.monotonic()
        waiter = asyncio.create_task(service.wait_for_change("compute-1", start, 30.0))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await asyncio.to_thread(revisions.bump, "compute-1")
        state = await asyncio.wait_for(waiter, 10)
        return state.revision, time.monotonic() - began

    revision, took = asyncio.run(scenario())
    assert revision == start + 1 and took < 10


def test_a_poll_sees_a_change_made_by_another_worker(cloud: Cloud) -> None:
    # Another worker has its own notifier: only the database revision tells us.
    other = HostRevisions(cloud.db, HostChangeNotifier())
    service = cloud.compute.desired_state
    start = other.current("compute-1")

    async def scenario() -> int:
        waiter = asyncio.create_task(service.wait_for_change("compute-1", start, 30.0))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(other.bump, "compute-1")
        return (await asyncio.wait_for(waiter, 10)).revision

    assert asyncio.run(scenario()) == start + 1


def test_a_poll_without_since_or_with_an_old_revision_answers_at_once(cloud: Cloud) -> None:
    revisions = cloud.compute.servers.builder.revisions
    revisions.bump("compute-1")
    now = asyncio.run(cloud.compute.desired_state.wait_for_change("compute-1", None, 30.0))
    old = asyncio.run(cloud.compute.desired_state.wait_for_change("compute-1", 0, 30.0))
    assert now.revision == old.revision == 1


def test_changing_a_bound_ports_admin_state_bumps_its_host_at_once(cloud: Cloud) -> None:
    from sriovstack.network.types import PortUpdate

    cloud.add_host("compute-1")
    port = cloud.port(ADMIN, cloud.network())
    _boot(cloud, port.id)
    revisions = cloud.compute.servers.builder.revisions
    before = revisions.current("compute-1")
    cloud.net.ports.update(ADMIN, port.id, PortUpdate(name="renamed"))
    assert revisions.current("compute-1") == before  # nothing the agents apply
    cloud.net.ports.update(ADMIN, port.id, PortUpdate(admin_state_up=False))
    assert revisions.current("compute-1") == before + 1
    [desired] = cloud.compute.desired_state.desired_state("compute-1").servers
    assert desired.ports[0].admin_state_up is False


def test_postgresql_wakes_a_waiter_through_notify_not_by_rereading(database: Database) -> None:
    """Another process's bump reaches this process's waiter by LISTEN/NOTIFY: with re-reads
    an hour apart, only the notification can answer the poll within seconds."""
    if database.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite processes re-read")
    mine = HostRevisions(database, HostChangeNotifier())
    service = DesiredStateService(database, mine, poll_interval=3600)
    other = HostRevisions(database, HostChangeNotifier())  # another API process
    _listening(mine)
    start = other.current("compute-9")

    async def scenario() -> tuple[int, float]:
        waiter = asyncio.create_task(service.wait_for_revision("compute-9", start, 60.0))
        await asyncio.sleep(0.3)
        assert not waiter.done()
        began = time.monotonic()
        await asyncio.to_thread(other.bump, "compute-9")
        return await asyncio.wait_for(waiter, 20), time.monotonic() - began

    try:
        revision, took = asyncio.run(scenario())
    finally:
        mine.close()
    assert revision == start + 1 and took < 10


def test_a_revision_poll_answers_unchanged_when_the_wait_runs_out(cloud: Cloud) -> None:
    service = cloud.compute.desired_state
    start = cloud.compute.servers.builder.revisions.current("compute-1")
    began = time.monotonic()
    assert asyncio.run(service.wait_for_revision("compute-1", start, 0.3)) == start
    assert time.monotonic() - began >= 0.3


def test_postgresql_reads_a_servers_devices_by_owner_even_without_statistics(
        database: Database) -> None:
    """The desired state asks, per server, whether it holds devices for no port.  On a
    table PostgreSQL has no statistics for yet (a fresh database before autovacuum's first
    ANALYZE), that check must still look the server up by owner, not scan the whole
    (host, status) index by status at every agent's read (24 ms a read at 5,000 hosts)."""
    if database.dialect != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    from sqlalchemy import text

    from sriovstack.compute.desired_state import _PLACED_ON
    from sriovstack.db.models import HostRow
    from tests.plans import scans_of

    with database.transaction() as s:
        s.add(HostRow(id="h0", name="compute-0"))
    with database.transaction() as s:  # 500 servers on 100 hosts, 50,000 VFs: not analyzed
        s.execute(text(
            "INSERT INTO pci_devices (id, host_id, address, vendor_id, product_id, dev_type, "
            "pool_pf, tags, status, generation, removed_when_freed) SELECT 'd' || n, 'h0', "
            "'0000:' || to_hex(n), '8086', '10ca', 'type-VF', '0000:01:00.0', '{}', "
            "CASE WHEN n % 50 = 0 THEN 'allocated' ELSE 'available' END, 0, false "
            "FROM generate_series(1, 50000) AS n"))
        s.execute(text(
            "INSERT INTO servers (id, name, project_id, user_id, status, flavor_id, host, "
            "access_ipv4, access_ipv6, metadata, created_at, updated_at, locked) SELECT "
            "'s' || n, 'vm', 'p', 'u', 'ACTIVE', '1', 'compute-' || (n % 100), '', '', '{}', "
            "now(), now(), false FROM generate_series(1, 500) AS n"))
        assert s.scalar(text("SELECT count(*) FROM pg_statistic WHERE starelid IN "
                             "('pci_devices'::regclass, 'servers'::regclass)")) == 0
        devices = scans_of(s, _PLACED_ON, "pci_devices", host="compute-7")
    assert devices
    assert {n.get("Index Name") for n in devices} == {"ix_pci_devices_owner_status"}, devices
