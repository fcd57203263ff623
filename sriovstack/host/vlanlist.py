"""The one VF netlink request pyroute2 gets wrong, built by hand: a VLAN with a protocol
(``IFLA_VF_VLAN_LIST``), needed for 802.1ad.

pyroute2 0.9 packs ``IFLA_VF_VLAN_INFO`` as vf, vlan, qos, __be16 proto: 14 bytes, while the
kernel's ``struct ifla_vf_vlan_info`` is 16 (padded) and rtnetlink refuses anything shorter
with EINVAL, before the driver is asked (found by the QEMU differential tier: iproute2 got
igb's EPROTONOSUPPORT where we got EINVAL).  This module sends the RTM_SETLINK itself over
a NETLINK_ROUTE socket of the calling process's network namespace.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

__all__ = ["set_vlan_list"]

_RTM_SETLINK = 19
_NLMSG_ERROR = 2
_NLM_F_REQUEST_ACK = 0x1 | 0x4
_IFLA_VFINFO_LIST = 22
_IFLA_VF_INFO = 1
_IFLA_VF_VLAN_LIST = 12
_IFLA_VF_VLAN_INFO = 1
_TIMEOUT = 10.0


def _nla(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def request(index: int, vf: int, vlan: int, qos: int, proto: int, seq: int = 1) -> bytes:
    """The RTM_SETLINK message setting VF ``vf`` of link ``index`` to ``vlan``/``qos`` with
    VLAN protocol ``proto`` (0x8100 or 0x88a8)."""
    info = struct.pack("=III", vf, vlan, qos) + struct.pack(">H", proto) + b"\0\0"
    attrs = _nla(_IFLA_VFINFO_LIST, _nla(_IFLA_VF_INFO, _nla(
        _IFLA_VF_VLAN_LIST, _nla(_IFLA_VF_VLAN_INFO, info))))
    body = struct.pack("=BBHiII", socket.AF_UNSPEC, 0, 0, index, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), _RTM_SETLINK, _NLM_F_REQUEST_ACK, seq, 0) + body


def set_vlan_list(index: int, vf: int, vlan: int, qos: int, proto: int) -> None:
    """Send the request and wait for the kernel's answer; raises OSError with its errno."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(_TIMEOUT)
        sock.bind((0, 0))
        sock.send(request(index, vf, vlan, qos, proto))
        reply = sock.recv(65536)
    _, kind = struct.unpack_from("=IH", reply)
    if kind != _NLMSG_ERROR:
        raise OSError(errno.EPROTO, f"unexpected netlink answer type {kind}")
    code, = struct.unpack_from("=i", reply, 16)
    if code:
        raise OSError(-code, os.strerror(-code))
