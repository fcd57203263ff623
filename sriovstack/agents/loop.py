"""The agents' run loop: reconcile passes back to back, heartbeats on their own thread.

Level-triggered: each pass long-polls the desired state (returning early on a change, or after
its wait), compares it with the host and converges; a pass that fails (API unreachable, a
host refusal) is logged and the next one starts after a short delay, repairing what the
failed one left.  Heartbeats run on their own interval so a long poll never delays them.
Both stop when the given Event is set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sriovstack.errors import ConfigError, SriovstackError, Unauthorized

__all__ = ["AgentLoop"]

_LOG = logging.getLogger(__name__)


class AgentLoop:
    """Runs ``reconcile`` until ``stop`` is set, and ``heartbeat`` every ``report_interval``."""

    def __init__(self, name: str, reconcile: Callable[[], object],
                 heartbeat: Callable[[], object], *, report_interval: float,
                 retry_delay: float = 2.0) -> None:
        self.name = name
        self._reconcile = reconcile
        self._heartbeat = heartbeat
        self._interval = report_interval
        self._retry = retry_delay

    def run(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set. Bad config or credentials stop the agent (raised)."""
        self._beat_once()
        done = threading.Event()
        beats = threading.Thread(target=self._beat_forever, args=(done,),
                                 name=f"{self.name}-heartbeat", daemon=True)
        beats.start()
        try:
            while not stop.is_set():
                try:
                    self._reconcile()
                except (ConfigError, Unauthorized):
                    raise
                except SriovstackError as exc:
                    _LOG.warning("%s: pass failed, retrying: %s", self.name, exc)
                    stop.wait(self._retry)
        finally:
            done.set()
            beats.join(timeout=self._interval + 5)

    def _beat_once(self) -> None:
        """The first heartbeat: wrong credentials refuse to start; an absent API is waited for."""
        try:
            self._heartbeat()
        except Unauthorized:
            raise
        except SriovstackError as exc:
            _LOG.warning("%s: first heartbeat failed (will retry): %s", self.name, exc)

    def _beat_forever(self, done: threading.Event) -> None:
        """Beat every interval; a failed beat is tried again after the retry delay, not a
        whole interval later (a beat that lands on an API restart would otherwise leave
        the agent unheard for two intervals, past agent_down_time after two such)."""
        wait = self._interval
        while not done.wait(wait):
            try:
                self._heartbeat()
                wait = self._interval
            except SriovstackError as exc:
                _LOG.warning("%s: heartbeat failed: %s", self.name, exc)
                wait = min(self._retry, self._interval)
