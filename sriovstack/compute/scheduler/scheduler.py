"""The FilterScheduler: filters in configured order, weighers, then an atomic claim on the best
host (or, with ``host_subset_size`` N > 1, one of the best N at random); a claim lost to a
concurrent build moves on to the next host."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sriovstack.clock import Clock, SystemClock

from sriovstack.compute.claims import Claims
from sriovstack.compute.scheduler.filters import HostFilter, build_filters, fit_on_host
from sriovstack.compute.scheduler.host_state import HostState, pci_totals
from sriovstack.compute.scheduler.index import HostIndex
from sriovstack.compute.scheduler.model import BuildRequest, Claim, SchedulerConfig
from sriovstack.compute.scheduler.ranking import HostRanking
from sriovstack.compute.scheduler.weighers import (best_host, build_weighers, order_hosts,
                                                   top_hosts)
from sriovstack.db import Database
from sriovstack.errors import ClaimLost, NoValidHost
from sriovstack.metrics import Decision, NullRecorder, Recorder
from sriovstack.pci import Allocation, Fit, PciAlias, Pool

__all__ = ["Scheduler", "Rejections", "Placement", "filter_hosts"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a dry run would put one build (``host``), or why nowhere (``reason``)."""

    server_id: str
    host: str | None
    reason: str | None
    allocations: tuple[Allocation, ...] = ()


@dataclass(frozen=True, slots=True)
class Rejections:
    """Which filter removed how many hosts and why, in filter order."""

    total: int
    by_filter: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]

    def message(self) -> str:
        """``No valid host among 15 hosts: PciPassthroughFilter: 12 hosts have ...; 3 ...``."""
        if self.total == 0:
            return "No valid host: no compute hosts are registered"
        parts = []
        for name, reasons in self.by_filter:
            said = "; ".join(_count_phrase(n, reason) for reason, n in reasons)
            parts.append(f"{name}: {said}")
        return f"No valid host among {_hosts(self.total)}. " + ". ".join(parts)


def _hosts(n: int) -> str:
    return f"{n} host" if n == 1 else f"{n} hosts"


_SINGULAR = {"have": "has", "are": "is", "were": "was", "do": "does", "report": "reports",
             "cannot": "cannot"}


def _count_phrase(n: int, reason: str) -> str:
    if n != 1:
        return f"{n} hosts {reason}"
    verb, _, rest = reason.partition(" ")
    return f"1 host {_SINGULAR.get(verb, verb)} {rest}"


def filter_hosts(hosts: Sequence[HostState], request: BuildRequest,
                 filters: Sequence[HostFilter]) -> tuple[list[HostState], Rejections]:
    """Run the filters in order; the hosts left and why the others were removed. Filters
    that cannot remove a host for this request are skipped."""
    remaining = list(hosts)
    by_filter = []
    for f in filters:
        check = f.prepare(request)
        if check is None:
            continue
        kept, reasons = [], Counter[str]()
        for host in remaining:
            reason = check(host)
            if reason is None:
                kept.append(host)
            else:
                reasons[reason] += 1
        if reasons:
            by_filter.append((f.name, tuple(reasons.most_common())))
        remaining = kept
        if not remaining:
            break
    return remaining, Rejections(len(hosts), tuple(by_filter))


class Scheduler:
    """Places builds on hosts and claims what they need; see ``schedule_and_claim``."""

    def __init__(self, db: Database, config: SchedulerConfig,
                 clock: Clock | None = None, recorder: Recorder | None = None,
                 rng: random.Random | None = None) -> None:
        # An unknown filter name stops the service here, at start.
        self._recorder = recorder or NullRecorder()
        self._clock = clock or SystemClock()
        self._filters = build_filters(config, self._clock)
        self._weighers = build_weighers(config)
        self._config = config
        self._rng = rng or random.Random()  # host_subset_size's choice
        names = {f.name for f in self._filters}
        self._ranking = HostRanking(self._weighers, by_zone="AvailabilityZoneFilter" in names,
                                    by_pci="PciPassthroughFilter" in names,
                                    usable_only="ComputeFilter" in names,
                                    down_time=config.service_down_time
                                    if "ComputeFilter" in names else None)
        self._index = HostIndex(db, self._ranking.update)
        self._claims = Claims(db, config.ram_allocation_ratio, config.cpu_allocation_ratio)

    @property
    def pci_aliases(self) -> dict[str, PciAlias]:
        """``[pci] alias`` by name (what flavors' ``pci_passthrough:alias`` may name)."""
        return dict(self._config.pci_aliases)

    @property
    def allow_resize_to_same_host(self) -> bool:
        """nova.conf [DEFAULT] allow_resize_to_same_host."""
        return self._config.allow_resize_to_same_host

    @property
    def resize_confirm_window(self) -> int:
        """nova.conf [DEFAULT] resize_confirm_window, seconds (0: moves wait for the user)."""
        return self._config.resize_confirm_window

    @property
    def claims(self) -> Claims:
        """The claims store (allocate, held_by, release)."""
        return self._claims

    def refresh(self) -> int:
        """Read what changed since the last read into the host index; how many hosts it
        holds.  The API's sweep calls it, so a worker's index follows the hosts as they
        register and a first decision does not pay for loading all of them."""
        return len(self._index.snapshot())

    def select_hosts(self, request: BuildRequest) -> list[HostState]:
        """The hosts that pass every filter, best first; raises NoValidHost if none."""
        return order_hosts(self._passed(request), request, self._weighers)

    def choose(self, request: BuildRequest) -> HostState:
        """A host ``schedule_and_claim`` could try first (the best, or one of the best
        ``host_subset_size``; nothing is claimed); raises NoValidHost if none passes."""
        host = self._pick(request, frozenset(), time.monotonic())
        assert host is not None  # nothing is lost when nothing was tried
        return host

    def _passed(self, request: BuildRequest) -> list[HostState]:
        passed, rejections = filter_hosts(self._candidates(request), request, self._filters)
        if not passed:
            raise NoValidHost(rejections.message(), server_id=request.server_id)
        return passed

    def _candidates(self, request: BuildRequest,
                    hosts: Sequence[HostState] | None = None) -> list[HostState]:
        """The hosts a request may go to before any filter (a move's source left out, or
        only the host it asks for)."""
        return [h for h in (self._index.snapshot() if hosts is None else hosts)
                if h.name not in request.ignore_hosts and
                (request.requested_host is None or h.name == request.requested_host)]

    def _pick(self, request: BuildRequest, lost: frozenset[str],
              started: float, refresh: bool = True) -> HostState | None:
        """The best host for ``request`` other than ``lost``, or with ``host_subset_size``
        N > 1 one of the best N at random (None: only lost ones pass).

        The ranking visits a few hosts best-first; only when none of its bucket passes (or
        the request names its host) are all hosts filtered, which also gives NoValidHost its
        exact per-filter counts."""
        hosts = self._index.snapshot(refresh)  # refreshes the ranking too
        if request.requested_host is None:
            now = self._clock.now().timestamp()  # before the ComputeFilter reads its clock
            checks = [c for c in (f.prepare(request) for f in self._filters) if c is not None]
            pick = self._ranking.best(request, checks, lost, self._config.host_subset_size,
                                      now)
            if pick.found:
                return self._one_of(pick.hosts)
        passed, rejections = filter_hosts(self._candidates(request, hosts), request,
                                          self._filters)
        if not passed:
            self._recorder.rejected_by(name for name, _ in rejections.by_filter)
            self._recorder.scheduled(Decision.NO_VALID_HOST, time.monotonic() - started)
            raise NoValidHost(rejections.message(), server_id=request.server_id)
        return self._one_of(top_hosts(passed, request, self._weighers, lost,
                                      self._config.host_subset_size))

    def _one_of(self, hosts: Sequence[HostState]) -> HostState | None:
        if len(hosts) <= 1:
            return hosts[0] if hosts else None
        return self._rng.choice(hosts)

    def schedule_and_claim(self, request: BuildRequest, refresh: bool = True) -> Claim:
        """Pick a host and claim the request's resources and devices there, atomically.

        Raises NoValidHost (message: which filter removed how many hosts and why) when no
        host fits, or when ``max_attempts`` claims in a row were lost to concurrent builds.
        Each decision is recorded with its outcome and duration.  With ``refresh`` False the
        index is not read first (the later builds of a batch: the index already holds the
        batch's own claims, and a claim on a stale state is lost and retried, never wrong).
        """
        started = time.monotonic()
        lost: list[str] = []
        for _ in range(self._config.max_attempts):
            host = self._pick(request, frozenset(lost), started, refresh)
            if host is None:
                break
            try:
                allocations = self._plan(host, request)
                claim = self._claims.claim(host.id, host.name, request, allocations)
            except ClaimLost:
                lost.append(host.name)
                self._index.forget(host.id)
                continue
            self._index.adjust(host.id, lambda state: _consume(state, request, allocations))
            self._recorder.scheduled(Decision.PLACED, time.monotonic() - started)
            return claim
        self._recorder.scheduled(Decision.CLAIMS_LOST, time.monotonic() - started)
        raise NoValidHost(f"No valid host: claims on {', '.join(lost) or 'every host'} were lost "
                          f"to concurrent builds ({len(lost)} attempts)",
                          server_id=request.server_id)

    def dry_run(self, requests: Sequence[BuildRequest],
                leaving: frozenset[str] = frozenset()) -> tuple[Placement, ...]:
        """Place each request in turn as ``schedule_and_claim`` would, on hosts other than
        ``leaving``, claiming nothing: each placement takes its resources and VFs from this
        run's copy of the host states, so two requests never count on the same last VF."""
        hosts = {h.id: h for h in self._index.snapshot() if h.name not in leaving}
        out = []
        for request in requests:
            passed, rejections = filter_hosts(list(hosts.values()), request, self._filters)
            host = best_host(passed, request, self._weighers) if passed else None
            if host is None:
                out.append(Placement(request.server_id, None, rejections.message()))
                continue
            try:
                allocations = self._plan(host, request)
            except ClaimLost as exc:
                out.append(Placement(request.server_id, None, exc.message))
                continue
            hosts[host.id] = _consume(host, request, allocations)
            out.append(Placement(request.server_id, host.name, None, allocations))
        return tuple(out)

    def release(self, server_id: str) -> bool:
        """Free every device and host resource the server holds (idempotent)."""
        return self._claims.release(server_id)

    def _plan(self, host: HostState, request: BuildRequest) -> tuple[Allocation, ...]:
        fit = fit_on_host(host, request)
        if not isinstance(fit, Fit):  # the filter passed it on the same state; be safe
            raise ClaimLost(f"host {host.name} {fit.reason}", host=host.name)
        return fit.allocations


def _consume(host: HostState, request: BuildRequest,
             allocations: tuple[Allocation, ...]) -> HostState:
    """``host`` after ``request`` took its resources and ``allocations`` (a dry run's copy)."""
    taken: dict[object, int] = {}
    for a in allocations:
        taken[a.key] = taken.get(a.key, 0) + a.count
    pools = tuple(Pool(p.key, p.count - taken.get(p.key, 0)) for p in host.pools)
    return replace(host, vcpus_used=host.vcpus_used + request.vcpus,
                   memory_mb_used=host.memory_mb_used + request.memory_mb,
                   disk_gb_used=host.disk_gb_used + request.disk_gb,
                   pools=pools, pci_totals=pci_totals(pools))
