"""The end-to-end boot benchmark (bench/bench_api_boots.py, issue 14) still drives the API: a
tiny run on the test PostgreSQL places and activates every boot and reports every figure.
Speed is not asserted (it lives in the benchmark's own output); the tool's working is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_api_boots.py"


def test_a_small_boot_benchmark_places_and_activates_every_boot(postgres_url):
    # postgres_url: PostgreSQL is up (or the test skips; CI fails); the bench makes its own
    # database on that server and drops it
    done = subprocess.run([sys.executable, str(BENCH), "--hosts", "4", "--boots", "3",
                           "--workers", "1", "--database", PG_ADMIN_URL, "--timeout", "120"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"^placed\s+[\d.]+ boots/s\s+\(3/3,", out, re.M), out
    assert re.search(r"^ACTIVE\s+[\d.]+ boots/s\s+\(3/3\)", out, re.M), out
    assert re.search(r"^API CPU\s+[\d.]+ ms/boot", out, re.M), out
    assert re.search(r"^SQL\s+[\d.]+ statements/boot", out, re.M), out
    assert "errors" not in out, out
