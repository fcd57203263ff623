"""VF spoof checking on the emulated NIC: one nftables bridge-family table per embedded switch.

A VF with ``spoofchk on`` may only transmit frames whose source MAC is its own
(reference/linux_host.md §2.1, §6.4): frames entering the switch from the VF's port with
another source MAC are dropped in the bridge ``prerouting`` hook.  The table is rewritten
whole in one ``nft -f`` transaction, so a change is applied entirely or not at all.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from sriovstack.errors import HostError, NotSupported

__all__ = ["SpoofRule", "apply_spoof_rules", "list_ruleset", "TABLE"]

TABLE = "sriovstack"


@dataclass(frozen=True, slots=True)
class SpoofRule:
    """Frames from switch port ``port`` must carry source MAC ``mac``."""

    port: str
    mac: str


def _nft() -> str:
    path = shutil.which("nft")
    if path is None:
        raise NotSupported("spoof checking on the emulated NIC needs the `nft` command, which "
                           "is not installed", fix="apt-get install nftables")
    return path


def _ruleset(rules: Sequence[SpoofRule]) -> str:
    lines = [f"table bridge {TABLE}", f"delete table bridge {TABLE}",
             f"table bridge {TABLE} {{", "  chain spoofchk {",
             "    type filter hook prerouting priority -200; policy accept;"]
    for rule in sorted(rules, key=lambda r: r.port):
        lines.append(f'    iifname "{rule.port}" ether saddr != {rule.mac} drop')
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _run(ns: str, args: list[str], stdin: str | None = None) -> str:
    done = subprocess.run(["ip", "netns", "exec", ns, _nft(), *args], input=stdin,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HostError(f"nft {' '.join(args)} in network namespace {ns} failed: "
                        f"{done.stderr.strip() or done.returncode}", path=f"/run/netns/{ns}")
    return done.stdout


def apply_spoof_rules(ns: str, rules: Sequence[SpoofRule]) -> None:
    """Make ``ns``'s spoof-check table hold exactly ``rules``."""
    _run(ns, ["-f", "-"], _ruleset(rules))


def list_ruleset(ns: str) -> str:
    """``nft list ruleset`` of namespace ``ns`` (what tests and cleanup checks read)."""
    return _run(ns, ["list", "ruleset"])
