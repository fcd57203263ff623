"""Networks and the type drivers on a real database: project VLANs in order, exhaustion 503,
provider VLAN/flat reservation and 409s, policy, scoping, delete cascading to subnets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sriovstack.db import Database
from sriovstack.db.models.network import VlanAllocationRow
from sriovstack.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from sriovstack.network import (Ml2Settings, NetworkService, NetworkSpec, NetworkType,
                                NetworkUpdate, PortSpec, ProviderSpec, SubnetSpec)
from tests.network.conftest import ADMIN, ALICE, BOB, CHAPTER


def _vlan(physnet: str | None = "physnet1", sid: int | None = None) -> NetworkSpec:
    return NetworkSpec(name="web", provider=ProviderSpec("vlan", physnet, sid))


def test_project_vlans_come_in_order_and_the_seventh_gets_503(net: NetworkService) -> None:
    tags = [net.networks.create(ALICE, NetworkSpec(name=f"n{i}")).segment.segmentation_id
            for i in range(6)]
    assert tags == [15, 16, 17, 18, 19, 20]  # physnet1:15:20 holds exactly six
    with pytest.raises(Unavailable) as err:
        net.networks.create(ALICE, NetworkSpec(name="n7"))
    assert err.value.kind == "NoNetworkAvailable"
    assert "No project network is available" in str(err.value)


def test_deleting_a_network_returns_its_vlan(net: NetworkService) -> None:
    first = net.networks.create(ALICE, NetworkSpec())
    net.networks.delete(ALICE, first.id)
    assert net.networks.create(ALICE, NetworkSpec()).segment.segmentation_id == 15


def test_provider_vlan_in_range_is_reserved_and_in_use_is_409(net: NetworkService) -> None:
    made = net.networks.create(ADMIN, _vlan(sid=15))
    assert made.segment.network_type is NetworkType.VLAN and made.segment.segmentation_id == 15
    with pytest.raises(Conflict) as err:
        net.networks.create(ADMIN, _vlan(sid=15))
    assert err.value.kind == "VlanIdInUse" and "VLAN 15 on physical network physnet1" in str(
        err.value)
    assert net.networks.create(ALICE, NetworkSpec()).segment.segmentation_id == 16


def test_provider_vlan_outside_the_range_vanishes_on_delete(net: NetworkService,
                                                           database: Database) -> None:
    made = net.networks.create(ADMIN, _vlan(sid=100))
    net.networks.delete(ADMIN, made.id)
    with database.transaction() as session:
        ids = session.scalars(select(VlanAllocationRow.vlan_id)).all()
    assert sorted(ids) == [15, 16, 17, 18, 19, 20]


def test_partial_provider_spec_allocates_on_that_physnet(net: NetworkService) -> None:
    assert net.networks.create(ADMIN, _vlan(sid=None)).segment.segmentation_id == 15


@pytest.mark.parametrize(("spec", "field", "words"), [
    (ProviderSpec("vxlan", None, 5), "provider:network_type", "'vxlan' not supported"),
    (ProviderSpec("vlan", "physnet9", 15), "provider:physical_network", "unknown for VLAN"),
    (ProviderSpec("vlan", "physnet1", 4095), "provider:segmentation_id", "out of range"),
    (ProviderSpec("vlan", None, 15), "provider:physical_network", "requires physical_network"),
    (ProviderSpec("flat", "physnet2", 3), "provider:segmentation_id", "prohibited"),
    (ProviderSpec("flat", None, None), "provider:physical_network", "required"),
    (ProviderSpec("flat", "physnet1", None), "provider:physical_network", "unknown for flat"),
    (ProviderSpec(None, "physnet1", None), "provider:network_type", "required"),
])
def test_bad_provider_attributes_are_400_naming_them(net: NetworkService, spec: ProviderSpec,
                                                     field: str, words: str) -> None:
    with pytest.raises(Invalid) as err:
        net.networks.create(ADMIN, NetworkSpec(provider=spec))
    assert err.value.field == field and words in str(err.value)


def test_one_flat_network_per_physnet(net: NetworkService) -> None:
    flat = net.networks.create(ADMIN, NetworkSpec(provider=ProviderSpec("flat", "physnet2")))
    assert flat.segment.network_type is NetworkType.FLAT
    with pytest.raises(Conflict) as err:
        net.networks.create(ADMIN, NetworkSpec(provider=ProviderSpec("flat", "physnet2")))
    assert err.value.kind == "FlatNetworkInUse"
    net.networks.delete(ADMIN, flat.id)
    net.networks.create(ADMIN, NetworkSpec(provider=ProviderSpec("flat", "physnet2")))


def test_provider_attributes_are_admin_only(net: NetworkService) -> None:
    with pytest.raises(Forbidden):
        net.networks.create(ALICE, _vlan(sid=17))


def test_other_projects_networks_are_not_found(net: NetworkService) -> None:
    mine = net.networks.create(ALICE, NetworkSpec(name="mine"))
    with pytest.raises(NotFound) as err:
        net.networks.get(BOB, mine.id)
    assert err.value.kind == "NetworkNotFound"
    with pytest.raises(NotFound):
        net.networks.get(ALICE, "mine")  # a name is not an id: 404, clients then list
    assert [n.id for n in net.networks.list(BOB)] == []
    assert [n.id for n in net.networks.list(ADMIN)] == [mine.id]
    with pytest.raises(Forbidden):
        net.networks.create(ALICE, NetworkSpec(name="s", shared=True))
    shared = net.networks.create(ADMIN, NetworkSpec(name="s", shared=True))
    assert [n.id for n in net.networks.list(BOB)] == [shared.id]
    with pytest.raises(Forbidden):
        net.networks.delete(BOB, shared.id)
    with pytest.raises(Forbidden):
        net.networks.update(ALICE, mine.id, NetworkUpdate(shared=True))


def test_update_and_delete_cascade_to_subnets(net: NetworkService) -> None:
    made = net.networks.create(ALICE, NetworkSpec(name="a"))
    subnet = net.subnets.create(ALICE, SubnetSpec(network_id=made.id, cidr="10.0.0.0/24"))
    changed = net.networks.update(ALICE, made.id, NetworkUpdate(name="b", admin_state_up=False))
    assert (changed.name, changed.admin_state_up, changed.revision_number) == ("b", False, 2)
    assert changed.subnet_ids == (subnet.id,)
    net.networks.delete(ALICE, made.id)
    with pytest.raises(NotFound):
        net.subnets.get(ALICE, subnet.id)


def test_a_network_with_ports_is_in_use(net: NetworkService) -> None:
    made = net.networks.create(ALICE, NetworkSpec())
    port = net.ports.create(ALICE, PortSpec(network_id=made.id))
    with pytest.raises(Conflict) as err:
        net.networks.delete(ALICE, made.id)
    assert err.value.kind == "NetworkInUse" and "one or more ports" in str(err.value)
    net.ports.delete(ALICE, port.id)
    net.networks.delete(ALICE, made.id)


def test_start_syncs_the_allocation_table_with_the_ranges(database: Database) -> None:
    first = NetworkService(database, CHAPTER)
    provider = first.networks.create(ADMIN, _vlan(sid=18))
    narrower = Ml2Settings(vlan_ranges=(("physnet1", ((10, 12),)),))
    NetworkService(database, narrower)
    with database.transaction() as session:
        rows = {(r.vlan_id, r.allocated) for r in session.scalars(select(VlanAllocationRow))}
    # free rows outside the new range go; the allocated 18 (a provider network) stays
    assert rows == {(10, False), (11, False), (12, False), (18, True)}
    assert provider.segment.segmentation_id == 18


def test_without_vlan_tenant_type_a_project_network_is_503_naming_the_option(
        database: Database) -> None:
    service = NetworkService(database, Ml2Settings(type_drivers=("local", "vlan"),
                                                  tenant_network_types=("local",)))
    with pytest.raises(Unavailable, match="tenant_network_types"):
        service.networks.create(ALICE, NetworkSpec())
