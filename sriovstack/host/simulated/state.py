"""The simulated host's own state under the marker dir ``<root>/.sriovstack-sim/``, with its lock.

The sysfs tree itself holds most state (it is what discovery reads); this keeps what the
kernel and NIC firmware know but sysfs does not show: PF netdev names to restore on rebind,
partial-enable limits, injected enable failures and the netlink VF settings.  Every change
happens under one ``flock`` so separate processes (CLI, agents) see one consistent host.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "SimState", "is_simulated"]

MARKER = ".sriovstack-sim"


def is_simulated(root: str | Path) -> bool:
    """True when ``root`` holds a simulated host (the fixture builder's marker dir)."""
    return (Path(root) / MARKER).is_dir()


class SimState:
    """JSON documents in the marker dir, read and written under an exclusive lock."""

    def __init__(self, root: str | Path) -> None:
        self.dir = Path(root) / MARKER
        self._depth = 0
        self._fd: int | None = None
        # flock excludes other processes; this excludes other threads sharing the object
        # (the all-in-one's agents), which flock on one process's descriptor would not.
        self._threads = threading.RLock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the host-wide lock (re-entrant within one thread of this object)."""
        with self._threads:
            if self._depth == 0:
                self.dir.mkdir(exist_ok=True)
                self._fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None

    def load(self, name: str) -> dict[str, Any]:
        """The document ``name`` (empty when it does not exist yet)."""
        path = self.dir / f"{name}.json"
        if not path.exists():
            return {}
        with open(path, encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    def save(self, name: str, data: dict[str, Any]) -> None:
        """Replace document ``name`` atomically (write a temp file, then rename)."""
        self.dir.mkdir(exist_ok=True)
        tmp = self.dir / f".{name}.json.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.dir / f"{name}.json")
