"""Named crash points: a real ``kill -9`` of this process at one step of a multi-step operation.

Each step boundary of an operation calls ``crash_point("<operation>.<step>")``. When the
environment variable ``SRIOVSTACK_CRASH_AT`` names that step, the process sends itself SIGKILL
there: no handler, no ``finally``, no flush runs, exactly as when an operator or the OOM killer
kills it. The variable is read once, at import; unset (in service), a call is one comparison.
The end-to-end fault tests (tests/e2e/test_crash_steps.py) start the API or an agent with it,
run the operation, and check that recovery leaves the ledger consistent. ``CRASH_POINTS``
lists every name, so a test can walk all of them and a typo fails at once.
"""

from __future__ import annotations

import os
import signal
from typing import Final

__all__ = ["CRASH_AT_ENV", "CRASH_POINTS", "crash_point"]

CRASH_AT_ENV: Final = "SRIOVSTACK_CRASH_AT"

_MOVES = ("resize", "migration", "live-migration")  # compute/migration.py MoveKind
CRASH_POINTS: Final = frozenset({
    # API worker. A build (boot, and the build of an unshelve or an evacuate) after the 202:
    "build.claimed", "build.bound", "build.placed",
    # resize, cold and live migration (one code path), then confirm and revert:
    *(f"{kind}.{step}" for kind in _MOVES
      for step in ("begun", "target_claimed", "bound", "settled")),
    "confirm.begun", "revert.begun", "revert.released", "revert.rebound",
    # interface attach and detach; shelve, unshelve, evacuate:
    "attach.begun", "attach.claimed", "attach.bound",
    "detach.begun", "detach.removed", "detach.released", "detach.unbound",
    "shelve.begun", "shelve.offloaded", "shelve.released", "unshelve.queued",
    "evacuate.queued", "evacuate.released",
    # The compute agent (agents/compute.py): a VF configured, the guest spawned with its
    # VFs, a VF hot-plugged, unplugged, reset; any VF setting written (agents/vfconfig.py);
    # the SR-IOV agent's link state set (agents/sriov.py):
    "agent.configured", "agent.plugged", "agent.hot_plugged", "agent.unplugged",
    "agent.reset", "vf.set", "sriov.link_set",
})

_AT: Final = os.environ.get(CRASH_AT_ENV) or None
if _AT is not None and _AT not in CRASH_POINTS:
    raise ValueError(f"{CRASH_AT_ENV}={_AT!r} names no crash point; "
                     f"known: {', '.join(sorted(CRASH_POINTS))}")


def crash_point(name: str) -> None:
    """SIGKILL this process here when ``SRIOVSTACK_CRASH_AT`` is ``name``."""
    if name == _AT:
        os.kill(os.getpid(), signal.SIGKILL)
