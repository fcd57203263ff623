"""Scheduler benchmark (run by hand): the PCI part of one decision (one VF, and the full pool
fit: a guest NUMA node, vendor/product ids, two requests), choosing a host (the filters and
weighers, nothing claimed), whole decisions (choice, claim, index refresh) per second, the
ranking's refiling of one host after a claim, and scheduler memory per host, at 100 / 1,000 /
5,000 simulated hosts of 2 PFs x 64 VFs on 2 NUMA nodes (issue 3; nova's figures are in
shared/reference/perf_anchors.md).

    .venv/bin/python bench/bench_scheduler.py [--hosts 100,1000,5000] [--url sqlite:///...]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import insert, update

from sriovstack.clock import SystemClock
from sriovstack.compute.scheduler import (BuildRequest, HostState, NumaPolicy, PciRequest,
                                          Scheduler, SchedulerConfig)
from sriovstack.compute.scheduler.filters import PciPassthroughFilter
from sriovstack.compute.scheduler.index import HostIndex
from sriovstack.compute.scheduler.ranking import HostRanking
from sriovstack.compute.scheduler.weighers import build_weighers
from sriovstack.db import Database
from sriovstack.db.models.hosts import HostRow, PciDeviceRow

PFS, VFS = 2, 64


def populate(db: Database, hosts: int) -> None:
    """Insert hosts straight into the tables (the registry's ORM path is not what we time).

    Their heartbeats are stamped afterwards (``stamp_heartbeats``): inserting 5,000 hosts takes
    longer than ``service_down_time``, so a stamp taken before would find every host down."""
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        for start in range(0, hosts, 200):
            host_rows, dev_rows = [], []
            for h in range(start, min(hosts, start + 200)):
                host_id = str(uuid.uuid4())
                host_rows.append(dict(id=host_id, name=f"compute-{h:05d}", enabled=True,
                                      disabled_reason=None, availability_zone="nova",
                                      vcpus=64, memory_mb=262144, disk_gb=2000, vcpus_used=0,
                                      memory_mb_used=0, disk_gb_used=0, capabilities={},
                                      numa_topology=[{"id": 0, "socket": 0},
                                                     {"id": 1, "socket": 1}],
                                      last_heartbeat=now, generation=1))
                for p in range(PFS):
                    pf = f"0000:{0x05 + p * 0x40:02x}:00.0"
                    physnet = f"physnet{p + 1}"
                    dev_rows.append(_dev(host_id, pf, "1572", "type-PF", None, pf, p, physnet))
                    for v in range(VFS):
                        addr = f"0000:{0x06 + p * 0x40 + v // 32:02x}:{(v % 32):02x}.{0}"
                        dev_rows.append(_dev(host_id, addr, "154c", "type-VF", pf, pf, p, physnet))
            conn.execute(insert(HostRow), host_rows)
            conn.execute(insert(PciDeviceRow), dev_rows)


def stamp_heartbeats(db: Database) -> None:
    """Every host heartbeats now (one UPDATE), as live agents would have done."""
    with db.engine.begin() as conn:
        conn.execute(update(HostRow).values(last_heartbeat=datetime.now(UTC)))


def _dev(host_id: str, addr: str, product: str, dev_type: str, parent: str | None, pool_pf: str,
         numa: int, physnet: str) -> dict[str, object]:
    return dict(id=str(uuid.uuid4()), host_id=host_id, address=addr, vendor_id="8086",
                product_id=product, dev_type=dev_type, parent_addr=parent, pool_pf=pool_pf,
                numa_node=numa, physnet=physnet, tags={}, status="available", owner=None,
                request_id=None, generation=0, removed_when_freed=False)


def request(n: int) -> BuildRequest:
    return BuildRequest(f"bench-{n}", "p", 1, 512, pci_requests=(
        PciRequest(physnet="physnet1", port_id=f"port-{n}"),))


def full_fit_request(n: int) -> BuildRequest:
    """What the quick per-physnet totals cannot answer: a guest NUMA node to choose
    (hw:numa_nodes=1), a vendor/product id and two PCI requests."""
    return BuildRequest(f"bench-fit-{n}", "p", 1, 512, guest_numa_cells=1, pci_requests=(
        PciRequest(physnet="physnet1", vendor_id="8086", product_id="154c",
                   numa_policy=NumaPolicy.REQUIRED, port_id=f"port-a-{n}"),
        PciRequest(count=2, physnet="physnet2", vendor_id="8086",
                   numa_policy=NumaPolicy.PREFERRED, port_id=f"port-b-{n}")))


def _refile_seconds(states: tuple[HostState, ...], claims: int = 500) -> float:
    """The ranking's update for one host that took a claim's RAM and vCPU (a decision's
    ``adjust``, and the refresh that reads the host back), median of ``claims``."""
    ranking = HostRanking(build_weighers(SchedulerConfig()), by_zone=True, by_pci=True,
                          usable_only=True)
    ranking.update({h.id: h for h in states})
    current = list(states)
    times = []
    for n in range(claims):
        i = (n * 7919) % len(current)  # spread over the hosts
        host = current[i] = replace(current[i], memory_mb_used=current[i].memory_mb_used + 512,
                                    vcpus_used=current[i].vcpus_used + 1)
        t0 = time.perf_counter()
        ranking.update({host.id: host})
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(hosts: int, url: str | None, decisions: int) -> dict[str, float]:
    tmp = tempfile.mkdtemp()
    db = Database(url or f"sqlite:///{tmp}/bench.db")
    db.create_schema()
    populate(db, hosts)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    index = HostIndex(db)
    t0 = time.perf_counter()
    states = index.snapshot()
    first_load = time.perf_counter() - t0
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    memory = sum(s.size_diff for s in after.compare_to(before, "filename")) / hosts
    flt, req = PciPassthroughFilter(), request(0)
    gc.collect()
    gc.freeze()  # a full collection would walk every loaded host in the timed loops below
    pci = []
    for _ in range(20):
        t0 = time.perf_counter()
        passed = [h for h in states if flt.check(h, req) is None]
        pci.append(time.perf_counter() - t0)
    assert len(passed) == hosts
    fit_req, fit = full_fit_request(0), []
    for _ in range(5):
        t0 = time.perf_counter()
        passed = [h for h in states if flt.check(h, fit_req) is None]
        fit.append(time.perf_counter() - t0)
    assert len(passed) == hosts
    refile = _refile_seconds(states)
    stamp_heartbeats(db)  # the load and the PCI timing above took a while at 5,000 hosts
    sched = Scheduler(db, SchedulerConfig(), SystemClock())
    sched.select_hosts(req)  # warm the scheduler's own index
    choices = []
    for n in range(decisions):
        t0 = time.perf_counter()
        sched.choose(request(n))
        choices.append(time.perf_counter() - t0)
    times = []
    for n in range(decisions):
        t0 = time.perf_counter()
        sched.schedule_and_claim(request(n))
        times.append(time.perf_counter() - t0)
    refresh = []
    for _ in range(10):
        t0 = time.perf_counter()
        index.snapshot()
        refresh.append(time.perf_counter() - t0)
    db.dispose()
    gc.unfreeze()
    return {"hosts": hosts, "pci_ms": statistics.median(pci) * 1e3,
            "pci_us_per_host": statistics.median(pci) * 1e6 / hosts,
            "fit_ms": min(fit) * 1e3, "fit_us_per_host": min(fit) * 1e6 / hosts,
            "choice_ms": statistics.median(choices) * 1e3, "choice_min_ms": min(choices) * 1e3,
            "decision_ms": statistics.median(times) * 1e3, "decision_min_ms": min(times) * 1e3,
            "decisions_per_s": 1 / statistics.median(times),
            "refresh_ms": statistics.median(refresh) * 1e3, "refile_us": refile * 1e6,
            "first_load_s": first_load, "bytes_per_host": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="100,1000,5000")
    parser.add_argument("--url", default=None, help="database URL (default: a temp SQLite file)")
    parser.add_argument("--decisions", type=int, default=50)
    args = parser.parse_args()
    print(f"{'hosts':>6} {'PCI ms':>8} {'us/host':>8} {'fit ms':>8} {'us/host':>8} "
          f"{'choose ms':>10} {'min ms':>7} {'decide ms':>10} {'min ms':>7} {'dec/s':>7} "
          f"{'refresh ms':>11} {'refile us':>10} {'load s':>7} {'B/host':>7}")
    for hosts in (int(h) for h in args.hosts.split(",")):
        r = bench(hosts, args.url, args.decisions)
        print(f"{hosts:>6} {r['pci_ms']:>8.3f} {r['pci_us_per_host']:>8.2f} "
              f"{r['fit_ms']:>8.2f} {r['fit_us_per_host']:>8.2f} "
              f"{r['choice_ms']:>10.3f} {r['choice_min_ms']:>7.3f} "
              f"{r['decision_ms']:>10.2f} {r['decision_min_ms']:>7.2f} "
              f"{r['decisions_per_s']:>7.1f} {r['refresh_ms']:>11.2f} {r['refile_us']:>10.1f} "
              f"{r['first_load_s']:>7.2f} {r['bytes_per_host']:>7.0f}")


if __name__ == "__main__":
    main()
