"""Metrics: the ``Recorder`` seam the scheduler and the API record into (Prometheus or null),
and ``render``, one scrape in Prometheus text format with gauges computed at scrape time."""

from sriovstack.metrics.exposition import CONTENT_TYPE, GaugeFamily, render
from sriovstack.metrics.recorder import Decision, NullRecorder, PrometheusRecorder, Recorder

__all__ = ["CONTENT_TYPE", "Decision", "GaugeFamily", "NullRecorder", "PrometheusRecorder",
           "Recorder", "render"]
