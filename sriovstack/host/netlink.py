"""The netlink seam for VF settings: typed settings and state, the ``VfNetlink`` Protocol, pyroute2.

One setting per request (as the neutron SR-IOV agent does), so a refusal names the setting
that failed: the kernel applies a combined request in a fixed order and stops at the first
error without rolling back (linux_host.md §2.3).  Both sides raise the HostError family with
the kernel's errno: EOPNOTSUPP → DriverNotSupported; EINVAL, ENODEV, EPROTONOSUPPORT... →
HostError carrying ``errno``.
"""

from __future__ import annotations

import enum
import errno
import os
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sriovstack.errors import DriverNotSupported, HostError, Invalid
from sriovstack.host.vlanlist import set_vlan_list
from sriovstack.mac import MacAddress

__all__ = [
    "LinkState", "VfMac", "VfVlan", "VfSpoofCheck", "VfTrust", "VfLinkState", "VfRate",
    "VfSetting", "VfState", "VfNetlink", "RealVfNetlink", "vf_error", "ETH_P_8021Q",
    "ETH_P_8021AD",
]

ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8


class LinkState(enum.IntEnum):
    """IFLA_VF_LINK_STATE values: follow the PF, always up, always down."""

    AUTO = 0
    ENABLE = 1
    DISABLE = 2


def _non_negative(owner: str, **values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"{owner}.{name} must be a non-negative integer, got {value!r}",
                          field=name, value=value)


@dataclass(frozen=True, slots=True)
class VfMac:
    """The VF's administrative MAC (``ip link set PF vf N mac ...``); ``MacAddress.ZERO``
    clears it. Whether a driver takes it (unicast only) is the driver's rule (EINVAL)."""

    mac: MacAddress

    def __post_init__(self) -> None:
        if not isinstance(self.mac, MacAddress):
            raise Invalid(f"VfMac.mac must be a MacAddress, got {self.mac!r}", field="mac",
                          value=str(self.mac))


@dataclass(frozen=True, slots=True)
class VfVlan:
    """Port VLAN (VST): ``vlan 0`` clears it. Range checks are the driver's (EINVAL)."""

    vlan: int
    qos: int = 0
    proto: int = ETH_P_8021Q

    def __post_init__(self) -> None:
        _non_negative("VfVlan", vlan=self.vlan, qos=self.qos, proto=self.proto)


@dataclass(frozen=True, slots=True)
class VfSpoofCheck:
    enabled: bool


@dataclass(frozen=True, slots=True)
class VfTrust:
    enabled: bool


@dataclass(frozen=True, slots=True)
class VfLinkState:
    state: LinkState


@dataclass(frozen=True, slots=True)
class VfRate:
    """Transmit rate limits in Mbps, both sent (IFLA_VF_RATE overwrites both); 0 = off."""

    min_tx_rate: int
    max_tx_rate: int

    def __post_init__(self) -> None:
        _non_negative("VfRate", min_tx_rate=self.min_tx_rate, max_tx_rate=self.max_tx_rate)


VfSetting = VfMac | VfVlan | VfSpoofCheck | VfTrust | VfLinkState | VfRate


@dataclass(frozen=True, slots=True)
class VfState:
    """One VF as ``ip link show PF`` reports it; ``spoofchk``/``trust`` None = not reported."""

    vf: int
    mac: MacAddress
    vlan: int
    qos: int
    proto: int
    spoofchk: bool | None
    trust: bool | None
    link_state: LinkState
    min_tx_rate: int
    max_tx_rate: int


@runtime_checkable
class VfNetlink(Protocol):
    """VF settings of SR-IOV PFs, one setting per request, read back after."""

    def get_vfs(self, pf_netdev: str) -> tuple[VfState, ...]:
        """Every VF of ``pf_netdev`` in index order; () for a netdev without VF support."""
        ...

    def set_vf(self, pf_netdev: str, vf: int, setting: VfSetting) -> VfState:
        """Apply one setting to VF ``vf`` of ``pf_netdev`` and return the VF read back."""
        ...


_FIX = {
    errno.EOPNOTSUPP: "this PF driver does not implement that VF setting; leave it unset for "
                      "this NIC",
    errno.EINVAL: "VF index must be below sriov_numvfs; vlan 0-4095, qos 0-7, "
                  "min_tx_rate <= max_tx_rate, MAC unicast",
    errno.ENODEV: "name an existing PF netdev (see `ip link`)",
    errno.EPROTONOSUPPORT: "use VLAN protocol 802.1Q (0x8100) on this NIC",
}


def vf_error(code: int, pf_netdev: str, vf: int | None, what: str) -> HostError:
    """The HostError for a refused VF netlink request (``err.errno`` holds ``code``)."""
    cls = DriverNotSupported if code == errno.EOPNOTSUPP else HostError
    name = "EOPNOTSUPP" if code == errno.EOPNOTSUPP else errno.errorcode.get(code, str(code))
    target = f"{pf_netdev} vf {vf}" if vf is not None else pf_netdev
    return cls(f"{what} on {target}: {name} ({os.strerror(code)})", fix=_FIX.get(code),
               path=pf_netdev, errno=code, vf=vf)


def setting_name(setting: VfSetting) -> str:
    """What the setting is, for messages ("set vlan 100 qos 0")."""
    match setting:
        case VfMac(mac=mac):
            return f"set mac {mac}"
        case VfVlan(vlan=v, qos=q, proto=p):
            return f"set vlan {v} qos {q} proto 0x{p:04x}"
        case VfSpoofCheck(enabled=e):
            return f"set spoofchk {'on' if e else 'off'}"
        case VfTrust(enabled=e):
            return f"set trust {'on' if e else 'off'}"
        case VfLinkState(state=s):
            return f"set state {s.name.lower()}"
        case VfRate(min_tx_rate=lo, max_tx_rate=hi):
            return f"set min_tx_rate {lo} max_tx_rate {hi}"
    raise Invalid(f"not a VF setting: {setting!r}", field="setting")


def _spec(vf: int, setting: VfSetting) -> dict[str, Any]:
    """The pyroute2 ``vf=`` dict for one setting (a fresh dict: pyroute2 pops ``vf``)."""
    match setting:
        case VfMac(mac=mac):
            return {"vf": vf, "mac": str(mac)}
        case VfVlan(vlan=v, qos=q, proto=p) if p == ETH_P_8021Q:
            return {"vf": vf, "vlan": {"vlan": v, "qos": q}}
        case VfVlan(vlan=v, qos=q, proto=p):
            return {"vf": vf, "vlan": [{"vlan": v, "qos": q, "proto": p}]}
        case VfSpoofCheck(enabled=e):
            return {"vf": vf, "spoofchk": int(e)}
        case VfTrust(enabled=e):
            return {"vf": vf, "trust": int(e)}
        case VfLinkState(state=s):
            return {"vf": vf, "link_state": int(s)}
        case VfRate(min_tx_rate=lo, max_tx_rate=hi):
            return {"vf": vf, "rate": {"min_tx_rate": lo, "max_tx_rate": hi}}
    raise Invalid(f"not a VF setting: {setting!r}", field="setting")


def _flag(value: Any) -> bool | None:
    # The kernel presets spoofchk/trust to -1 (0xffffffff): the driver did not report it.
    if value is None or value in (-1, 0xFFFFFFFF):
        return None
    return bool(value)


def _decode_vf(info: Any) -> VfState:
    mac = info.get_attr("IFLA_VF_MAC") or {}
    vlan = info.get_attr("IFLA_VF_VLAN") or {}
    rate = info.get_attr("IFLA_VF_RATE") or {}
    proto = ETH_P_8021Q
    vlan_list = info.get_attr("IFLA_VF_VLAN_LIST")
    if vlan_list is not None:
        entries = vlan_list.get_attrs("IFLA_VF_VLAN_INFO")
        if entries:
            proto = int(entries[0].get("vlan_proto", ETH_P_8021Q) or ETH_P_8021Q)
    link = info.get_attr("IFLA_VF_LINK_STATE") or {}
    return VfState(
        vf=int(mac.get("vf", vlan.get("vf", 0))),
        mac=MacAddress.parse(str(mac["mac"])[:17]) if mac.get("mac") else MacAddress.ZERO,
        vlan=int(vlan.get("vlan", 0)), qos=int(vlan.get("qos", 0)), proto=proto,
        spoofchk=_flag((info.get_attr("IFLA_VF_SPOOFCHK") or {}).get("spoofchk")),
        trust=_flag((info.get_attr("IFLA_VF_TRUST") or {}).get("trust")),
        link_state=LinkState(int(link.get("link_state", 0))),
        min_tx_rate=int(rate.get("min_tx_rate", 0)), max_tx_rate=int(rate.get("max_tx_rate", 0)))


def _send_vlan_list(index: int, vf: int, setting: VfSetting) -> None:
    assert isinstance(setting, VfVlan)
    set_vlan_list(index, vf, setting.vlan, setting.qos, setting.proto)


class RealVfNetlink:
    """VfNetlink through pyroute2 on this host (or inside network namespace ``netns``)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def _open(self) -> Any:
        from pyroute2 import IPRoute, NetNS  # imported here: only the real side needs it

        return NetNS(self.netns) if self.netns else IPRoute()

    def _index(self, ipr: Any, pf_netdev: str) -> int:
        found = ipr.link_lookup(ifname=pf_netdev)
        if not found:
            raise vf_error(errno.ENODEV, pf_netdev, None, "look up PF")
        return int(found[0])

    def get_vfs(self, pf_netdev: str) -> tuple[VfState, ...]:
        from pyroute2 import NetlinkError

        with self._open() as ipr:
            try:
                msg = tuple(ipr.link("get", index=self._index(ipr, pf_netdev), ext_mask=1))[0]
            except NetlinkError as exc:
                raise vf_error(exc.code, pf_netdev, None, "read VFs") from exc
        vfl = msg.get_attr("IFLA_VFINFO_LIST")
        if vfl is None:
            return ()
        states = [_decode_vf(info) for info in vfl.get_attrs("IFLA_VF_INFO")]
        return tuple(sorted(states, key=lambda s: s.vf))

    def _packs_short(self, setting: VfSetting) -> bool:
        # A VLAN with a protocol goes by hand (vlanlist.py); inside another namespace it
        # still goes through pyroute2 (our socket would be in this one).
        return (isinstance(setting, VfVlan) and setting.proto != ETH_P_8021Q
                and self.netns is None)

    def set_vf(self, pf_netdev: str, vf: int, setting: VfSetting) -> VfState:
        from pyroute2 import NetlinkError

        with self._open() as ipr:
            index = self._index(ipr, pf_netdev)
            try:
                if self._packs_short(setting):
                    _send_vlan_list(index, vf, setting)
                else:
                    ipr.link("set", index=index, vf=_spec(vf, setting))
            except NetlinkError as exc:
                raise vf_error(exc.code, pf_netdev, vf, setting_name(setting)) from exc
            except OSError as exc:
                raise vf_error(exc.errno or errno.EIO, pf_netdev, vf,
                               setting_name(setting)) from exc
        for state in self.get_vfs(pf_netdev):
            if state.vf == vf:
                return state
        raise vf_error(errno.EINVAL, pf_netdev, vf, "read back")
