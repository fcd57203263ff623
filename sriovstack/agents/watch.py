"""An agent's view of its host's desired state, fetched whole only when it changed.

``next(wait)`` long-polls the host's revision (``GET .../revision?since=N&wait=S``, answered
by the API when the revision moves) and fetches the whole desired state only when it moved,
when the agent asked for a ``refresh`` (its own report changed what the API says, e.g. BUILD
→ ACTIVE, which bumps no revision), or every ``resync`` seconds; otherwise it hands back the
last one, so a quiet host costs one cheap request per wait. ``wait`` 0 always fetches.

Against an API without the revision endpoint (404: an older release) it falls back for good
to the desired-state long-poll (``since``/``wait``), and when that answers at once with
nothing new (an API that ignores ``wait``) it sleeps out the wait: plain polling, never a
busy loop. Every call carries a timeout (the client's: ``wait`` + 30 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sriovstack.agents.client import ControlPlaneClient
from sriovstack.errors import NotFound
from sriovstack.wire import DesiredState

__all__ = ["DesiredStateWatch", "RESYNC_INTERVAL"]

_LOG = logging.getLogger(__name__)
RESYNC_INTERVAL = 300.0  # seconds: the whole desired state is read at least this often


class DesiredStateWatch:
    """The desired state of ``host``, kept current through revision long-polls."""

    def __init__(self, client: ControlPlaneClient, host: str, *,
                 resync: float = RESYNC_INTERVAL, sleep: Callable[[float], object] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._host = host
        self._resync = resync
        self._sleep = sleep
        self._clock = clock
        self._state: DesiredState | None = None
        self._fetched_at = 0.0
        self._stale = True
        self.watching = True  # False once the API turned out to lack the revision endpoint

    @property
    def revision(self) -> int | None:
        return None if self._state is None else self._state.revision

    def refresh(self) -> None:
        """Fetch the whole desired state on the next call, whatever the revision says."""
        self._stale = True

    def next(self, wait: float) -> DesiredState:
        """The desired state after waiting up to ``wait`` seconds for a change."""
        if wait <= 0 or self._state is None:
            return self._fetch(None, 0.0)
        if not self.watching:
            return self._poll(wait)
        try:
            answer = self._client.watch_revision(self._host, self._state.revision, wait)
        except NotFound:
            _LOG.warning("%s: the API has no revision long-poll (an older release): polling "
                         "the desired state instead", self._host)
            self.watching = False
            return self._poll(wait)
        due = self._clock() - self._fetched_at >= self._resync
        if answer.revision != self._state.revision or self._stale or due:
            return self._fetch(None, 0.0)
        return self._state

    def _poll(self, wait: float) -> DesiredState:
        started = self._clock()
        before = self.revision
        state = self._fetch(before, wait)
        left = wait - (self._clock() - started)
        if state.revision == before and left > 0:
            self._sleep(left)  # the API did not hold the request: never spin
        return state

    def _fetch(self, since: int | None, wait: float) -> DesiredState:
        state = self._client.desired_state(self._host, since, wait)
        self._state, self._fetched_at, self._stale = state, self._clock(), False
        return state
