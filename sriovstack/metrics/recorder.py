"""The metrics seam: what the scheduler and the API edge record (``Recorder``, four methods),
with a Prometheus side and a null side.

Counters and histograms live in the process that records them. Under ``api serve --workers
N`` prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the CLI before
the workers start) keeps each worker's values in a file and ``exposition.render`` sums them,
so any worker answers a scrape with the whole API's counts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["Decision", "Recorder", "NullRecorder", "PrometheusRecorder"]

# Scheduling takes milliseconds to a few seconds (claims lost and retried); requests the same.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Decision(enum.Enum):
    """How one scheduling decision ended."""

    PLACED = "placed"
    NO_VALID_HOST = "no_valid_host"
    CLAIMS_LOST = "claims_lost"        # every attempt lost its claim to a concurrent build


class Recorder(Protocol):
    """Where the control plane reports what it did; implementations never raise."""

    def scheduled(self, decision: Decision, seconds: float) -> None:
        """One scheduling decision and how long it took."""

    def rejected_by(self, filters: Iterable[str]) -> None:
        """A "no valid host": the filters that removed hosts for it (each counted once)."""

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One API request: its route template (not the raw path), method, status, duration."""


class NullRecorder:
    """Records nothing (services built without metrics, e.g. in unit tests)."""

    def scheduled(self, decision: Decision, seconds: float) -> None:
        pass

    def rejected_by(self, filters: Iterable[str]) -> None:
        pass

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        pass


class PrometheusRecorder:
    """Counters and histograms on a registry of its own (one recorder per process; see the
    module docstring)."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self._decisions = Counter(
            "sriovstack_scheduler_decisions", "Scheduling decisions by outcome.",
            ("outcome",), registry=registry)
        self._decision_seconds = Histogram(
            "sriovstack_scheduler_decision_duration_seconds",
            "Time to filter, weigh and claim one build.", buckets=_SECONDS, registry=registry)
        self._no_valid_host = Counter(
            "sriovstack_scheduler_no_valid_host_filter",
            "No-valid-host decisions in which this filter removed hosts.", ("filter",),
            registry=registry)
        self._requests = Histogram(
            "sriovstack_api_request_duration_seconds", "API requests by route and status.",
            ("route", "method", "status"), buckets=_SECONDS, registry=registry)

    def scheduled(self, decision: Decision, seconds: float) -> None:
        self._decisions.labels(decision.value).inc()
        self._decision_seconds.observe(seconds)

    def rejected_by(self, filters: Iterable[str]) -> None:
        for name in set(filters):
            self._no_valid_host.labels(name).inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._requests.labels(route, method, str(status)).observe(seconds)
