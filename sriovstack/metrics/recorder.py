"""The metrics seam: what the scheduler, the audit and the API edge record (``Recorder``, five
methods), with a Prometheus side and a null side.

Counters and histograms live in the process that records them. Under ``api serve --workers
N`` prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the CLI before
the workers start) keeps each worker's values in a file and ``exposition.render`` sums them,
so any worker answers a scrape with the whole API's counts. The audit's gauges (findings per
check, when it last ran) take the most recent value any worker recorded (``mostrecent``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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

    def audited(self, findings: Mapping[str, int], repaired: Mapping[str, int],
                at: float) -> None:
        """One audit run at ``at`` (seconds since the epoch): the findings per check (every
        check, zeros included) and the repairs it made per check."""

    def statement(self) -> None:
        """One SQL statement sent to the database."""


class NullRecorder:
    """Records nothing (services built without metrics, e.g. in unit tests)."""

    def scheduled(self, decision: Decision, seconds: float) -> None:
        pass

    def rejected_by(self, filters: Iterable[str]) -> None:
        pass

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        pass

    def audited(self, findings: Mapping[str, int], repaired: Mapping[str, int],
                at: float) -> None:
        pass

    def statement(self) -> None:
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
        self._findings = Gauge(
            "sriovstack_audit_findings", "Findings of the last audit run, per check.",
            ("check",), registry=registry, multiprocess_mode="mostrecent")
        self._repairs = Counter(
            "sriovstack_audit_repairs", "Findings the audit repaired, per check.", ("check",),
            registry=registry)
        self._runs = Counter("sriovstack_audit_runs", "Audit runs (sweeps and requests).",
                             registry=registry)
        self._last_run = Gauge(
            "sriovstack_audit_last_run_timestamp_seconds",
            "When the audit last ran (seconds since the epoch).", registry=registry,
            multiprocess_mode="mostrecent")
        self._statements = Counter(
            "sriovstack_db_statements", "SQL statements this API sent to the database.",
            registry=registry)
        # Each request's series, found once: ``labels()`` takes a lock and checks its labels
        # on every call, and every API request records one (issue 14). As many entries as
        # the histogram has series (routes are templates, not raw paths).
        self._request_series: dict[tuple[str, str, int], Histogram] = {}

    def scheduled(self, decision: Decision, seconds: float) -> None:
        self._decisions.labels(decision.value).inc()
        self._decision_seconds.observe(seconds)

    def rejected_by(self, filters: Iterable[str]) -> None:
        for name in set(filters):
            self._no_valid_host.labels(name).inc()

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        series = self._request_series.get(key)
        if series is None:
            series = self._request_series[key] = self._requests.labels(route, method,
                                                                       str(status))
        series.observe(seconds)

    def audited(self, findings: Mapping[str, int], repaired: Mapping[str, int],
                at: float) -> None:
        for check, count in findings.items():
            self._findings.labels(check).set(count)
        for check, count in repaired.items():
            if count:
                self._repairs.labels(check).inc(count)
        self._runs.inc()
        self._last_run.set(at)

    def statement(self) -> None:
        self._statements.inc()
