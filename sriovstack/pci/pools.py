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


def _take(pools: dict[PoolKey, int], key: PoolKey, n: int) -> None:
    """Take ``n`` from ``key``; a taken VF makes its PF unclaimable and a PF its VFs (§2.4)."""
    pools[key] -= n
    for other in pools:
        if other.pf_address == key.pf_address and other.dev_type is not key.dev_type:
            pools[other] = 0


def _order(candidates: tuple[Pool, ...], pools: dict[PoolKey, int],
           numa: NumaContext | None) -> list[Pool]:
    # Pack VFs onto PFs that are already unclaimable, so whole PFs stay free for PF requests;
    # NUMA preference (the filter's order) comes first, then fuller pools.
    whole_pf = {k.pf_address for k, n in pools.items() if k.dev_type is DevType.PF and n > 0}
    rank = {p.key: i for i, p in enumerate(candidates)} if numa else {}
    return sorted(candidates, key=lambda p: (rank.get(p.key, 0),
                                             p.key.pf_address in whole_pf, -p.count, p.key))


def fit_requests(pools: Sequence[Pool], requests: Sequence[PciRequest],
                 numa: NumaContext | None = None) -> Fit | Shortfall:
    """Fit the requests one after another against one copy of the pools (nova bug 1986838).

    Returns the allocations and remaining pools, or the first request that does not fit.
    """
    left: dict[PoolKey, int] = {p.key: p.count for p in pools}
    allocations: list[Allocation] = []
    for request in requests:
        current = [Pool(k, n) for k, n in left.items()]
        candidates = filter_pools(current, request, numa)
        if _total(candidates) < request.count:
            return Shortfall(request, _shortfall_reason(current, request, numa))
        wanted = request.count
        for pool in _order(candidates, left, numa):
            n = min(wanted, left[pool.key])
            if n <= 0:
                continue
            _take(left, pool.key, n)
            allocations.append(Allocation(request, pool.key, n))
            wanted -= n
            if wanted == 0:
                break
        if wanted:  # a PF/VF exclusion emptied pools the filter counted
            return Shortfall(request, _shortfall_reason(current, request, numa))
    remaining = tuple(Pool(k, n) for k, n in sorted(left.items()))
    return Fit(tuple(allocations), remaining)
