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


def test_a_module_runs_on_one_worker_and_the_data_plane_tests_share_one() -> None:
    """`scripts/test`'s xdist scheduling (tests/conftest.py `worker_scope`), end to end: every
    test of a module ran on one worker, and two modules of the qemu tier on the same one (the
    tests that need no QEMU)."""
    modules = ["tests/test_mac.py", "tests/test_errors.py", "tests/qemu/test_image_parts.py",
               "tests/qemu/test_guest.py"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadscope",
                           "--no-loadscope-reorder", "-v", "-p", "no:cacheprovider", "-k",
                           "not qemu or image_parts or interrupt_remapping_and_one_igb or "
                           "kernel_line", *modules],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    workers: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("[gw") and " PASSED " in line:
            worker, nodeid = line.split("]", 1)[0][1:], line.split(" PASSED ", 1)[1]
            workers.setdefault(nodeid.split("::", 1)[0], set()).add(worker)
    assert set(workers) == set(modules), done.stdout[-2000:]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    assert workers["tests/qemu/test_image_parts.py"] == workers["tests/qemu/test_guest.py"]
