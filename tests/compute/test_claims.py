"""Claims on SQLite and PostgreSQL: conditional UPDATEs, the PF/VF fence, release, races."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import and_, select, text

from sriovstack.compute.claims import Claims
from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.scheduler import BuildRequest, PciRequest, Scheduler, SchedulerConfig
from sriovstack.db.models.hosts import HostRow, PciDeviceRow
from sriovstack.errors import ClaimLost, Conflict, NoValidHost
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice
from sriovstack.pci.pools import Allocation, PoolKey
from sriovstack.wire import HostResources, InventoryDevice, InventoryReport

PF0, PF1 = PciAddress(0, 5, 0, 0), PciAddress(0, 5, 0, 1)


def inventory(name: str, vfs: int = 2, memory_mb: int = 8192
              ) -> tuple[str, InventoryReport]:
    """(host, its report) for ``update_inventory(*inventory(...))``."""
    devices = []
    for p, pf in enumerate((PF0, PF1)):
        devices.append(InventoryDevice(PciDevice(pf, "8086", "1572", DevType.PF, None, p),
                                       "physnet1"))
        devices += [InventoryDevice(PciDevice(PciAddress(0, 6 + p, 0, i), "8086", "154c",
                                              DevType.VF, pf, p), "physnet1")
                    for i in range(vfs)]
    return name, InventoryReport(HostResources(8, memory_mb, 100), tuple(devices))


def vf(server: str, port: str = "port") -> BuildRequest:
    return BuildRequest(server, "p", 1, 512, pci_requests=(PciRequest(physnet="physnet1",
                                                                      port_id=f"{port}-{server}"),))


def pf(server: str) -> BuildRequest:
    return BuildRequest(server, "p", 1, 512, pci_requests=(
        PciRequest(dev_type=DevType.PF, physnet="physnet1", port_id=f"port-{server}"),))


def device_states(database) -> dict[str, tuple[str, str | None]]:
    with database.transaction() as s:
        return {r.address: (r.status, r.owner) for r in s.scalars(select(PciDeviceRow))}


@pytest.fixture
def sched(database, clock):
    HostRegistry(database, clock).update_inventory(*inventory("compute-0"))
    return Scheduler(database, SchedulerConfig(), clock)


def test_a_vf_claim_holds_the_vf_fences_its_pf_and_takes_host_resources(sched, database):
    claim = sched.schedule_and_claim(vf("srv-1"))
    (device,) = claim.devices
    assert (claim.host, device.dev_type, device.physnet) == ("compute-0", DevType.VF, "physnet1")
    assert (device.pci_vendor_info, device.port_id, device.generation) == ("8086:154c", "port-srv-1", 1)
    states = device_states(database)
    assert states[str(device.address)] == ("claimed", "srv-1")
    assert states[str(device.parent_addr)] == ("unclaimable", None)
    with database.transaction() as s:
        host = s.scalar(select(HostRow))
        assert (host.memory_mb_used, host.vcpus_used, host.disk_gb_used) == (512, 1, 0)


def test_vfs_pack_onto_the_busy_pf_so_the_other_pf_stays_whole(sched):
    first = sched.schedule_and_claim(vf("srv-1")).devices[0]
    second = sched.schedule_and_claim(vf("srv-2")).devices[0]
    assert first.parent_addr == second.parent_addr
    whole = sched.schedule_and_claim(pf("srv-3")).devices[0]
    assert whole.address != first.parent_addr


def test_a_pf_claim_makes_its_vfs_unclaimable_and_release_restores_them(sched, database):
    a = sched.schedule_and_claim(pf("srv-a")).devices[0]
    b = sched.schedule_and_claim(pf("srv-b")).devices[0]
    assert {a.address, b.address} == {PF0, PF1}
    assert {s for s, _ in device_states(database).values()} == {"claimed", "unclaimable"}
    with pytest.raises(NoValidHost, match="PciPassthroughFilter: 1 host has no free VF on physnet1"):
        sched.schedule_and_claim(vf("srv-c"))
    assert sched.release("srv-a") and sched.release("srv-b")
    assert {s for s, _ in device_states(database).values()} == {"available"}


def test_no_more_vfs_than_exist_and_release_is_idempotent(sched, database):
    for i in range(4):
        sched.schedule_and_claim(vf(f"srv-{i}"))
    with pytest.raises(NoValidHost) as err:
        sched.schedule_and_claim(vf("srv-late"))
    assert str(err.value).endswith("PciPassthroughFilter: 1 host has no free VF on physnet1")
    for i in range(4):
        assert sched.release(f"srv-{i}") is True
        assert sched.release(f"srv-{i}") is False
    assert all(v == ("available", None) for v in device_states(database).values())
    with database.transaction() as s:
        assert s.scalar(select(HostRow.memory_mb_used)) == 0


def test_a_stale_plan_loses_and_leaves_nothing_half_applied(sched, database):
    sched.schedule_and_claim(pf("srv-pf"))  # PF0 (or PF1) is now held
    held = next(a for a, (s, o) in device_states(database).items() if o == "srv-pf")
    key = PoolKey("8086", "154c", DevType.VF, "physnet1", 0 if held.endswith(".0") else 1,
                  PciAddress.parse(held))
    request = vf("srv-stale")
    claims = Claims(database, 1.5, 16.0)
    with pytest.raises(ClaimLost, match=f"PF {held} is claimed"):
        claims.claim(sched.select_hosts(request)[0].id, "compute-0", request,
                     (Allocation(request.pci_requests[0], key, 1),))
    with database.transaction() as s:
        assert s.scalar(select(HostRow.memory_mb_used)) == 512  # only srv-pf's
    assert claims.held_by("srv-stale") == ()


def test_ram_is_claimed_conditionally(database, clock):
    HostRegistry(database, clock).update_inventory(*inventory("small", memory_mb=1000))
    request = BuildRequest("big", "p", 1, 2000)
    claims = Claims(database, 1.5, 16.0)
    host_id = Scheduler(database, SchedulerConfig(enabled_filters=("ComputeFilter",)),
                        clock).select_hosts(request)[0].id
    with pytest.raises(ClaimLost, match="no longer has 2000 MB RAM"):
        claims.claim(host_id, "small", request, ())


def test_a_server_holds_one_claim(sched):
    sched.schedule_and_claim(vf("srv-1"))
    with pytest.raises(Conflict, match="already holds a claim"):
        sched.schedule_and_claim(vf("srv-1"))


def test_allocate_and_held_by(sched):
    claim = sched.schedule_and_claim(vf("srv-1"))
    assert sched.claims.allocate("srv-1") == 1
    assert [d.address for d in sched.claims.held_by("srv-1")] == [claim.devices[0].address]
    assert sched.release("srv-1")
    assert sched.claims.held_by("srv-1") == ()


def test_many_threads_never_double_hold_a_vf(database, clock):
    """More builds than VFs, from 16 threads with their own schedulers (as API workers)."""
    registry = HostRegistry(database, clock)
    for h in range(3):
        registry.update_inventory(*inventory(f"compute-{h}", vfs=4))  # 24 VFs in all
    results: dict[str, object] = {}
    lock = threading.Lock()

    def worker(n: int) -> None:
        sched = Scheduler(database, SchedulerConfig(), clock)
        for i in range(3):
            server = f"srv-{n}-{i}"
            try:
                outcome: object = sched.schedule_and_claim(vf(server))
            except NoValidHost as exc:
                outcome = exc
            with lock:
                results[server] = outcome

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results.values() if not isinstance(r, Exception)]
    assert len(results) == 48 and len(won) == 24
    held = Counter((c.host, c.devices[0].address) for c in won)
    assert max(held.values()) == 1
    with database.transaction() as s:
        owners = list(s.scalars(select(PciDeviceRow.owner).where(PciDeviceRow.status == "claimed")))
    assert len(owners) == len(set(owners)) == 24
    sched = Scheduler(database, SchedulerConfig(), clock)
    for server in results:
        sched.release(server)
    with database.transaction() as s:
        assert set(s.scalars(select(PciDeviceRow.status))) == {"available"}
        assert set(s.scalars(select(HostRow.memory_mb_used))) == {0}


def test_host_subset_size_claims_on_one_of_the_best_n_hosts(database, clock):
    """nova's [filter_scheduler] host_subset_size: each build goes to one of the best N
    weighed hosts at random (so concurrent builds spread); N=1 always takes the best."""
    registry = HostRegistry(database, clock)
    for h in range(6):  # more free RAM weighs more: compute-5 is best, then 4, 3, ...
        registry.update_inventory(*inventory(f"compute-{h}", vfs=8, memory_mb=8192 + 1024 * h))
    best = Scheduler(database, SchedulerConfig(), clock)
    spread = Scheduler(database, SchedulerConfig(host_subset_size=3), clock,
                       rng=random.Random(5))
    request = vf("probe")
    top3 = [h.name for h in best.select_hosts(request)[:3]]
    assert top3 == ["compute-5", "compute-4", "compute-3"]
    assert {best.choose(request).name for _ in range(10)} == {"compute-5"}
    assert {spread.choose(request).name for _ in range(30)} == set(top3)
    used = set()
    for i in range(6):
        now_top3 = [h.name for h in best.select_hosts(request)[:3]]
        claim = spread.schedule_and_claim(vf(f"srv-{i}"))
        assert claim.host in now_top3
        used.add(claim.host)
    assert len(used) > 1


def _first_free_vf(database) -> str:
    with database.transaction() as s:
        return s.scalar(select(PciDeviceRow.address).where(
            PciDeviceRow.dev_type == DevType.VF.value, PciDeviceRow.pool_pf == str(PF0),
            PciDeviceRow.status == "available").order_by(PciDeviceRow.address).limit(1))


def test_a_vf_claim_on_postgresql_is_one_statement(sched, database):
    """The common claim (one VF, or none) costs PostgreSQL one round trip: the resources,
    the allocation row, the PF fence and the VF as one chain of CTEs (SQLite: one by one)."""
    at_once = database.dialect == "postgresql"
    sched.select_hosts(vf("probe"))  # the index loaded: the claims below read nothing first
    sent: list[int] = []
    database.on_statement(lambda: sent.append(1))
    claim = sched.schedule_and_claim(vf("srv-1"), refresh=False)
    assert (len(sent) == 1) is at_once
    assert device_states(database)[str(claim.devices[0].address)] == ("claimed", "srv-1")
    assert device_states(database)[str(claim.devices[0].parent_addr)][0] == "unclaimable"
    with database.transaction() as s:
        assert s.scalar(select(HostRow.memory_mb_used)) == 512
    sent.clear()
    sched.schedule_and_claim(BuildRequest("srv-2", "p", 1, 512), refresh=False)
    assert (len(sent) == 1) is at_once
    with database.transaction() as s:
        assert s.scalar(select(HostRow.memory_mb_used)) == 1024


def test_a_claim_whose_first_free_vf_is_taken_meanwhile_takes_the_next(sched, database):
    """Another transaction holds the pool's first free VF while the claim runs, then takes
    it: the claim, which waited on that row, takes the next VF of the same PF instead of
    losing the host (on PostgreSQL, after its one statement found the VF gone)."""
    first = _first_free_vf(database)
    outcome = _claim_behind(database, sched, PciDeviceRow.address == first,
                            {"status": "claimed", "owner": "srv-first"})
    [claim] = outcome
    assert str(claim.devices[0].address) != first
    assert claim.devices[0].parent_addr == PF0
    states = device_states(database)
    assert states[first] == ("claimed", "srv-first")
    assert states[str(claim.devices[0].address)] == ("claimed", "srv-late")


def test_a_vf_claim_waiting_on_a_pf_another_server_takes_meanwhile_takes_nothing(
        sched, database):
    """The PF is claimed (committed) while the VF claim waits to fence it: no VF of it is
    taken, though the VFs still look free, and the RAM taken in the same statement is given
    back; the message names the PF's status as it is now."""
    outcome = _claim_behind(database, sched, and_(PciDeviceRow.address == str(PF0),
                                                  PciDeviceRow.dev_type == DevType.PF.value),
                            {"status": "claimed", "owner": "srv-pf"})
    [lost] = outcome
    assert isinstance(lost, ClaimLost) and f"PF {PF0} is claimed" in str(lost)
    assert {o for _, o in device_states(database).values()} == {None, "srv-pf"}
    with database.transaction() as s:
        assert s.scalar(select(HostRow.memory_mb_used)) == 0


def _claim_behind(database, sched, row, values) -> list[object]:
    """Claim a VF of PF0 while another transaction updates ``row`` of pci_devices to
    ``values``: that transaction commits once the claim waits on the row's lock.  The
    claim's outcome: its Claim or the error it raised."""
    if database.dialect != "postgresql":
        pytest.skip("row locks: SQLite's writers wait for each other before their reads")
    request = vf("srv-late")
    host = sched.select_hosts(request)[0]
    key = PoolKey("8086", "154c", DevType.VF, "physnet1", 0, PF0)
    outcome: list[object] = []

    def claim() -> None:
        try:
            outcome.append(Claims(database, 1.5, 16.0).claim(
                host.id, host.name, request, (Allocation(request.pci_requests[0], key, 1),)))
        except ClaimLost as exc:
            outcome.append(exc)

    worker = threading.Thread(target=claim)
    with database.transaction() as other:
        other.execute(PciDeviceRow.__table__.update().where(row).values(**values))
        worker.start()
        deadline = time.monotonic() + 10
        while not _waits_on_a_lock(database):
            assert time.monotonic() < deadline, "the claim never waited on the row"
            time.sleep(0.02)
    worker.join(10)
    assert not worker.is_alive()
    return outcome


def _waits_on_a_lock(database) -> bool:
    with database.transaction() as s:
        return bool(s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE "
                                  "wait_event_type = 'Lock' AND datname = current_database()")))
