"""The all-in-one cloud's packet data plane: which one runs, its name prefix, and bringing it up
on the simulated compute hosts and down again without leaving anything behind.

With ``netns`` each compute host's VFs are veth pairs on per-(physnet, VLAN) bridges joined by
one fabric (dataplane/plane.py) and guests are network namespaces (virt/netns.py);
with ``none`` the hosts keep the simulated-only data plane (netlink state, no packets).
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

from sriovstack.agents import load_nic_mappings
from sriovstack.allinone.hosts import SimulatedHost
from sriovstack.allinone.machines import open_simulated
from sriovstack.dataplane import (CleanupReport, MissingCommand, cleanup_dataplane,
                                  disable_dataplane, enable_dataplane)
from sriovstack.errors import ConfigError, SriovstackError
from sriovstack.host import discover
from sriovstack.virt import NetnsVirtDriver

__all__ = ["DataplaneMode", "CloudDataplane", "choose_dataplane", "dataplane_prefix",
           "compute_state_dir"]

_LOG = logging.getLogger(__name__)


class DataplaneMode(enum.Enum):
    """``netns``: real packets between emulated guests (root); ``none``: simulated only."""

    NETNS = "netns"
    NONE = "none"


def choose_dataplane(asked: DataplaneMode | None, virt_driver: str | None, euid: int,
                     missing: Sequence[MissingCommand] = ()) -> tuple[DataplaneMode, str | None]:
    """The data plane to run, and a one-line note when it was chosen for the user.

    ``asked`` None: netns when running as root (``euid`` 0), no other virt driver was asked
    for and none of the data plane's programs is ``missing``, else none (the note says what is
    missing and how to get packets).  Raises ConfigError when ``virt_driver`` cannot drive the
    netns data plane that was asked for, or a program it needs is missing.
    """
    if asked is DataplaneMode.NETNS and virt_driver not in (None, "netns"):
        raise ConfigError(f"--virt-driver {virt_driver} cannot drive the netns data plane "
                          "(its guests are network namespaces)", option="--virt-driver",
                          value=virt_driver, fix="leave --virt-driver out, or pass "
                          "--dataplane none")
    lacking = ", ".join(m.command for m in missing)
    install = f"apt-get install {' '.join(m.package for m in missing)}"
    if asked is DataplaneMode.NETNS and missing:
        raise ConfigError(f"--dataplane netns needs {lacking}, not found on PATH",
                          option="--dataplane", value="netns",
                          fix=f"{install}, or pass --dataplane none")
    if asked is not None:
        return asked, None
    if virt_driver not in (None, "netns"):
        return DataplaneMode.NONE, (f"data plane: simulated only (no packets), since "
                                    f"--virt-driver {virt_driver} was asked for")
    if euid != 0:
        return DataplaneMode.NONE, ("data plane: simulated only (no packets): the netns data "
                                    "plane needs root (network namespaces, veth, bridges)")
    if missing:
        return DataplaneMode.NONE, (f"data plane: simulated only (no packets): the netns data "
                                    f"plane needs {lacking}, not found on PATH (for real "
                                    f"packets: {install})")
    return DataplaneMode.NETNS, None


def dataplane_prefix(state_dir: Path) -> str:
    """The name prefix of the data plane of the cloud in ``state_dir``: ``s`` + 4 hex digits of
    the directory's path + ``-``, so two clouds (or tests) never touch each other's links."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:4]
    return f"s{digest}-"


def compute_state_dir(state_dir: Path, host: str) -> Path:
    """Where the compute agent of ``host`` keeps its ledger and guest records."""
    return state_dir / "agents" / host / "compute"


class CloudDataplane:
    """The netns data plane of the compute hosts of one all-in-one cloud."""

    def __init__(self, state_dir: Path, hosts: Sequence[SimulatedHost]) -> None:
        self.state_dir = state_dir
        self.prefix = dataplane_prefix(state_dir)
        self._hosts = tuple(h for h in hosts if h.is_compute)
        self._enabled: list[SimulatedHost] = []

    def enable(self) -> None:
        """Enable it on every compute host, its PFs carrying the physnets of the host's
        ``physical_device_mappings`` (20.6).  Raises NotSupported when not root, ConfigError
        for a bad sriov_agent.ini; what was enabled stays for ``disable`` to remove."""
        for host in self._hosts:
            files = tuple(str(f) for f in host.config_files)
            seams, plane = open_simulated(host.root)
            mappings = load_nic_mappings(files, discover(seams.sysfs))
            enable_dataplane(plane, mappings.mappings, prefix=self.prefix)
            self._enabled.append(host)

    def disable(self) -> CleanupReport:
        """Destroy the emulated guests, disable every host's data plane, then remove whatever
        still carries the prefix; returns what that last sweep found (nothing, normally).

        Call it once the agents have stopped.  The servers stay in the database: started
        again, the agents spawn their guests anew.
        """
        for host in self._enabled:
            self._destroy_guests(host)
            disable_dataplane(open_simulated(host.root)[1])
        self._enabled.clear()
        return cleanup_dataplane(self.prefix)

    def _destroy_guests(self, host: SimulatedHost) -> None:
        state = compute_state_dir(self.state_dir, host.name)
        try:
            seams, plane = open_simulated(host.root)
            driver = NetnsVirtDriver(seams, plane, state, prefix=self.prefix)
            for guest in driver.list_guests():
                driver.destroy(guest.server_id)
        except SriovstackError as exc:  # the sweep that follows removes what is left
            _LOG.warning("%s: guests not all destroyed (%s); removing by prefix", host.name,
                         exc)
