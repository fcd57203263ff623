"""The metrics seam: what a Recorder records comes back in one scrape, with gauges computed
at scrape time; in multiprocess mode a scrape sums what every worker process recorded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from sriovstack.metrics import Decision, GaugeFamily, PrometheusRecorder, render


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples}


def test_one_process_scrape_has_its_counters_and_the_gauges_given() -> None:
    recorder = PrometheusRecorder()
    recorder.scheduled(Decision.PLACED, 0.02)
    recorder.rejected_by(["PciPassthroughFilter", "PciPassthroughFilter", "ComputeFilter"])
    gauges = [GaugeFamily("sriovstack_physnet_vfs", "VFs.", ("host", "physnet"),
                          ((("compute0", "physnet1"), 7.0),))]
    got = samples(render(recorder, gauges, None))
    assert got[("sriovstack_scheduler_decisions_total", (("outcome", "placed"),))] == 1
    assert got[("sriovstack_scheduler_no_valid_host_filter_total",
                (("filter", "PciPassthroughFilter"),))] == 1  # once per decision
    assert got[("sriovstack_physnet_vfs", (("host", "compute0"), ("physnet", "physnet1")))] == 7
    # A second recorder (another app in the same process) starts from zero.
    assert ("sriovstack_scheduler_decisions_total", (("outcome", "placed"),)) not in samples(
        render(PrometheusRecorder(), [], None))


_WORKER = """
from sriovstack.metrics import Decision, PrometheusRecorder
r = PrometheusRecorder()
r.scheduled(Decision.PLACED, 0.01)
r.request("/compute/v2.1/servers", "POST", 202, 0.05)
"""


def test_a_scrape_sums_every_worker_in_multiprocess_mode(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", _WORKER], env=env, check=True, timeout=60)
    scrape = subprocess.run(
        [sys.executable, "-c", "import sys; from sriovstack.metrics import PrometheusRecorder,"
         " render; from pathlib import Path; sys.stdout.buffer.write(render("
         "PrometheusRecorder(), [], Path(sys.argv[1])))", str(tmp_path)],
        env=env, check=True, timeout=60, capture_output=True)
    got = samples(scrape.stdout)
    assert got[("sriovstack_scheduler_decisions_total", (("outcome", "placed"),))] == 3
    assert got[("sriovstack_api_request_duration_seconds_count",
                (("method", "POST"), ("route", "/compute/v2.1/servers"),
                 ("status", "202")))] == 3
