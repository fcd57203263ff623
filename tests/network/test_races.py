"""Several API workers at once (threads here, separate connections): project VLANs, MACs and
addresses are never handed out twice, and losers of a race retry instead of failing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sriovstack.db import Database
from sriovstack.errors import Unavailable
from sriovstack.network import NetworkService, NetworkSpec, PortSpec, ProviderSpec, SubnetSpec
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
