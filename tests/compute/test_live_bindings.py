"""A live migration's port bindings, followed step by step (neutron's multiple port
bindings as nova drives them): once the target VF is claimed the port has an INACTIVE
binding on the target with that VF's pci_slot while the source binding stays ACTIVE; the
switch-over activates it (the source's goes INACTIVE until the source VF is released, then
it is deleted); a move rolled back by the sweep, before or after the switch-over, leaves the
source binding ACTIVE and no other."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sriovstack.compute import MoveKind
from sriovstack.compute.live_bindings import LiveBindings
from sriovstack.compute.scheduler.model import Claim
from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from sriovstack.compute.types import LiveMigrateAction
from sriovstack.errors import Conflict
from sriovstack.network import BindingProfile, BindingStatus, VifType
from sriovstack.pci import PciAddress
from tests.compute.conftest import ADMIN, Cloud
from tests.compute.test_migration import (RUNNING, St, _boot, _begun_by_a_worker_that_dies,
                                          _clean, _ledger, _migration, _other_worker, _slot)


def _bindings(cloud: Cloud, port_id: str) -> list[tuple[str, BindingStatus, str]]:
    """(host, status, pci_slot) of each binding of the port, the active one first."""
    return [(b.host, b.status, str(b.profile.pci_slot))
            for b in cloud.net.host_bindings.list(ADMIN, port_id)]


def test_a_live_migration_activates_the_targets_binding_and_drops_the_sources(
        cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    assert _bindings(cloud, port_id) == [(source[0], BindingStatus.ACTIVE, source[1])]
    cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(), "req-live")
    target = _slot(cloud, port_id)
    assert target[0] != source[0]
    # switched over: the guest is moving, the source VF still held by the migration
    assert _bindings(cloud, port_id) == [(target[0], BindingStatus.ACTIVE, target[1]),
                                         (source[0], BindingStatus.INACTIVE, source[1])]
    port = cloud.net.get_port(ADMIN, port_id)
    assert dict(port.binding.vif_details)["vlan"] == "15"
    cloud.compute.reports.server_status(target[0], server_id, RUNNING)
    assert _migration(cloud, server_id).status == "completed"
    assert _ledger(cloud) == {target: server_id}
    assert _bindings(cloud, port_id) == [(target[0], BindingStatus.ACTIVE, target[1])]
    _clean(cloud)


# The whole move runs on both databases; the rollbacks on SQLite only (CI time).
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE
@pytest.mark.parametrize("step", ["prepared", "switched"])
def test_a_live_migration_rolled_back_keeps_only_the_source_binding(cloud: Cloud,
                                                                    step: str) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    dead, claim_target = _begun_by_a_worker_that_dies(cloud, server_id, MoveKind.LIVE, source[0])
    claim = claim_target()
    target_slot = str(claim.device_for(port_id).address)  # type: ignore[union-attr]
    assert dead._live.prepare((port_id,), claim) == ""
    # mid-move: the target's binding is ready but INACTIVE; the port is still the source's
    assert _bindings(cloud, port_id) == [(source[0], BindingStatus.ACTIVE, source[1]),
                                         (claim.host, BindingStatus.INACTIVE, target_slot)]
    assert _slot(cloud, port_id) == source
    if step == "switched":
        assert dead._live.switch_over((port_id,), claim.host) == ""
        assert _slot(cloud, port_id) == (claim.host, target_slot)

    cloud.clock.advance(timedelta(seconds=DEFAULT_LEASE_SECONDS + 1))
    assert len(_other_worker(cloud).recover()) == 1
    back = cloud.compute.servers.get(ADMIN, server_id)
    assert (back.status, back.host) == (St.ACTIVE, source[0])
    assert _bindings(cloud, port_id) == [(source[0], BindingStatus.ACTIVE, source[1])]
    assert _ledger(cloud) == {source: server_id}
    _clean(cloud)


@SQLITE
def test_no_binding_on_the_target_rolls_the_live_migration_back(cloud: Cloud) -> None:
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    cloud.add_host("compute-3", sriov_agent=False)  # a VF to claim, no NIC agent to bind it
    with pytest.raises(Conflict) as err:
        cloud.compute.servers.action(ADMIN, server_id, LiveMigrateAction(host="compute-3"),
                                     "req-live")
    assert "could not be bound on host compute-3" in str(err.value)
    assert cloud.compute.servers.get(ADMIN, server_id).status is St.ACTIVE
    assert _bindings(cloud, port_id) == [(source[0], BindingStatus.ACTIVE, source[1])]
    assert _migration(cloud, server_id).status == "error"
    _clean(cloud)


@SQLITE
def test_an_operators_binding_calls_move_the_binding_never_the_vf(cloud: Cloud) -> None:
    # The port of a running server (compute-owned, where neutron allows these calls): its
    # binding goes to the other host and back, then the ACTIVE one is deleted (neutron's
    # 204); the server's one VF claim stays where it is throughout and is freed with it.
    server_id, port_id = _boot(cloud)
    source = _slot(cloud, port_id)
    other = "compute-2" if source[0] == "compute-1" else "compute-1"
    ledger = _ledger(cloud)
    assert ledger == {source: server_id}
    calls, vnic = cloud.net.host_bindings, cloud.net.get_port(ADMIN, port_id).vnic_type
    elsewhere = BindingProfile(pci_slot=PciAddress.parse(source[1]), physical_network="physnet1",
                               pci_vendor_info="8086:10ca")
    calls.create(ADMIN, port_id, other, vnic, elsewhere)
    calls.activate(ADMIN, port_id, other)
    assert _bindings(cloud, port_id) == [(other, BindingStatus.ACTIVE, source[1]),
                                         (source[0], BindingStatus.INACTIVE, source[1])]
    assert _ledger(cloud) == ledger
    # a live migration's prepare for the host the port is ACTIVE on refuses (409 exists)
    # rather than deleting that binding, which would unbind the port
    claim = Claim(server_id, other, ())
    assert "already exists" in LiveBindings(cloud.net).prepare((port_id,), claim)
    assert _slot(cloud, port_id) == (other, source[1])
    calls.activate(ADMIN, port_id, source[0])
    calls.delete(ADMIN, port_id, other)
    assert _bindings(cloud, port_id) == [(source[0], BindingStatus.ACTIVE, source[1])]
    calls.delete(ADMIN, port_id, source[0])
    port = cloud.net.get_port(ADMIN, port_id)
    assert (port.binding.host, port.binding.vif_type, port.device_id) == (
        "", VifType.UNBOUND, server_id)
    assert _bindings(cloud, port_id) == [] and _ledger(cloud) == ledger
    cloud.compute.servers.delete(ADMIN, server_id)
    assert _ledger(cloud) == {}
    _clean(cloud)
