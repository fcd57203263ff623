"""A flavor's pci_passthrough:alias through the build: the scheduler claims the VFs for the
server (no port), the desired state tells the agent them and the server's key, and the
delete frees them; an alias [pci] alias lacks is a 400 at create."""

from __future__ import annotations

import pytest

from sriovstack.clock import FakeClock
from sriovstack.compute import FlavorCreate, KeypairCreate, build_compute
from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import Scheduler, SchedulerConfig
from sriovstack.compute.types import ServerCreate
from sriovstack.db import Database
from sriovstack.errors import Invalid
from sriovstack.network import NetworkService
from sriovstack.pci import parse_aliases
from tests.compute.conftest import ADMIN, CHAPTER_ML2, Cloud

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"
ALIAS = '{"name": "igb-vf", "vendor_id": "8086", "product_id": "10ca", "device_type": "type-VF"}'


@pytest.fixture
def aliased(database: Database) -> Cloud:
    clock = FakeClock()
    net = NetworkService(database, CHAPTER_ML2, clock)
    config = SchedulerConfig(pci_aliases=tuple(parse_aliases([(ALIAS, None)]).items()))
    scheduler = Scheduler(database, config, clock)
    compute = build_compute(database, net, scheduler, HostRegistry(database, clock), clock,
                            poll_interval=0.05)
    return Cloud(database, clock, net, scheduler, compute)


def _flavor(cloud: Cloud, flavor_id: str, alias: str) -> None:
    cloud.compute.flavors.create(ADMIN, FlavorCreate("f" + flavor_id, 512, 1, 1, id=flavor_id))
    cloud.compute.flavors.set_extra_specs(ADMIN, flavor_id, {"pci_passthrough:alias": alias})


def test_alias_vfs_are_claimed_told_to_the_agent_and_freed(aliased: Cloud) -> None:
    aliased.add_host("compute-1")
    _flavor(aliased, "vf2", "igb-vf:2")
    key = aliased.compute.keypairs.create(ADMIN, KeypairCreate(
        "k", public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBcWzS5V0F5xKQ4w9w1mB8vY1q0oZ2m"
                        "0f0y3s6JmQ5sD me"))
    server = aliased.compute.servers.create(ADMIN, ServerCreate(
        "vm", "vf2", CIRROS_ID, (), key_name="k"))
    aliased.compute.servers.builder.build(server.id)
    held = aliased.scheduler.claims.held_by(server.id)
    assert len(held) == 2 and all(d.port_id is None and d.product_id == "10ca" for d in held)
    [desired] = aliased.compute.desired_state.desired_state("compute-1").servers
    assert set(desired.hostdevs) == {d.address for d in held}
    assert desired.authorized_keys == key.public_key and desired.ports == ()
    ledger = {d.address: d.server_id for d in aliased.compute.host_devices.devices("compute-1")}
    assert all(ledger[d.address] == server.id for d in held)  # os-sriov-hosts shows them
    aliased.compute.keypairs.delete(ADMIN, "k")  # the server keeps the key it was given
    [again] = aliased.compute.desired_state.desired_state("compute-1").servers
    assert again.authorized_keys == key.public_key
    aliased.compute.servers.delete(ADMIN, server.id)
    assert aliased.scheduler.claims.held_by(server.id) == ()


def test_an_alias_that_no_config_defines_is_refused_at_create(aliased: Cloud) -> None:
    _flavor(aliased, "gpu", "gpu:1")
    with pytest.raises(Invalid, match="PCI alias gpu is not defined"):
        aliased.compute.servers.create(ADMIN, ServerCreate("vm", "gpu", CIRROS_ID, ()))


def test_more_alias_vfs_than_free_end_in_no_valid_host(aliased: Cloud) -> None:
    aliased.add_host("compute-1")
    _flavor(aliased, "big", "igb-vf:15")  # the 82576 has 14
    server = aliased.compute.servers.create(ADMIN, ServerCreate("vm", "big", CIRROS_ID, ()))
    aliased.compute.servers.builder.build(server.id)
    shown = aliased.compute.servers.get(ADMIN, server.id)
    assert shown.status.value == "ERROR" and "alias igb-vf" in shown.fault.message
