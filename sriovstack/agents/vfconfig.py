"""VF settings as agents apply them: only what differs, one setting per request, the baseline.

Settings go through the netlink seam one at a time (the kernel stops at the first refusal of a
combined request without rolling back, linux_host.md §2.3).  A setting the PF driver does not
implement (EOPNOTSUPP) is fatal when it is required (MAC, VLAN) and skipped when it is
optional (spoof check, trust, rates, link state): igb has no link-state callback, and a reset
must not fail because of it.  What a driver refused is remembered per PF, so it is not asked
again every pass; ``probe`` learns whether a driver takes a setting the VF may already read as
having (igb reports every VF's link state as ``auto`` but cannot set any).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sriovstack.crashpoints import crash_point
from sriovstack.errors import DriverNotSupported
from sriovstack.host import (LinkState, VfLinkState, VfMac, VfNetlink, VfRate, VfSetting,
                             VfSpoofCheck, VfState, VfTrust, VfVlan)
from sriovstack.mac import MacAddress

__all__ = ["VfConfigurator", "BASELINE", "is_baseline"]

_LOG = logging.getLogger(__name__)

# The full reset of a released VF (sriov-cni #214: reset everything, not only what we set).
# The MAC goes last: a zero MAC is what marks a VF free (agents/sriov.py), so a VF never
# reads free while it still carries its tenant's VLAN, rate or trust.
BASELINE: tuple[VfSetting, ...] = (
    VfVlan(0), VfSpoofCheck(True), VfTrust(False), VfRate(0, 0),
    VfLinkState(LinkState.AUTO), VfMac(MacAddress.ZERO),
)
_REQUIRED = (VfMac, VfVlan)


def _satisfied(state: VfState, setting: VfSetting) -> bool:
    """Whether the VF already has ``setting`` (None = the driver does not report it)."""
    match setting:
        case VfMac(mac=mac):
            return state.mac == mac
        case VfVlan(vlan=v, qos=q, proto=p):
            return (state.vlan, state.qos) == (v, q) and (v == 0 or state.proto == p)
        case VfSpoofCheck(enabled=e):
            return state.spoofchk == e
        case VfTrust(enabled=e):
            return state.trust == e
        case VfRate(min_tx_rate=lo, max_tx_rate=hi):
            return (state.min_tx_rate, state.max_tx_rate) == (lo, hi)
        case VfLinkState(state=s):
            return state.link_state == s
    return False


def is_baseline(state: VfState) -> bool:
    """Whether the VF is at the baseline in everything its driver reports."""
    return all(_satisfied(state, s) or (isinstance(s, VfTrust) and state.trust is None)
               for s in BASELINE)


class VfConfigurator:
    """Reads and sets VFs of PFs through one VfNetlink, remembering each PF's refusals."""

    def __init__(self, netlink: VfNetlink) -> None:
        self._netlink = netlink
        self._unsupported: set[tuple[str, type]] = set()
        self._accepted: set[tuple[str, type]] = set()

    def state(self, pf_netdev: str, vf: int) -> VfState | None:
        """The VF as the PF reports it, or None when the PF has no such VF now."""
        for state in self._netlink.get_vfs(pf_netdev):
            if state.vf == vf:
                return state
        return None

    def supports(self, pf_netdev: str, kind: type) -> bool:
        """False once the PF's driver refused a setting of this kind with EOPNOTSUPP."""
        return (pf_netdev, kind) not in self._unsupported

    def probe(self, pf_netdev: str, vf: int, setting: VfSetting) -> bool:
        """Whether the PF's driver takes settings of this kind: known from an earlier answer,
        else learnt by setting ``setting`` on the VF (it must be one the VF wants anyway:
        it is applied even when the VF reads as having it). HostError for other refusals."""
        kind = type(setting)
        if (pf_netdev, kind) in self._accepted:
            return True
        if not self.supports(pf_netdev, kind):
            return False
        try:
            self._netlink.set_vf(pf_netdev, vf, setting)
        except DriverNotSupported:
            self._unsupported.add((pf_netdev, kind))
            return False
        self._accepted.add((pf_netdev, kind))
        return True

    def apply(self, pf_netdev: str, vf: int, wanted: Iterable[VfSetting],
              current: VfState | None = None) -> tuple[VfSetting, ...]:
        """Set each of ``wanted`` the VF lacks, in order; returns the settings skipped as
        unsupported. Raises HostError for a refused required setting or any other refusal."""
        state = current if current is not None else self.state(pf_netdev, vf)
        skipped = []
        for setting in wanted:
            if state is not None and _satisfied(state, setting):
                continue
            kind = type(setting)
            if not self.supports(pf_netdev, kind):
                skipped.append(setting)
                continue
            try:
                state = self._netlink.set_vf(pf_netdev, vf, setting)
                crash_point("vf.set")
                self._accepted.add((pf_netdev, kind))
            except DriverNotSupported:
                if kind in _REQUIRED:
                    raise
                _LOG.info("%s vf %d: driver cannot %s; skipped from now on", pf_netdev, vf,
                          kind.__name__)
                self._unsupported.add((pf_netdev, kind))
                skipped.append(setting)
        return tuple(skipped)

    def reset(self, pf_netdev: str, vf: int) -> tuple[VfSetting, ...]:
        """Put the VF back to BASELINE (skipping what the driver cannot do)."""
        return self.apply(pf_netdev, vf, BASELINE)
