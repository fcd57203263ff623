"""Device pools: whitelisted PCI devices counted by (vendor, product, type, physnet, NUMA, PF),
and the fitting of PCI requests to them with nova's rules (nova_pci.md §2.1–§2.4)."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriovstack.errors import Invalid
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import DevType, PciDevice

__all__ = [
    "NumaPolicy",
    "NumaContext",
    "PoolKey",
    "Pool",
    "PciRequest",
    "Allocation",
    "Fit",
    "Shortfall",
    "build_pools",
    "filter_pools",
    "fit_requests",
    "PoolSet",
    "fit_prepared",
    "shortfall_of",
]


class NumaPolicy(enum.Enum):
    """How strictly a PCI device must share the guest's NUMA nodes (nova §2.3)."""

    REQUIRED = "required"
    LEGACY = "legacy"
    PREFERRED = "preferred"
    SOCKET = "socket"


@dataclass(frozen=True, slots=True)
class NumaContext:
    """The guest's NUMA nodes on the host, and the host's node→socket map (None: unknown)."""

    guest_nodes: frozenset[int]
    socket_of: Mapping[int, int] | None = None


@dataclass(frozen=True, slots=True)
class PoolKey:
    """What makes two devices interchangeable: all VFs of one PF share a key; a PF has its own."""

    vendor_id: str
    product_id: str
    dev_type: DevType
    physnet: str | None
    numa_node: int | None
    pf_address: PciAddress

    @classmethod
    def of(cls, device: PciDevice, physnet: str | None) -> "PoolKey":
        """The pool a whitelisted device joins (its physnet tag from the matching spec)."""
        pf = device.parent_addr if device.dev_type is DevType.VF and device.parent_addr \
            else device.address
        return cls(device.vendor_id, device.product_id, device.dev_type, physnet,
                   device.numa_node, pf)

    def __lt__(self, other: "PoolKey") -> bool:  # enums and None do not order by themselves
        return self._sort_key() < other._sort_key()

    def _sort_key(self) -> tuple[object, ...]:
        return (self.pf_address, self.dev_type.value, self.vendor_id, self.product_id,
                self.physnet or "", -1 if self.numa_node is None else self.numa_node)


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool key and how many of its devices are free."""

    key: PoolKey
    count: int


@dataclass(frozen=True, slots=True)
class PciRequest:
    """``count`` devices of ``dev_type`` (VF for vnic direct, PF for direct-physical).

    ``physnet`` is compared without regard to case; None asks for devices without a physnet
    (a tunnelled network), unless ``any_physnet`` (a flavor's PCI alias: nova matches its
    vendor, product and type whatever the device's physnet tag). ``vendor_id``/``product_id``
    None mean any. ``alias`` names the ``[pci] alias`` a flavor's request came from.
    """

    count: int = 1
    dev_type: DevType = DevType.VF
    physnet: str | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    port_id: str | None = None
    numa_policy: NumaPolicy = NumaPolicy.LEGACY
    any_physnet: bool = False
    alias: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise Invalid(f"a PCI request needs a count of 1 or more, not {self.count}",
                          field="count", value=self.count)

    def describe(self) -> str:
        """``VF on physnet1``, ``PF 15b3:1004 on physnet2``: for messages."""
        kind = self.dev_type.name
        ids = f" {self.vendor_id or '*'}:{self.product_id or '*'}" \
            if self.vendor_id or self.product_id else ""
        where = f"on {self.physnet}" if self.physnet else "without a physnet"
        if self.any_physnet:
            where = f"(alias {self.alias})" if self.alias else "on any physnet"
        return f"{kind}{ids} {where}"


@dataclass(frozen=True, slots=True)
class Allocation:
    """How many devices one request takes from one pool."""

    request: PciRequest
    key: PoolKey
    count: int


@dataclass(frozen=True, slots=True)
class Fit:
    """Every request fits: the allocations and the pools left afterwards."""

    allocations: tuple[Allocation, ...]
    remaining: tuple[Pool, ...]


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A request does not fit; ``reason`` is a plural verb phrase ("have no free VF on x")."""

    request: PciRequest
    reason: str


def build_pools(devices: Iterable[tuple[PciDevice, str | None]]) -> tuple[Pool, ...]:
    """Count free whitelisted devices (each with its physnet tag) into pools, sorted by key."""
    counts = Counter(PoolKey.of(device, physnet) for device, physnet in devices)
    return tuple(Pool(key, n) for key, n in sorted(counts.items()))


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").lower() == (b or "").lower() if a and b else a is None and b is None


def _spec_matches(key: PoolKey, request: PciRequest) -> bool:
    # nova §2.2 step 1 and 3: PF pools only for PF requests (and VF pools only for VF ones).
    return (key.dev_type is request.dev_type
            and (request.any_physnet or _same(key.physnet, request.physnet))
            and (request.vendor_id is None or key.vendor_id == request.vendor_id.lower())
            and (request.product_id is None or key.product_id == request.product_id.lower()))


def _total(pools: Sequence[Pool]) -> int:
    return sum(p.count for p in pools)


def _numa_filter(pools: list[Pool], request: PciRequest, numa: NumaContext | None) -> list[Pool]:
    """nova §2.3: keep the pools the request's NUMA policy allows, affine pools first."""
    if numa is None:  # the guest has no NUMA topology: the policy does not apply
        return pools
    affine = [p for p in pools if p.key.numa_node in numa.guest_nodes]
    policy = request.numa_policy
    if policy is NumaPolicy.REQUIRED or _total(affine) >= request.count:
        return affine if policy is not NumaPolicy.SOCKET or numa.socket_of is not None else []
    unknown = [p for p in pools if p.key.numa_node is None]
    if policy is NumaPolicy.LEGACY:
        return affine + unknown
    if policy is NumaPolicy.PREFERRED:
        others = [p for p in pools if p not in affine and p not in unknown]
        return affine + unknown + others
    if numa.socket_of is None:  # SOCKET without socket info: nothing qualifies
        return []
    sockets = {numa.socket_of.get(n) for n in numa.guest_nodes} - {None}
    return affine + [p for p in pools if p.key.numa_node is not None and p not in affine
                     and numa.socket_of.get(p.key.numa_node) in sockets]


def filter_pools(pools: Sequence[Pool], request: PciRequest,
                 numa: NumaContext | None = None) -> tuple[Pool, ...]:
    """The pools (with free devices) that may serve ``request``, in the order to take from."""
    matching = [p for p in pools if p.count > 0 and _spec_matches(p.key, request)]
    return tuple(_numa_filter(matching, request, numa))


def _shortfall_reason(pools: Sequence[Pool], request: PciRequest,
                      numa: NumaContext | None) -> str:
    """Why ``request`` does not fit, in words the NoValidHost message can group."""
    kind = request.dev_type.name
    free = [p for p in pools if p.count > 0 and p.key.dev_type is request.dev_type]
    matching = [p for p in free if _spec_matches(p.key, request)]
    if not matching:
        elsewhere = sorted({p.key.physnet or "no physnet" for p in free
                            if not _same(p.key.physnet, request.physnet)})
        if elsewhere and not request.any_physnet and \
                not any(_same(p.key.physnet, request.physnet) for p in free):
            return f"have {kind}s only on {', '.join(elsewhere)}"
        return f"have no free {request.describe()}"
    allowed = _numa_filter(matching, request, numa)
    if _total(allowed) < _total(matching) and _total(allowed) < request.count:
        nodes = ",".join(str(n) for n in sorted(numa.guest_nodes)) if numa else ""
        return (f"have too few free {request.describe()} on NUMA node {nodes} "
                f"({request.numa_policy.value} policy)")
    return f"have fewer than {request.count} free {request.describe()}"


class PoolSet:
    """A host's pools prepared once for fitting (``fit_prepared``): keys by position, the
    pools of each (type, lower-case physnet), each pool's PF/VF siblings (§2.4) and each
    key's place in key order. Built when a host state is made, reused by every decision."""

    __slots__ = ("pools", "keys", "counts", "by_spec", "by_type", "siblings", "key_rank",
                 "sorted_order", "numa_nodes", "_seen")

    def __init__(self, pools: Sequence[Pool]) -> None:
        merged: dict[PoolKey, int] = {p.key: p.count for p in pools}  # a repeated key: last
        self.pools = tuple(pools)
        self.keys = tuple(merged)
        self.counts = tuple(merged.values())
        by_spec: dict[tuple[DevType, str | None], list[int]] = {}
        by_type: dict[DevType, list[int]] = {}
        by_pf: dict[PciAddress, list[int]] = {}
        for i, key in enumerate(self.keys):
            physnet = None if key.physnet is None else key.physnet.lower()
            by_spec.setdefault((key.dev_type, physnet), []).append(i)
            by_type.setdefault(key.dev_type, []).append(i)
            by_pf.setdefault(key.pf_address, []).append(i)
        self.by_spec = {k: tuple(v) for k, v in by_spec.items()}
        self.by_type = {k: tuple(v) for k, v in by_type.items()}
        self.siblings = tuple(
            tuple(j for j in by_pf[key.pf_address] if self.keys[j].dev_type is not key.dev_type)
            for key in self.keys)
        self.sorted_order = tuple(sorted(range(len(self.keys)), key=lambda i: self.keys[i]))
        rank = [0] * len(self.keys)
        for position, i in enumerate(self.sorted_order):
            rank[i] = position
        self.key_rank = tuple(rank)
        self.numa_nodes = frozenset(k.numa_node for k in self.keys if k.numa_node is not None)
        # request id → (request, positions): one decision asks every host with the same
        # request objects; holding the request keeps its id from being reused.
        self._seen: dict[int, tuple[PciRequest, tuple[int, ...]]] = {}

    def candidates(self, request: PciRequest) -> tuple[int, ...]:
        """Positions of the pools whose key matches ``request`` (free or not), in order of
        position (``_spec_matches`` without the counts)."""
        seen = self._seen.get(id(request))
        if seen is not None and seen[0] is request:
            return seen[1]
        if len(self._seen) >= 16:
            self._seen.clear()
        found = self._match(request)
        self._seen[id(request)] = (request, found)
        return found

    def _match(self, request: PciRequest) -> tuple[int, ...]:
        if request.any_physnet:
            found = self.by_type.get(request.dev_type, ())
        elif request.physnet == "":  # an empty tag matches nothing (``_same``)
            return ()
        else:
            physnet = None if request.physnet is None else request.physnet.lower()
            found = self.by_spec.get((request.dev_type, physnet), ())
            if physnet == "":
                return ()
        vendor = request.vendor_id.lower() if request.vendor_id is not None else None
        product = request.product_id.lower() if request.product_id is not None else None
        if vendor is None and product is None:
            return found
        keys = self.keys
        return tuple(i for i in found if (vendor is None or keys[i].vendor_id == vendor)
                     and (product is None or keys[i].product_id == product))


def _numa_allowed(ps: PoolSet, matching: list[int], left: list[int], request: PciRequest,
                  numa: NumaContext | None) -> list[int]:
    """``_numa_filter`` on pool positions (one key per position, so membership is identity)."""
    if numa is None:
        return matching
    keys, guest = ps.keys, numa.guest_nodes
    affine = [i for i in matching if keys[i].numa_node in guest]
    policy = request.numa_policy
    if policy is NumaPolicy.REQUIRED or sum(left[i] for i in affine) >= request.count:
        return affine if policy is not NumaPolicy.SOCKET or numa.socket_of is not None else []
    unknown = [i for i in matching if keys[i].numa_node is None]
    if policy is NumaPolicy.LEGACY:
        return affine + unknown
    if policy is NumaPolicy.PREFERRED:
        return affine + unknown + [i for i in matching if keys[i].numa_node is not None
                                   and keys[i].numa_node not in guest]
    if numa.socket_of is None:
        return []
    sockets = {numa.socket_of.get(n) for n in guest} - {None}
    return affine + [i for i in matching if keys[i].numa_node is not None
                     and keys[i].numa_node not in guest
                     and numa.socket_of.get(keys[i].numa_node) in sockets]


def fit_prepared(ps: PoolSet, requests: Sequence[PciRequest],
                 numa: NumaContext | None = None) -> Fit | Shortfall:
    """``fit_requests`` on a prepared ``PoolSet``: the same allocations in the same order, or
    the same shortfall, without rebuilding pools per request."""
    allocations: list[Allocation] = []
    result = _run(ps, requests, numa, allocations)
    if isinstance(result, Shortfall):
        return result
    return Fit(tuple(allocations), tuple(Pool(ps.keys[i], result[i]) for i in ps.sorted_order))


def shortfall_of(ps: PoolSet, requests: Sequence[PciRequest],
                 numa: NumaContext | None = None) -> Shortfall | None:
    """What ``fit_prepared`` would say fails, or None when everything fits (no plan made)."""
    result = _run(ps, requests, numa, None)
    return result if isinstance(result, Shortfall) else None


def _run(ps: PoolSet, requests: Sequence[PciRequest], numa: NumaContext | None,
         allocations: list[Allocation] | None) -> list[int] | Shortfall:
    """Fit the requests in turn; the free counts left, or the first shortfall. Allocations
    are appended to ``allocations`` unless it is None."""
    keys, siblings, key_rank = ps.keys, ps.siblings, ps.key_rank
    left = list(ps.counts)
    for request in requests:
        matching = [i for i in ps.candidates(request) if left[i] > 0]
        allowed = _numa_allowed(ps, matching, left, request, numa)
        if len(allowed) == 1:  # the common case: one pool, and it holds enough or nothing does
            i = allowed[0]
            if left[i] < request.count:
                return _shortfall(ps, left, request, numa)
            left[i] -= request.count
            for j in siblings[i]:
                left[j] = 0
            if allocations is not None:
                allocations.append(Allocation(request, keys[i], request.count))
            continue
        if sum(left[i] for i in allowed) < request.count:
            return _shortfall(ps, left, request, numa)
        if len(allowed) > 1:  # ``_order``: NUMA preference, PFs already split, fuller pools
            whole_pf = {keys[i].pf_address for i, n in enumerate(left)
                        if n > 0 and keys[i].dev_type is DevType.PF}
            rank = {i: r for r, i in enumerate(allowed)} if numa else {}
            allowed = sorted(allowed, key=lambda i: (rank.get(i, 0),
                                                     keys[i].pf_address in whole_pf,
                                                     -left[i], key_rank[i]))
        wanted, before = request.count, left[:]
        for i in allowed:
            n = min(wanted, left[i])
            if n <= 0:
                continue
            left[i] -= n
            for j in siblings[i]:
                left[j] = 0
            if allocations is not None:
                allocations.append(Allocation(request, keys[i], n))
            wanted -= n
            if wanted == 0:
                break
        if wanted:  # a PF/VF exclusion emptied pools the filter counted
            return _shortfall(ps, before, request, numa)
    return left


def _shortfall(ps: PoolSet, left: list[int], request: PciRequest,
               numa: NumaContext | None) -> Shortfall:
    current = [Pool(k, n) for k, n in zip(ps.keys, left)]
    return Shortfall(request, _shortfall_reason(current, request, numa))


def fit_requests(pools: Sequence[Pool], requests: Sequence[PciRequest],
                 numa: NumaContext | None = None) -> Fit | Shortfall:
    """Fit the requests one after another against one copy of the pools (nova bug 1986838).

    Returns the allocations and remaining pools, or the first request that does not fit.
    """
    return fit_prepared(PoolSet(pools), requests, numa)
