"""The crash points (sriovstack/crashpoints.py): every name a call site uses is declared (a typo
would never fire), every declared name has a call site, and ``SRIOVSTACK_CRASH_AT`` makes the
process die of SIGKILL at that step and nowhere else."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from sriovstack.compute import MoveKind
from sriovstack.crashpoints import CRASH_AT_ENV, CRASH_POINTS

PACKAGE = Path(__file__).resolve().parents[1] / "sriovstack"
_CALL = re.compile(r'crash_point\((f?)"([^"]+)"\)')
_MOVES = (MoveKind.RESIZE, MoveKind.MIGRATION, MoveKind.LIVE)


def _used() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "crashpoints.py":
            continue
        for is_f, name in _CALL.findall(path.read_text()):
            if is_f:  # the moves' steps: f"{kind}.step"
                assert name.startswith("{kind}."), (path, name)
                names |= {name.replace("{kind}", kind) for kind in _MOVES}
            else:
                names.add(name)
    return names


def test_every_call_site_names_a_declared_step_and_every_step_has_one() -> None:
    assert _used() == set(CRASH_POINTS)


def _run(crash_at: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, CRASH_AT_ENV: crash_at}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_named_step_kills_the_process_with_sigkill_and_only_it() -> None:
    done = _run("shelve.begun", "from sriovstack.crashpoints import crash_point\n"
                "crash_point('shelve.offloaded'); print('past offloaded', flush=True)\n"
                "crash_point('shelve.begun'); print('past begun', flush=True)")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "past offloaded\n"


def test_an_unknown_step_is_refused_at_import() -> None:
    done = _run("shelve.begin", "import sriovstack.crashpoints")
    assert done.returncode == 1 and "names no crash point" in done.stderr
