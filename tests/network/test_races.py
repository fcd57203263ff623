"""Several API workers at once (threads here, separate connections): project VLANs, MACs and
addresses are never handed out twice, and losers of a race retry instead of failing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sriovstack.db import Database
from sriovstack.errors import Unavailable
from sriovstack.network import NetworkService, NetworkSpec, PortSpec, ProviderSpec, SubnetSpec
from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat
from tests.network.conftest import ADMIN, ALICE, CHAPTER


@pytest.fixture
def pg_net(database: Database) -> NetworkService:
    if database.dialect != "postgresql":
        pytest.skip("SQLite serialises writers; the races need PostgreSQL")
    return NetworkService(database, CHAPTER)


def test_eight_concurrent_project_networks_get_six_distinct_vlans(
        pg_net: NetworkService) -> None:
    def create(i: int) -> int | None:
        try:
            return pg_net.networks.create(ALICE, NetworkSpec(name=f"n{i}")).segment.segmentation_id
        except Unavailable:
            return None
    with ThreadPoolExecutor(8) as pool:
        tags = list(pool.map(create, range(8)))
    assert sorted(t for t in tags if t is not None) == [15, 16, 17, 18, 19, 20]
    assert tags.count(None) == 2


def test_concurrent_ports_get_distinct_addresses(pg_net: NetworkService) -> None:
    network = pg_net.networks.create(ADMIN, NetworkSpec(
        shared=True, provider=ProviderSpec("vlan", "physnet1", 15)))
    pg_net.subnets.create(ADMIN, SubnetSpec(network_id=network.id, cidr="10.0.0.0/24"))
    with ThreadPoolExecutor(8) as pool:
        ports = list(pool.map(lambda _: pg_net.ports.create(
            ALICE, PortSpec(network_id=network.id)), range(16)))
    addresses = [p.fixed_ips[0].ip_address for p in ports]
    assert len(set(addresses)) == 16 and len({p.mac for p in ports}) == 16


def test_concurrent_first_beats_of_one_agent_all_succeed(pg_net: NetworkService) -> None:
    """Two API workers may take an agent's first beats at once (a restarted agent, a
    reconnect): every beat is answered with the one agent, none with a clash on the
    (host, agent_type) key."""
    start = threading.Barrier(8)

    def beat(_: int) -> str:
        start.wait(timeout=30)
        return pg_net.record_heartbeat("compute-0", Heartbeat(
            NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
            device_mappings=(("physnet1", ("enp4s0f1",)),))).id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(beat, range(8)))
    assert len(set(ids)) == 1
    assert [a.id for a in pg_net.agents.list(ADMIN)] == ids[:1]
