"""The simulated VF netlink: per-VF settings kept in the marker dir, with each driver's refusals.

Validation follows the drivers (linux_host.md §2.3, §6.3.6): ENODEV for an unknown PF netdev,
EOPNOTSUPP for a netdev without SR-IOV or a setting the PF driver lacks (catalogue), EINVAL for
a VF out of range, vlan > 4095, qos > 7, min > max or a multicast MAC, EPROTONOSUPPORT for a
VLAN protocol other than 802.1Q/802.1ad or 802.1ad where the NIC lacks it.  The state is reset
by the simulated kernel whenever ``sriov_numvfs`` changes.  A data plane handed in
(``hooks.py``) applies each accepted setting to its traffic before the setting is stored.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path
from typing import Any

from sriovstack.host.netlink import (ETH_P_8021AD, ETH_P_8021Q, LinkState, VfLinkState, VfMac,
                                     VfRate, VfSetting, VfSpoofCheck, VfState, VfTrust, VfVlan,
                                     setting_name, vf_error)
from sriovstack.host.simulated.catalogue import DriverCaps, driver_caps
from sriovstack.host.simulated.hooks import DataplaneHooks
from sriovstack.host.simulated.state import SimState
from sriovstack.host.simulated.tree import CLASS_NET, Tree
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["SimulatedVfNetlink"]


def _default(vf: int, caps: DriverCaps) -> VfState:
    return VfState(vf=vf, mac=MacAddress.ZERO, vlan=0, qos=0, proto=ETH_P_8021Q,
                   spoofchk=True, trust=None if caps.trust_errno else False,
                   link_state=LinkState.AUTO, min_tx_rate=0, max_tx_rate=0)


def _check(setting: VfSetting, caps: DriverCaps, link_mbps: int) -> int:
    """The errno the driver answers ``setting`` with (0: accepted); ``link_mbps``: the PF's
    link speed, 0 when its link is down."""
    match setting:
        case VfMac(mac=mac):
            return errno.EINVAL if mac.is_multicast else 0
        case VfVlan(vlan=v, qos=q, proto=p):
            if p not in (ETH_P_8021Q, ETH_P_8021AD):
                return errno.EPROTONOSUPPORT
            if v > 4095 or q > 7:
                return errno.EINVAL
            return caps.qinq_errno if p == ETH_P_8021AD else 0
        case VfRate(min_tx_rate=lo, max_tx_rate=hi):
            if lo and caps.min_rate_errno:
                return caps.min_rate_errno
            if hi and caps.rate_needs_link and not 0 < hi <= link_mbps:
                return errno.EINVAL
            return errno.EINVAL if hi and lo > hi else 0
        case VfLinkState():
            return caps.link_state_errno
        case VfTrust():
            return caps.trust_errno
        case VfSpoofCheck():
            return 0
    return errno.EINVAL


def _apply(state: VfState, setting: VfSetting) -> VfState:
    match setting:
        case VfMac(mac=mac):
            return dataclasses.replace(state, mac=mac)
        case VfVlan(vlan=v, qos=q, proto=p):
            return dataclasses.replace(state, vlan=v, qos=q, proto=p)
        case VfRate(min_tx_rate=lo, max_tx_rate=hi):
            return dataclasses.replace(state, min_tx_rate=lo, max_tx_rate=hi)
        case VfLinkState(state=s):
            return dataclasses.replace(state, link_state=s)
        case VfTrust(enabled=e):
            return dataclasses.replace(state, trust=e)
        case VfSpoofCheck(enabled=e):
            return dataclasses.replace(state, spoofchk=e)
    return state


def _to_json(state: VfState) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["link_state"] = int(state.link_state)
    data["mac"] = str(state.mac)
    return data


def _from_json(data: dict[str, Any]) -> VfState:
    return VfState(**{**data, "mac": MacAddress(data["mac"]),
                      "link_state": LinkState(data["link_state"])})


class SimulatedVfNetlink:
    """VfNetlink over a simulated host's tree and its ``netlink.json`` state (``state``: the
    host's lock, shared with its kernel; ``dataplane``: hears of every setting)."""

    def __init__(self, root: str | Path, *, state: SimState | None = None,
                 dataplane: DataplaneHooks | None = None) -> None:
        self.root = Path(root)
        self._tree = Tree(root)
        self._state = state if state is not None else SimState(root)
        self._dataplane = dataplane

    def _pf(self, pf_netdev: str, vf: int | None, what: str) -> tuple[str, DriverCaps, int]:
        """(PF bdf, driver caps, numvfs) of ``pf_netdev``; ENODEV/EOPNOTSUPP otherwise."""
        link = f"{CLASS_NET}/{pf_netdev}"
        if not pf_netdev or "/" in pf_netdev or not self._tree.exists(link):
            raise vf_error(errno.ENODEV, pf_netdev, vf, what)
        if not self._tree.exists(f"{link}/device/sriov_numvfs"):
            raise vf_error(errno.EOPNOTSUPP, pf_netdev, vf, what)
        dev = self._tree.resolve(f"{link}/device")
        caps = driver_caps(self._tree.driver_of(dev) or "")
        if caps is None:
            raise vf_error(errno.EOPNOTSUPP, pf_netdev, vf, what)
        return os.path.basename(dev), caps, int(self._tree.read(f"{dev}/sriov_numvfs"))

    def _link_mbps(self, pf_netdev: str) -> int:
        """The PF's link speed; 0 when its link is down (or no speed is reported)."""
        net = f"{CLASS_NET}/{pf_netdev}"
        if self._tree.read(f"{net}/operstate") != "up" or not self._tree.exists(f"{net}/speed"):
            return 0
        return max(int(self._tree.read(f"{net}/speed")), 0)

    def get_vfs(self, pf_netdev: str) -> tuple[VfState, ...]:
        with self._state.locked():
            link = f"{CLASS_NET}/{pf_netdev}"
            if self._tree.exists(link) and not self._tree.exists(f"{link}/device/sriov_numvfs"):
                return ()  # like veth: no IFLA_VFINFO_LIST
            bdf, caps, numvfs = self._pf(pf_netdev, None, "read VFs")
            saved = self._state.load("netlink").get(bdf, {})
        return tuple(_from_json(saved[str(i)]) if str(i) in saved else _default(i, caps)
                     for i in range(numvfs))

    def set_vf(self, pf_netdev: str, vf: int, setting: VfSetting) -> VfState:
        what = setting_name(setting)
        with self._state.locked():
            bdf, caps, numvfs = self._pf(pf_netdev, vf, what)
            if not 0 <= vf < numvfs:
                raise vf_error(errno.EINVAL, pf_netdev, vf, what)
            code = _check(setting, caps, self._link_mbps(pf_netdev))
            if code:
                raise vf_error(code, pf_netdev, vf, what)
            doc = self._state.load("netlink")
            vfs = doc.setdefault(bdf, {})
            current = _from_json(vfs[str(vf)]) if str(vf) in vfs else _default(vf, caps)
            new = _apply(current, setting)
            if self._dataplane is not None:  # the traffic follows first; a refusal stops it
                self._dataplane.vf_changed(PciAddress.parse(bdf), new)
            vfs[str(vf)] = _to_json(new)
            self._state.save("netlink", doc)
        return new
