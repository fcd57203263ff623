"""The host registry on SQLite and PostgreSQL: inventory upserts, vanished devices, up/down."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import BuildRequest, PciRequest, Scheduler, SchedulerConfig
from sriovstack.db.models.hosts import PciDeviceRow
from sriovstack.errors import NotFound, NoValidHost
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.wire import (COMPUTE_AGENT_TYPE, Heartbeat, HostResources, InventoryDevice,
                             InventoryReport)
from tests.compute.conftest import ADMIN, Cloud
from tests.statements import recorded


def inventory(name: str, vfs: int = 4, physnet: str = "physnet1",
              drop: frozenset[str] = frozenset()) -> tuple[str, InventoryReport]:
    """(host, its report) for ``update_inventory(*inventory(...))``."""
    devices = []
    for p in range(2):
        pf = PciAddress(0, 5, 0, p)
        devices.append(InventoryDevice(PciDevice(pf, "8086", "1572", DevType.PF, None, p),
                                       physnet))
        devices += [InventoryDevice(PciDevice(PciAddress(0, 6 + p, 0, i), "8086", "154c",
                                              DevType.VF, pf, p), physnet) for i in range(vfs)]
    kept = tuple(d for d in devices if str(d.address) not in drop)
    return name, InventoryReport(HostResources(vcpus=8, memory_mb=8192, disk_gb=100), kept)


def statuses(database, host_name: str) -> dict[str, str]:
    with database.transaction() as s:
        return dict(s.execute(select(PciDeviceRow.address, PciDeviceRow.status)).all())


def test_inventory_registers_the_host_and_its_devices(database, clock):
    hosts = HostRegistry(database, clock)
    result = hosts.update_inventory(*inventory("compute-0"))
    assert (result.added, result.updated, result.removed) == (10, 0, 0)
    info = hosts.get("compute-0")
    assert (info.pci_total, info.pci_free, info.up, info.enabled) == (10, 10, True, True)
    again = hosts.update_inventory(*inventory("compute-0"))
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_host_goes_down_without_heartbeats_and_comes_back(database, clock):
    hosts = HostRegistry(database, clock, service_down_time=60)
    hosts.update_inventory(*inventory("compute-0"))
    clock.advance(61)
    assert hosts.get("compute-0").up is False
    hosts.record_heartbeat("compute-0")
    assert hosts.get("compute-0").up is True


def test_heartbeat_of_an_unknown_host_is_not_found(database, clock):
    with pytest.raises(NotFound, match="'ghost' is not registered"):
        HostRegistry(database, clock).record_heartbeat("ghost")


def test_a_compute_agents_beat_is_two_statements_without_begin_or_commit_on_postgresql(
        cloud: Cloud) -> None:
    """Issue 14: a compute agent's beat (every 10 s on every host) is two statements: the
    host marked up, the agent upserted; on PostgreSQL each commits on its own (no BEGIN, no
    COMMIT: two round trips fewer). A beat from an unregistered host is NotFound and records
    no agent: the host's statement finds nothing before the agent's runs."""
    cloud.add_host("compute-1")
    cloud.clock.advance(61)
    beat = Heartbeat(COMPUTE_AGENT_TYPE, "sriovstack-compute")
    with recorded(cloud.db.engine) as ran:
        answer = cloud.compute.reports.heartbeat("compute-1", beat)
        with pytest.raises(NotFound, match="'ghost' is not registered"):
            cloud.compute.reports.heartbeat("ghost", beat)
    assert len(ran) == 3, ran  # the ghost's beat stopped at its first statement
    assert {r.in_transaction for r in ran} == {cloud.db.dialect != "postgresql"}
    assert answer.alive and answer.host == "compute-1"
    assert HostRegistry(cloud.db, cloud.clock).get("compute-1").up
    assert [a.host for a in cloud.net.agents.list(ADMIN)
            if a.agent_type == COMPUTE_AGENT_TYPE] == ["compute-1"]


def test_vanished_free_device_is_removed_but_a_held_one_waits_for_release(database, clock):
    hosts = HostRegistry(database, clock)
    hosts.update_inventory(*inventory("compute-0", vfs=1))
    sched = Scheduler(database, SchedulerConfig(), clock)
    claim = sched.schedule_and_claim(BuildRequest(
        "srv-1", "p", 1, 512, pci_requests=(PciRequest(physnet="physnet1", port_id="port-1"),)))
    held = str(claim.devices[0].address)
    free_vf = next(a for a in ("0000:06:00.0", "0000:07:00.0") if a != held)
    result = hosts.update_inventory(*inventory("compute-0", vfs=1, drop=frozenset({held, free_vf})))
    assert (result.removed, result.kept_in_use) == (1, 1)
    assert statuses(database, "compute-0")[free_vf] == "removed"
    assert statuses(database, "compute-0")[held] == "claimed"  # never dropped while owned
    assert sched.release("srv-1") is True
    assert statuses(database, "compute-0")[held] == "removed"  # not re-pooled (nova §2.6)


def test_a_returning_device_is_available_again(database, clock):
    hosts = HostRegistry(database, clock)
    hosts.update_inventory(*inventory("compute-0", drop=frozenset({"0000:06:00.1"})))
    hosts.update_inventory(*inventory("compute-0"))
    assert statuses(database, "compute-0")["0000:06:00.1"] == "available"
    assert hosts.get("compute-0").pci_free == 10


def test_disabled_host_is_filtered_with_its_reason(database, clock):
    hosts = HostRegistry(database, clock)
    hosts.update_inventory(*inventory("compute-0"))
    info = hosts.set_enabled("compute-0", False, "maintenance")
    assert (info.enabled, info.disabled_reason) == (False, "maintenance")
    sched = Scheduler(database, SchedulerConfig(), clock)
    with pytest.raises(NoValidHost, match="ComputeFilter: 1 host is disabled"):
        sched.schedule_and_claim(BuildRequest("srv-1", "p", 1, 512))
    hosts.set_enabled("compute-0", True)
    assert sched.schedule_and_claim(BuildRequest("srv-1", "p", 1, 512)).host == "compute-0"
