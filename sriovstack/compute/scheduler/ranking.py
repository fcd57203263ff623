"""Hosts filed by what the filters ask and sorted by what the weighers weigh, so a decision
visits a few candidates best-first instead of filtering and weighing every host.

Each host is filed in buckets: (availability zone or any, free (type, physnet) or any). In
each bucket the hosts are kept sorted by name and by every weigher's axis (free RAM, free
devices), both ways. A decision takes the request's bucket and

1. finds the normalisation bounds (the least and greatest axis value among the hosts that
   pass every filter) by walking each axis from both ends to the first host that passes;
2. walks the axes of the weighers that matter, best first, in turns (Fagin's threshold
   algorithm): every host met is filtered and weighed exactly as the full scan does it, and
   the walk stops once the best host met outweighs what any host not met yet could weigh
   (ties go to the smaller name, as in ``best_host``).

The walk may collect the best N hosts instead of one (nova's ``[filter_scheduler]
host_subset_size``: the scheduler then picks one of them at random, so concurrent decisions
spread); it stops once the N-th best host met outweighs any host not met yet.

The result is the hosts ``top_hosts`` would list from the full scan. Hosts that cannot pass
(disabled, forced down, another zone, no free device of the asked type and physnet) are not
in the bucket; the filters still run on every host met. Nor are hosts silent for longer than
the ComputeFilter's ``service_down_time`` at the decision's time: they leave the buckets as
their heartbeat ages (a heap of heartbeats, oldest first) and come back with the next one, so
a decision never walks past the hosts that are down (a whole rack, or hosts registered long
ago and never heard from since). When no host of the bucket passes,
the caller runs the full scan, which also says exactly why (the NoValidHost message).

Weights are floats; a host that weighs strictly less than another on one axis and the same
on the others is assumed to weigh less in total (true unless a multiplier is so small that
its share vanishes in rounding).
"""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from heapq import heapify, heappop, heappush
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriovstack.compute.scheduler.host_state import HostState, pci_totals
from sriovstack.compute.scheduler.model import BuildRequest
from sriovstack.compute.scheduler.weighers import HostWeigher, weight
from sriovstack.pci import DevType

__all__ = ["HostRanking", "Pick"]

HostCheck = Callable[[HostState], "str | None"]
PciKey = tuple[DevType, "str | None"]
BucketKey = tuple["str | None", "PciKey | None"]


@dataclass(frozen=True, slots=True)
class Pick:
    """The best hosts, best first (empty: every host that passes was already lost to a
    concurrent claim); ``found`` is False when no host of the bucket passes (the caller
    scans them all)."""

    hosts: tuple[HostState, ...]
    found: bool

    @property
    def host(self) -> HostState | None:
        """The best host (None when ``hosts`` is empty)."""
        return self.hosts[0] if self.hosts else None


_NOTHING = Pick((), False)
_NEVER = float("-inf")  # the heartbeat of a host that never sent one


@dataclass(frozen=True, slots=True)
class _Entry:
    """Where one host is filed: its name, axis values and buckets."""

    name: str
    axes: tuple[float, ...]
    buckets: tuple[BucketKey, ...]


class _Bucket:
    """Hosts of one bucket: (name, id), and per axis (value, name, id) / (-value, name, id)."""

    __slots__ = ("by_name", "ascending", "descending")

    def __init__(self, axes: int) -> None:
        self.by_name: list[tuple[str, str]] = []
        self.ascending: list[list[tuple[float, str, str]]] = [[] for _ in range(axes)]
        self.descending: list[list[tuple[float, str, str]]] = [[] for _ in range(axes)]

    def lists(self) -> Iterable[list]:  # type: ignore[type-arg]
        yield self.by_name
        yield from self.ascending
        yield from self.descending


class HostRanking:
    """The buckets, kept current by ``update`` (the host index calls it on every change)."""

    def __init__(self, weighers: Sequence[HostWeigher], *, by_zone: bool, by_pci: bool,
                 usable_only: bool, down_time: float | None = None) -> None:
        # by_zone/by_pci/usable_only: whether the AvailabilityZone, PciPassthrough and
        # Compute filters run (a bucket may only leave out hosts a filter would remove);
        # down_time: the ComputeFilter's service_down_time (None: silent hosts stay filed).
        self._weighers = tuple(weighers)
        self._by_zone, self._by_pci, self._usable_only = by_zone, by_pci, usable_only
        self._down_time = down_time
        self._lock = threading.Lock()
        self._states: dict[str, HostState] = {}
        self._entries: dict[str, _Entry] = {}  # the hosts filed in buckets
        self._buckets: dict[BucketKey, _Bucket] = {}
        # (heartbeat, host id) of filed hosts, oldest first; an item whose heartbeat is not
        # the host's any more is skipped when it comes out.
        self._beats: list[tuple[float, str]] = []

    def update(self, changes: Mapping[str, HostState | None]) -> None:
        """New states (None: the host is gone); refiles only hosts whose entry changed."""
        with self._lock:
            if len(changes) > 64 and len(changes) * 4 > len(self._states):
                self._rebuild(changes)
                return
            for host_id, state in changes.items():
                old = self._entries.pop(host_id, None)
                new = self._entry(state) if state is not None else None
                before = self._states.get(host_id)
                if state is None:
                    self._states.pop(host_id, None)
                else:
                    self._states[host_id] = state
                if state is not None and new is not None:
                    self._entries[host_id] = new
                    if old is None or before is None or before.heartbeat_at != state.heartbeat_at:
                        self._watch(host_id, state)  # filed again, or a new heartbeat
                if old == new:
                    continue
                if old is not None and new is not None and (old.name, old.buckets) == \
                        (new.name, new.buckets):  # a claim or a report: only axes moved
                    self._move(host_id, old, new)
                    continue
                if old is not None:
                    self._unfile(host_id, old)
                if new is not None:
                    self._file(host_id, new)

    def best(self, request: BuildRequest, checks: Sequence[HostCheck],
             lost: frozenset[str], size: int = 1, now: float | None = None) -> Pick:
        """The ``size`` hosts ``top_hosts`` would list among the hosts passing ``checks``
        (the request's prepared filters), leaving out ``lost``; see the module docstring.
        ``now`` (epoch seconds, read no later than the ComputeFilter's own clock reading)
        leaves out the hosts silent for longer than ``down_time`` by then."""
        with self._lock:
            if now is not None and self._down_time is not None:
                self._silence(now, self._down_time)
            bucket = self._buckets.get(self._bucket_key(request))
            if bucket is None or not bucket.by_name:
                return _NOTHING
            return _Walk(self._states, self._weighers, request, checks, lost,
                         max(1, size)).run(bucket)

    def _watch(self, host_id: str, state: HostState) -> None:
        if self._down_time is None:
            return
        heappush(self._beats, (_heartbeat(state), host_id))
        if len(self._beats) > 2 * len(self._entries) + 64:  # heartbeats without decisions
            self._beats = [(_heartbeat(self._states[i]), i) for i in self._entries]
            heapify(self._beats)

    def _silence(self, now: float, down_time: float) -> None:
        """Unfile the hosts silent for longer than ``down_time`` at ``now`` (the
        ComputeFilter's test, so only hosts it would remove leave)."""
        beats = self._beats
        while beats and now - beats[0][0] > down_time:
            heartbeat, host_id = heappop(beats)
            state, entry = self._states.get(host_id), self._entries.get(host_id)
            if state is None or entry is None or heartbeat != _heartbeat(state):
                continue  # gone, already unfiled, or it beat since
            del self._entries[host_id]
            self._unfile(host_id, entry)

    def _bucket_key(self, request: BuildRequest) -> BucketKey:
        zone = request.availability_zone if self._by_zone else None
        if self._by_pci:
            for r in request.pci_requests:
                if not r.any_physnet and r.physnet != "":
                    return zone, (r.dev_type, r.physnet.lower() if r.physnet else None)
        return zone, None

    def _entry(self, state: HostState) -> _Entry | None:
        if self._usable_only and (not state.enabled or state.forced_down):
            return None
        zones: tuple[str | None, ...] = (None, state.availability_zone) if self._by_zone \
            else (None,)
        keys: list[PciKey | None] = [None]
        if self._by_pci:
            totals = state.pci_totals if state.pci_totals is not None \
                else pci_totals(state.pools)
            keys += sorted((k for k, n in totals.items() if n > 0),
                           key=lambda k: (k[0].value, k[1] or ""))
        buckets = tuple(dict.fromkeys((z, k) for z in zones for k in keys))
        return _Entry(state.name, tuple(w.axis(state) for w in self._weighers), buckets)

    def _bucket(self, key: BucketKey) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(len(self._weighers))
        return bucket

    def _file(self, host_id: str, entry: _Entry) -> None:
        for key in entry.buckets:
            bucket = self._bucket(key)
            insort(bucket.by_name, (entry.name, host_id))
            for i, value in enumerate(entry.axes):
                insort(bucket.ascending[i], (value, entry.name, host_id))
                insort(bucket.descending[i], (-value, entry.name, host_id))

    def _unfile(self, host_id: str, entry: _Entry) -> None:
        for key in entry.buckets:
            bucket = self._buckets[key]
            _remove(bucket.by_name, (entry.name, host_id))
            for i, value in enumerate(entry.axes):
                _remove(bucket.ascending[i], (value, entry.name, host_id))
                _remove(bucket.descending[i], (-value, entry.name, host_id))

    def _move(self, host_id: str, old: _Entry, new: _Entry) -> None:
        """Refile a host that stays in the same buckets under the same name in the axis
        lists whose value changed only (a claim moves one or two of its axes)."""
        name = new.name
        for i, (before, after) in enumerate(zip(old.axes, new.axes)):
            if before == after:
                continue
            for key in new.buckets:
                bucket = self._buckets[key]
                _remove(bucket.ascending[i], (before, name, host_id))
                insort(bucket.ascending[i], (after, name, host_id))
                _remove(bucket.descending[i], (-before, name, host_id))
                insort(bucket.descending[i], (-after, name, host_id))

    def _rebuild(self, changes: Mapping[str, HostState | None]) -> None:
        """File every host afresh (the first load, or most hosts changed at once)."""
        for host_id, state in changes.items():
            if state is None:
                self._states.pop(host_id, None)
            else:
                self._states[host_id] = state
        self._entries, self._buckets, self._beats = {}, {}, []
        for host_id, state in self._states.items():
            entry = self._entry(state)
            if entry is None:
                continue
            self._entries[host_id] = entry
            self._watch(host_id, state)
            for key in entry.buckets:
                bucket = self._bucket(key)
                bucket.by_name.append((entry.name, host_id))
                for i, value in enumerate(entry.axes):
                    bucket.ascending[i].append((value, entry.name, host_id))
                    bucket.descending[i].append((-value, entry.name, host_id))
        for bucket in self._buckets.values():
            for items in bucket.lists():
                items.sort()


def _heartbeat(state: HostState) -> float:
    return _NEVER if state.heartbeat_at is None else state.heartbeat_at


def _remove(items: list, item: tuple) -> None:  # type: ignore[type-arg]
    at = bisect_left(items, item)
    if at < len(items) and items[at] == item:
        del items[at]


class _Walk:
    """One decision's walk over one bucket (under the ranking lock)."""

    def __init__(self, states: Mapping[str, HostState], weighers: Sequence[HostWeigher],
                 request: BuildRequest, checks: Sequence[HostCheck],
                 lost: frozenset[str], size: int) -> None:
        self._states, self._weighers = states, weighers
        self._request, self._checks, self._lost = request, checks, lost
        self._size = size
        self._passes: dict[str, bool] = {}
        self._bounds: list[tuple[float, float]] = []

    def passes(self, host_id: str) -> bool:
        verdict = self._passes.get(host_id)
        if verdict is None:
            host = self._states[host_id]
            verdict = host.name not in self._request.ignore_hosts and \
                all(check(host) is None for check in self._checks)
            self._passes[host_id] = verdict
        return verdict

    def _first_passing(self, items: list[tuple[float, str, str]]) -> float | None:
        for value, _, host_id in items:
            if self.passes(host_id):
                return value
        return None

    def run(self, bucket: _Bucket) -> Pick:
        request = self._request
        active: list[tuple[int, int, list[tuple[float, str, str]]]] = []  # weigher, sign, list
        for i, w in enumerate(self._weighers):
            top = self._first_passing(bucket.descending[i])
            if top is None:
                return _NOTHING  # no host of the bucket passes
            bottom = self._first_passing(bucket.ascending[i])
            assert bottom is not None
            direction = w.direction(request)
            high_axis, low_axis = -top, bottom
            low, high = (direction * low_axis, direction * high_axis) if direction > 0 \
                else (direction * high_axis, direction * low_axis)
            self._bounds.append((low, high))
            if w.multiplier != 0 and high != low:
                if w.multiplier * direction > 0:
                    active.append((i, -1, bucket.descending[i]))
                else:
                    active.append((i, 1, bucket.ascending[i]))
        if not active:  # every host that passes weighs the same: the smallest names win
            top: list[HostState] = []
            for _, host_id in bucket.by_name:
                if self.passes(host_id) and self._states[host_id].name not in self._lost:
                    top.append(self._states[host_id])
                    if len(top) == self._size:
                        break
            return Pick(tuple(top), True)
        return Pick(self._threshold(active), True)

    def _weight(self, host: HostState) -> float:
        total = 0.0
        for w, (low, high) in zip(self._weighers, self._bounds):
            total += weight(w.raw(host, self._request), low, high, w.multiplier)
        return total

    def _threshold(self, active: list[tuple[int, int, list[tuple[float, str, str]]]]
                   ) -> tuple[HostState, ...]:
        cursors = [0] * len(active)
        top: list[tuple[float, str, str]] = []  # (-weight, name, id) of the best met, sorted
        met: set[str] = set()

        def found() -> tuple[HostState, ...]:
            return tuple(self._states[host_id] for _, _, host_id in top)

        while True:
            for k, (_, _, items) in enumerate(active):
                if cursors[k] >= len(items):  # every host of the bucket was met
                    return found()
                _, name, host_id = items[cursors[k]]
                cursors[k] += 1
                if host_id in met or not self.passes(host_id) or name in self._lost:
                    continue
                met.add(host_id)
                insort(top, (-self._weight(self._states[host_id]), name, host_id))
                del top[self._size:]
            if len(top) < self._size:
                continue
            bound, names = 0.0, []
            for k, (i, sign, items) in enumerate(active):
                if cursors[k] >= len(items):
                    return found()
                value, name, _ = items[cursors[k]]
                w, (low, high) = self._weighers[i], self._bounds[i]
                bound += weight(w.direction(self._request) * sign * value, low, high,
                                w.multiplier)
                names.append(name)
            # A host not met yet weighs at most ``bound``, and on a tie its name is not
            # smaller than the next name of every list.
            worst, worst_name = -top[-1][0], top[-1][1]
            if worst > bound or (worst == bound and worst_name < max(names)):
                return found()
