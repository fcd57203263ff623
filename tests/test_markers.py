"""The test layers: `scripts/test --quick` (`-m "not e2e and not slow"`) leaves out the
end-to-end tests and the ones that start whole clouds, and keeps the fast layers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _collected(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_quick_leaves_out_e2e_and_slow_tests_and_keeps_the_fast_layers() -> None:
    quick = _collected("-m", "not e2e and not slow", "tests/e2e/test_api_clients.py",
                       "tests/cli/test_demo.py", "tests/cli/test_missing_tools.py",
                       "tests/cli/test_bad_input.py", "tests/pci")
    files = {line.split("::")[0] for line in quick}
    assert "tests/e2e/test_api_clients.py" not in files
    assert "tests/cli/test_demo.py" not in files
    assert "tests/cli/test_bad_input.py" in files and any(f.startswith("tests/pci/")
                                                           for f in files)
    missing_tools = [line for line in quick if "test_missing_tools.py" in line]
    assert missing_tools and not any("scripts_demo" in line for line in missing_tools)


def test_scripts_test_quick_passes_the_marker_expression() -> None:
    text = (REPO / "scripts/test").read_text()
    assert '-m "not e2e and not slow"' in text
