"""Running the outside programs the image and the install need (apt-get, apt-cache, dpkg):
one place that gives each a timeout and turns its failure into HostError."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sriovstack.errors import HostError

__all__ = ["run"]


def run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 900.0) -> str:
    """``argv``'s standard output.  Raises HostError (with the end of its stderr) when it
    cannot start, times out or exits non-zero."""
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"{argv[0]} failed: {exc}", value=" ".join(argv)) from exc
    if done.returncode != 0:
        raise HostError(f"{' '.join(argv)} failed ({done.returncode}): "
                        f"{done.stderr.strip()[-400:]}", value=" ".join(argv))
    return done.stdout
