"""The programs the netns data plane runs besides netlink, and which of them this machine lacks:
``ip`` (iproute2) for ``ip netns exec`` and ``nft`` (nftables) for VF spoof checking."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

__all__ = ["MissingCommand", "missing_commands"]


@dataclass(frozen=True, slots=True)
class MissingCommand:
    """A program the data plane needs and the Debian package that installs it."""

    command: str
    package: str


_NEEDED = (MissingCommand("ip", "iproute2"), MissingCommand("nft", "nftables"))


def missing_commands(path: str | None = None) -> tuple[MissingCommand, ...]:
    """The needed programs not found on ``path`` (default: the PATH environment variable)."""
    return tuple(m for m in _NEEDED if shutil.which(m.command, path=path) is None)
