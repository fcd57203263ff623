"""Fixtures of the network service tests: the chapter's ML2 settings over the shared
``database`` fixture (SQLite and PostgreSQL), callers of two projects, an admin and nova."""

from __future__ import annotations

import pytest

from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.identity import Caller
from sriovstack.network import Ml2Settings, NetworkService

ALICE = Caller("u-alice", "p-alice")
BOB = Caller("u-bob", "p-bob")
ADMIN = Caller("u-admin", "p-admin", is_admin=True)
NOVA = Caller("u-nova", "p-service", is_service=True)

# The chapter (20.3): vlan type driver, physnet1:15:20, openvswitch then sriovnicswitch.
CHAPTER = Ml2Settings(type_drivers=("flat", "vlan"), tenant_network_types=("vlan",),
                      mechanism_drivers=("openvswitch", "sriovnicswitch"),
                      vlan_ranges=(("physnet1", ((15, 20),)),), flat_networks=("physnet2",),
                      agent_required=True,
                      supported_pci_vendor_devs=("15b3:1004", "8086:10ca"))


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def net(database: Database, fake_clock: FakeClock) -> NetworkService:
    return NetworkService(database, CHAPTER, fake_clock)
