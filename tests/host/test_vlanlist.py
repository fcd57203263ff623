"""The hand-built IFLA_VF_VLAN_LIST request (pyroute2 packs it 2 bytes short)."""

from __future__ import annotations

import errno
import os
import socket
import struct

import pytest

from sriovstack.host.vlanlist import request, set_vlan_list


def test_the_vlan_info_is_the_kernels_16_byte_struct_with_a_big_endian_protocol() -> None:
    msg = request(index=7, vf=1, vlan=20, qos=3, proto=0x88A8, seq=9)
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", msg)
    assert (length, kind, flags, seq) == (len(msg), 19, 0x5, 9)
    assert struct.unpack_from("=i", msg, 16 + 4)[0] == 7  # ifinfomsg.ifi_index
    # VFINFO_LIST > VF_INFO > VF_VLAN_LIST > VF_VLAN_INFO, each header 4 bytes
    nested = msg[32:]
    sizes = [struct.unpack_from("=HH", nested, 4 * i) for i in range(4)]
    assert sizes == [(32, 22), (28, 1), (24, 12), (20, 1)]
    assert nested[16:] == struct.pack("=III", 1, 20, 3) + b"\x88\xa8\0\0"


@pytest.mark.skipif(os.geteuid() != 0, reason="RTM_SETLINK needs CAP_NET_ADMIN")
def test_the_kernel_reads_it_whole_and_lo_answers_eopnotsupp() -> None:
    # A short VF_VLAN_INFO would be EINVAL from rtnetlink; a whole one reaches the device,
    # and lo has no VF callbacks.
    with pytest.raises(OSError) as info:
        set_vlan_list(socket.if_nametoindex("lo"), 0, 20, 0, 0x88A8)
    assert info.value.errno == errno.EOPNOTSUPP
