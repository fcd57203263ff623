"""The ranking (visit a few hosts best-first) picks the host the full scan picks (and, for
``host_subset_size`` N > 1, the full scan's best N in order), over many random hosts,
requests and weigher multipliers, and stays right while hosts are claimed on, released, go
down, are disabled or go away."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from sriovstack.clock import FakeClock
from sriovstack.compute.scheduler import (BuildRequest, HostState, NumaPolicy, PciRequest,
                                          SchedulerConfig)
from sriovstack.compute.scheduler.filters import build_filters
from sriovstack.compute.scheduler.host_state import pci_totals
from sriovstack.compute.scheduler.ranking import HostRanking
from sriovstack.compute.scheduler.scheduler import filter_hosts
from sriovstack.compute.scheduler.weighers import best_host, build_weighers, top_hosts
from sriovstack.pci import DevType, PciAddress, Pool, PoolKey
from tests.compute.scheduler.test_filters import CAPS

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
PHYSNETS = ("physnet1", "physnet2", "PhysNet3", None)


def random_pools(rng: random.Random) -> tuple[Pool, ...]:
    pools = []
    for p in range(rng.randint(0, 3)):
        pf = PciAddress(0, 5 + p, 0, 0)
        physnet, numa = rng.choice(PHYSNETS), rng.choice((0, 1, None))
        vendor = rng.choice(("8086", "15b3"))
        pools.append(Pool(PoolKey(vendor, "1572", DevType.PF, physnet, numa, pf),
                          rng.randint(0, 1)))
        pools.append(Pool(PoolKey(vendor, "154c", DevType.VF, physnet, numa, pf),
                          rng.randint(0, 6)))
    return tuple(sorted(pools, key=lambda p: p.key))


def random_host(rng: random.Random, n: int) -> HostState:
    pools = random_pools(rng)
    memory = rng.choice((4096, 8192, 16384))
    return HostState(
        id=f"id-{n}", name=f"compute-{n:03d}", enabled=rng.random() > 0.1,
        forced_down=rng.random() < 0.05, availability_zone=rng.choice(("nova", "az2")),
        vcpus=8, vcpus_used=rng.randint(0, 12), memory_mb=memory,
        memory_mb_used=rng.choice((0, 1024, memory // 2, memory)), disk_gb=100,
        disk_gb_used=0, capabilities=CAPS, pools=pools, pci_totals=pci_totals(pools),
        heartbeat_at=NOW.timestamp() - rng.choice((5, 5, 5, 500)), generation=1,
        numa_sockets=((0, 0), (1, 1)))


def random_request(rng: random.Random, names: list[str]) -> BuildRequest:
    wants = []
    for i in range(rng.choice((0, 1, 1, 1, 2))):
        wants.append(PciRequest(
            count=rng.choice((1, 1, 2)), dev_type=rng.choice((DevType.VF, DevType.VF, DevType.PF)),
            physnet=rng.choice(PHYSNETS), vendor_id=rng.choice((None, None, "8086")),
            numa_policy=rng.choice(list(NumaPolicy)), any_physnet=rng.random() < 0.1,
            port_id=f"port-{i}"))
    return BuildRequest(
        "s", "p", vcpus=rng.choice((1, 4, 8)), memory_mb=rng.choice((512, 2048, 8192)),
        availability_zone=rng.choice((None, None, "nova", "az2")), pci_requests=tuple(wants),
        retry_hosts=frozenset(rng.sample(names, rng.choice((0, 0, 2)))),
        ignore_hosts=frozenset(rng.sample(names, rng.choice((0, 0, 1)))),
        guest_numa_cells=rng.choice((None, None, 1)))


def full_scan(hosts, request, filters, weighers, lost):
    passed, _ = filter_hosts([h for h in hosts if h.name not in request.ignore_hosts],
                             request, filters)
    return best_host(passed, request, weighers, lost) if passed else "none passes"


def ranked(ranking, request, filters, lost):
    checks = [c for c in (f.prepare(request) for f in filters) if c is not None]
    pick = ranking.best(request, checks, lost)
    return pick.host if pick.found else "none passes"


def full_scan_top(hosts, request, filters, weighers, lost, size):
    passed, _ = filter_hosts([h for h in hosts if h.name not in request.ignore_hosts],
                             request, filters)
    return top_hosts(passed, request, weighers, lost, size) if passed else "none passes"


def ranked_top(ranking, request, filters, lost, size):
    checks = [c for c in (f.prepare(request) for f in filters) if c is not None]
    pick = ranking.best(request, checks, lost, size)
    return pick.hosts if pick.found else "none passes"


@pytest.mark.parametrize("seed", range(3))
def test_the_ranking_picks_the_host_the_full_scan_picks(seed):
    rng = random.Random(seed)
    config = SchedulerConfig(ram_weight_multiplier=rng.choice((1.0, 2.0, -1.0, 0.0)),
                             pci_weight_multiplier=rng.choice((1.0, 0.5, -3.0, 0.0)))
    filters = build_filters(config, FakeClock(NOW))
    weighers = build_weighers(config)
    hosts = {f"id-{n}": random_host(rng, n) for n in range(150)}
    ranking = HostRanking(weighers, by_zone=True, by_pci=True, usable_only=True)
    ranking.update(dict(hosts))
    names = sorted(h.name for h in hosts.values())
    for step in range(300):
        request = random_request(rng, names)
        lost = frozenset(rng.sample(names, rng.choice((0, 0, 0, 3))))
        expected = full_scan(hosts.values(), request, filters, weighers, lost)
        assert ranked(ranking, request, filters, lost) == expected, (seed, step, request)
        size = rng.choice((2, 5))  # host_subset_size: the same best N, in the same order
        top = full_scan_top(hosts.values(), request, filters, weighers, lost, size)
        assert ranked_top(ranking, request, filters, lost, size) == top, (seed, step, size)
        assert top == "none passes" or top[:1] == ((expected,) if expected else ())
        # Claims, releases, hosts going down, disabled, re-enabled, gone and new.
        changes = {}
        for host_id in rng.sample(sorted(hosts), 3):
            host = hosts[host_id]
            what = rng.random()
            if what < 0.5:
                pools = random_pools(rng)
                host = replace(host, memory_mb_used=rng.choice((0, 2048, host.memory_mb)),
                               vcpus_used=rng.randint(0, 8), pools=pools,
                               pci_totals=pci_totals(pools))
            elif what < 0.7:
                host = replace(host, heartbeat_at=NOW.timestamp() - rng.choice((5, 500)))
            elif what < 0.85:
                host = replace(host, enabled=not host.enabled)
            elif what < 0.95:
                host = replace(host, forced_down=not host.forced_down)
            else:
                host = None
            if host is None:
                del hosts[host_id]
            else:
                hosts[host_id] = host
            changes[host_id] = host
        ranking.update(changes)


def test_a_host_that_is_claimed_down_or_disabled_leaves_the_top_and_comes_back():
    config = SchedulerConfig()
    filters, weighers = build_filters(config, FakeClock(NOW)), build_weighers(config)
    rng = random.Random(7)
    hosts = {}
    for n in range(20):
        pools = random_pools(rng) or (Pool(PoolKey("8086", "154c", DevType.VF, "physnet1", 0,
                                                   PciAddress(0, 5, 0, 0)), 4),)
        hosts[f"id-{n}"] = replace(random_host(rng, n), enabled=True, forced_down=False,
                                   heartbeat_at=NOW.timestamp(), memory_mb_used=0, vcpus_used=0,
                                   availability_zone="nova", pools=pools,
                                   pci_totals=pci_totals(pools))
    ranking = HostRanking(weighers, by_zone=True, by_pci=True, usable_only=True)
    ranking.update(dict(hosts))
    request = BuildRequest("s", "p", 1, 512)
    top = ranked(ranking, request, filters, frozenset())
    assert top == full_scan(hosts.values(), request, filters, weighers, frozenset())
    for change in ({"memory_mb_used": top.memory_mb}, {"enabled": False},
                   {"forced_down": True}, {"heartbeat_at": NOW.timestamp() - 3600}):
        ranking.update({top.id: replace(top, **change)})
        hosts[top.id] = replace(top, **change)
        now_best = ranked(ranking, request, filters, frozenset())
        assert now_best != top and now_best is not None
        assert now_best == full_scan(hosts.values(), request, filters, weighers, frozenset())
        ranking.update({top.id: top})  # released, back up, re-enabled
        hosts[top.id] = top
        assert ranked(ranking, request, filters, frozenset()) == top


def _counted(checks, seen):
    """The checks, noting each host they are asked about (the hosts a walk meets)."""
    def first(host):
        seen.append(host.name)
        return checks[0](host)
    return [first, *checks[1:]]


def test_hosts_silent_past_the_down_time_leave_the_walk_and_come_back_with_a_heartbeat():
    # 200 hosts; the 180 with the smallest names (best on every tie) went silent long ago.
    config = SchedulerConfig(host_subset_size=3)
    clock = FakeClock(NOW)
    filters, weighers = build_filters(config, clock), build_weighers(config)
    pools = (Pool(PoolKey("8086", "154c", DevType.VF, "physnet1", 0, PciAddress(0, 5, 0, 0)),
                  4),)
    hosts = {f"id-{n}": HostState(
        id=f"id-{n}", name=f"compute-{n:03d}", enabled=True, forced_down=False,
        availability_zone="nova", vcpus=8, vcpus_used=0, memory_mb=8192, memory_mb_used=0,
        disk_gb=100, disk_gb_used=0, capabilities=CAPS, pools=pools,
        pci_totals=pci_totals(pools), generation=1, numa_sockets=None,
        heartbeat_at=NOW.timestamp() - (600 if n < 180 else 5)) for n in range(200)}
    hosts["id-7"] = replace(hosts["id-7"], heartbeat_at=None)  # never heard from
    ranking = HostRanking(weighers, by_zone=True, by_pci=True, usable_only=True,
                          down_time=config.service_down_time)
    ranking.update(dict(hosts))
    request = BuildRequest("s", "p", 1, 512, pci_requests=(PciRequest(
        count=1, dev_type=DevType.VF, physnet="physnet1", port_id="port-0"),))

    def walk(lost=frozenset()):
        seen = []
        checks = [c for c in (f.prepare(request) for f in filters) if c is not None]
        pick = ranking.best(request, _counted(checks, seen), lost, 3,
                            clock.now().timestamp())
        expected = full_scan_top(hosts.values(), request, filters, weighers, lost, 3)
        assert pick.found and pick.hosts == expected
        return [h.name for h in pick.hosts], seen

    top, seen = walk()
    assert top == ["compute-180", "compute-181", "compute-182"]
    assert len(set(seen)) <= 10, seen  # not the 180 silent hosts in front of them
    # One silent host beats again: it is filed again and wins its tie on the name.
    hosts["id-3"] = replace(hosts["id-3"], heartbeat_at=clock.now().timestamp())
    ranking.update({"id-3": hosts["id-3"]})
    assert walk()[0] == ["compute-003", "compute-180", "compute-181"]
    # Time passes: the 20 that were up go silent too; compute-003 beat 56 s ago, still up.
    clock.advance(56)
    top, seen = walk(frozenset({"compute-003"}))
    assert top == [] and len(set(seen)) <= 10, seen
    assert walk()[0] == ["compute-003"]
    clock.advance(5)  # and now nobody is up: the bucket is empty, the caller scans all hosts
    checks = [c for c in (f.prepare(request) for f in filters) if c is not None]
    assert ranking.best(request, checks, frozenset(), 3, clock.now().timestamp()).found is False


@pytest.mark.parametrize("seed", range(2))
def test_the_ranking_keeps_picking_the_full_scans_hosts_while_the_clock_runs(seed):
    rng = random.Random(seed)
    config = SchedulerConfig()
    clock = FakeClock(NOW)
    filters, weighers = build_filters(config, clock), build_weighers(config)
    hosts = {f"id-{n}": random_host(rng, n) for n in range(120)}
    ranking = HostRanking(weighers, by_zone=True, by_pci=True, usable_only=True,
                          down_time=config.service_down_time)
    ranking.update(dict(hosts))
    names = sorted(h.name for h in hosts.values())
    for step in range(200):
        request = random_request(rng, names)
        lost = frozenset(rng.sample(names, rng.choice((0, 0, 3))))
        size = rng.choice((1, 2, 5))
        checks = [c for c in (f.prepare(request) for f in filters) if c is not None]
        pick = ranking.best(request, checks, lost, size, clock.now().timestamp())
        top = full_scan_top(hosts.values(), request, filters, weighers, lost, size)
        assert (pick.hosts if pick.found else "none passes") == top, (seed, step)
        clock.advance(rng.choice((0, 1, 7, 30)))
        changes = {}
        for host_id in rng.sample(sorted(hosts), 4):  # some hosts beat, some stay silent
            hosts[host_id] = changes[host_id] = replace(
                hosts[host_id], heartbeat_at=clock.now().timestamp() - rng.choice((0, 40)))
        ranking.update(changes)
