"""``fit_requests`` on a prepared PoolSet gives what the straightforward fit (the one it
replaced, kept here as the oracle: new pools per request, keys hashed) gives: the same
allocations in the same order, the same remaining pools, the same shortfall text."""

from __future__ import annotations

import random

import pytest

from sriovstack.pci import (DevType, Fit, NumaContext, NumaPolicy, PciAddress, PciRequest, Pool,
                            PoolKey, PoolSet, Shortfall, fit_prepared, shortfall_of)
from sriovstack.pci.pools import Allocation, _shortfall_reason, filter_pools


def oracle_fit(pools, requests, numa=None):
    left = {p.key: p.count for p in pools}
    allocations = []
    for request in requests:
        current = [Pool(k, n) for k, n in left.items()]
        candidates = filter_pools(current, request, numa)
        if sum(p.count for p in candidates) < request.count:
            return Shortfall(request, _shortfall_reason(current, request, numa))
        whole_pf = {k.pf_address for k, n in left.items() if k.dev_type is DevType.PF and n > 0}
        rank = {p.key: i for i, p in enumerate(candidates)} if numa else {}
        ordered = sorted(candidates, key=lambda p: (rank.get(p.key, 0),
                                                    p.key.pf_address in whole_pf, -p.count, p.key))
        wanted = request.count
        for pool in ordered:
            n = min(wanted, left[pool.key])
            if n <= 0:
                continue
            left[pool.key] -= n
            for other in left:
                if other.pf_address == pool.key.pf_address and \
                        other.dev_type is not pool.key.dev_type:
                    left[other] = 0
            allocations.append(Allocation(request, pool.key, n))
            wanted -= n
            if wanted == 0:
                break
        if wanted:
            return Shortfall(request, _shortfall_reason(current, request, numa))
    return Fit(tuple(allocations), tuple(Pool(k, n) for k, n in sorted(left.items())))


PHYSNETS = ("physnet1", "PHYSNET1", "physnet2", None, "")


def random_pools(rng):
    pools = []
    for p in range(rng.randint(0, 4)):
        pf = PciAddress(0, 9 - p, 0, 0)  # not in key order: the remaining pools are sorted
        physnet, numa = rng.choice(PHYSNETS), rng.choice((0, 1, 2, None))
        vendor = rng.choice(("8086", "15b3"))
        pools.append(Pool(PoolKey(vendor, "1572", DevType.PF, physnet, numa, pf),
                          rng.randint(0, 1)))
        for product in rng.sample(("154c", "1016"), rng.randint(1, 2)):
            pools.append(Pool(PoolKey(vendor, product, DevType.VF, physnet, numa, pf),
                              rng.randint(0, 5)))
    return pools


def random_requests(rng):
    return tuple(PciRequest(
        count=rng.choice((1, 1, 2, 4)), dev_type=rng.choice((DevType.VF, DevType.VF, DevType.PF)),
        physnet=rng.choice(PHYSNETS), vendor_id=rng.choice((None, "8086", "15B3")),
        product_id=rng.choice((None, None, "154C")), numa_policy=rng.choice(list(NumaPolicy)),
        any_physnet=rng.random() < 0.15) for _ in range(rng.randint(1, 3)))


@pytest.mark.parametrize("seed", range(2))
def test_the_prepared_fit_gives_what_the_straightforward_fit_gives(seed):
    rng = random.Random(seed)
    for _ in range(400):
        pools = random_pools(rng)
        prepared = PoolSet(pools)
        for _ in range(3):  # one PoolSet serves many requests (its candidates are cached)
            requests = random_requests(rng)
            numa = rng.choice((None, NumaContext(frozenset({0})),
                               NumaContext(frozenset({1}), {0: 0, 1: 0, 2: 1}),
                               NumaContext(frozenset({0, 2}), {0: 0, 1: 1, 2: 1})))
            expected = oracle_fit(pools, requests, numa)
            assert fit_prepared(prepared, requests, numa) == expected
            short = shortfall_of(prepared, requests, numa)
            assert short == (expected if isinstance(expected, Shortfall) else None)
