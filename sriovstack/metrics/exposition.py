"""One scrape in Prometheus text format: the counters (this process's, or every worker's) plus
gauges the caller computed at scrape time (``GaugeFamily``, plain values: callers never touch
prometheus_client)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from sriovstack.metrics.recorder import PrometheusRecorder

__all__ = ["CONTENT_TYPE", "GaugeFamily", "render"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(frozen=True, slots=True)
class GaugeFamily:
    """A gauge computed now: one sample per label-value tuple (in ``labels`` order)."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    samples: tuple[tuple[tuple[str, ...], float], ...]


class _Snapshot(Collector):
    """Gauges already computed, and whatever a process registry holds."""

    def __init__(self, families: Iterable[GaugeFamily],
                 source: CollectorRegistry | None) -> None:
        self._families = tuple(families)
        self._source = source

    def collect(self) -> Iterator[Metric]:
        if self._source is not None:
            yield from self._source.collect()
        for family in self._families:
            metric = GaugeMetricFamily(family.name, family.documentation,
                                       labels=list(family.labels))
            for values, value in family.samples:
                metric.add_metric(list(values), value)
            yield metric


def render(recorder: PrometheusRecorder, gauges: Iterable[GaugeFamily],
           multiprocess_dir: Path | None) -> bytes:
    """The exposition text: the workers' counters summed from the files under
    ``multiprocess_dir`` when given, else ``recorder``'s; then ``gauges``."""
    scrape = CollectorRegistry(auto_describe=False)
    if multiprocess_dir is not None:
        MultiProcessCollector(scrape, path=str(multiprocess_dir))
        scrape.register(_Snapshot(gauges, None))
    else:
        scrape.register(_Snapshot(gauges, recorder.registry))
    return generate_latest(scrape)
