"""Host weighers: RAM (spread by free RAM) and PCI (keep PCI hosts for PCI requests).

Each weigher gives a raw value per host; like nova, raw values are normalised to 0..1 over
the candidate hosts, multiplied by the weigher's multiplier and summed. Highest wins.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Protocol

from sriovstack.compute.scheduler.host_state import HostState
from sriovstack.compute.scheduler.model import BuildRequest, SchedulerConfig

__all__ = ["HostWeigher", "RamWeigher", "PciWeigher", "build_weighers", "order_hosts",
           "best_host", "top_hosts", "weight"]


class HostWeigher(Protocol):
    """One weigher: a raw weight per host for this request (bigger is better).

    The raw weight is ``direction(request) * axis(host)``: the ranking keeps hosts sorted by
    ``axis`` once, and walks that order forwards or backwards per request."""

    multiplier: float

    def axis(self, host: HostState) -> float: ...

    def direction(self, request: BuildRequest) -> int: ...

    def raw(self, host: HostState, request: BuildRequest) -> float: ...


class RamWeigher:
    """More free RAM is better (spreads servers), as nova's RAMWeigher."""

    def __init__(self, multiplier: float, ratio: float) -> None:
        self.multiplier = multiplier
        self._ratio = ratio

    def axis(self, host: HostState) -> float:
        return host.free_ram_mb(self._ratio)

    def direction(self, request: BuildRequest) -> int:
        return 1

    def raw(self, host: HostState, request: BuildRequest) -> float:
        return self.direction(request) * self.axis(host)


class PciWeigher:
    """For PCI requests prefer hosts with more free devices (headroom for the next claim);
    for requests without PCI prefer hosts with fewer, so PCI hosts stay free for PCI work."""

    def __init__(self, multiplier: float) -> None:
        self.multiplier = multiplier

    def axis(self, host: HostState) -> float:
        return float(host.free_pci)

    def direction(self, request: BuildRequest) -> int:
        return 1 if request.pci_requests else -1

    def raw(self, host: HostState, request: BuildRequest) -> float:
        return self.direction(request) * self.axis(host)


def build_weighers(config: SchedulerConfig) -> tuple[HostWeigher, ...]:
    """The RAM and PCI weighers with the configured multipliers."""
    return (RamWeigher(config.ram_weight_multiplier, config.ram_allocation_ratio),
            PciWeigher(config.pci_weight_multiplier))


def weight(raw: float, low: float, high: float, multiplier: float) -> float:
    """One weigher's share of a host's weight: ``raw`` normalised over [low, high] (0 when
    every candidate has the same raw value) times the multiplier."""
    return multiplier * ((raw - low) / (high - low) if high != low else 0.0)


def _totals(hosts: Sequence[HostState], request: BuildRequest,
            weighers: Sequence[HostWeigher]) -> list[float]:
    totals = [0.0] * len(hosts)
    for weigher in weighers:
        raw = [weigher.raw(h, request) for h in hosts]
        low, high = min(raw), max(raw)
        for i, value in enumerate(raw):
            totals[i] += weight(value, low, high, weigher.multiplier)
    return totals


def order_hosts(hosts: Sequence[HostState], request: BuildRequest,
                weighers: Sequence[HostWeigher]) -> list[HostState]:
    """``hosts`` best first; ties keep name order so decisions are reproducible."""
    if not hosts:
        return []
    totals = _totals(hosts, request, weighers)
    ranked = sorted(range(len(hosts)), key=lambda i: (-totals[i], hosts[i].name))
    return [hosts[i] for i in ranked]


def best_host(hosts: Sequence[HostState], request: BuildRequest,
              weighers: Sequence[HostWeigher],
              skip: frozenset[str] = frozenset()) -> HostState | None:
    """The first host of ``order_hosts(hosts, ...)`` whose name is not in ``skip`` (weights
    are normalised over all ``hosts``), without sorting them all; None if none is left."""
    totals = _totals(hosts, request, weighers) if hosts else []
    ranked = (i for i in range(len(hosts)) if hosts[i].name not in skip)
    best = min(ranked, key=lambda i: (-totals[i], hosts[i].name), default=None)
    return None if best is None else hosts[best]


def top_hosts(hosts: Sequence[HostState], request: BuildRequest,
              weighers: Sequence[HostWeigher], skip: frozenset[str] = frozenset(),
              size: int = 1) -> tuple[HostState, ...]:
    """The first ``size`` hosts of ``order_hosts(hosts, ...)`` whose names are not in
    ``skip`` (weights normalised over all ``hosts``)."""
    if size <= 1:
        best = best_host(hosts, request, weighers, skip)
        return () if best is None else (best,)
    totals = _totals(hosts, request, weighers) if hosts else []
    ranked = (i for i in range(len(hosts)) if hosts[i].name not in skip)
    return tuple(hosts[i] for i in heapq.nsmallest(
        size, ranked, key=lambda i: (-totals[i], hosts[i].name)))
