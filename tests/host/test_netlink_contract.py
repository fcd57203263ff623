"""The VfNetlink seam's contract: the simulated side always, the pyroute2 side where possible.

The shared contract runs on both: unknown PF → ENODEV, a netdev without VF support (veth here,
``lo`` on the simulated host) → EOPNOTSUPP on set and no VFs on get.  The real side needs root
and network namespaces; it runs in a throwaway netns and skips cleanly otherwise.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sriovstack.errors import DriverNotSupported, HostError, Invalid
from sriovstack.host.netlink import (ETH_P_8021AD, LinkState, RealVfNetlink, VfLinkState, VfMac,
                                     VfNetlink, VfRate, VfSetting, VfSpoofCheck, VfTrust, VfVlan)
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress


@dataclass(frozen=True)
class Side:
    netlink: VfNetlink
    no_vf_netdev: str


def _simulated(tmp_path: Path, model: str = "intel-82576", numvfs: int = 4,
               link: str = "up") -> Path:
    spec = {"model": model, "address": "0000:0b:00.0", "netdevs": ["p0", "p1"][:1 if model ==
            "mellanox-connectx3" else 2], "numvfs": numvfs, "link": link}
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "intel", "nic": [spec]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    return tmp_path / "root"


@pytest.fixture
def real_side() -> Iterator[Side]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the real netlink side needs root and iproute2")
    ns = f"srt-{uuid.uuid4().hex[:8]}"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        made = subprocess.run(["ip", "-n", ns, "link", "add", "srtv0", "type", "veth", "peer",
                               "name", "srtv1"], capture_output=True)
        if made.returncode != 0:
            pytest.skip("cannot create a veth pair here")
        yield Side(RealVfNetlink(netns=ns), "srtv0")
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def simulated_side(tmp_path: Path) -> Side:
    return Side(open_simulated_host(_simulated(tmp_path)).netlink, "lo")


@pytest.fixture(params=["simulated", "real"])
def side(request: pytest.FixtureRequest) -> Side:
    name = "simulated_side" if request.param == "simulated" else "real_side"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


# --- the shared contract ---------------------------------------------------------------------

def test_unknown_pf_is_enodev(side: Side) -> None:
    with pytest.raises(HostError) as exc:
        side.netlink.set_vf("nosuchpf0", 0, VfMac(MacAddress("fa:16:3e:00:00:01")))
    assert exc.value.errno == errno.ENODEV and "nosuchpf0" in str(exc.value)
    with pytest.raises(HostError) as exc:
        side.netlink.get_vfs("nosuchpf0")
    assert exc.value.errno == errno.ENODEV


@pytest.mark.parametrize("setting", [
    VfMac(MacAddress("52:54:00:aa:bb:cc")), VfVlan(100), VfSpoofCheck(False), VfTrust(True),
    VfLinkState(LinkState.ENABLE), VfRate(0, 1000)])
def test_netdev_without_vf_support_is_eopnotsupp(side: Side, setting: VfSetting) -> None:
    with pytest.raises(DriverNotSupported) as exc:
        side.netlink.set_vf(side.no_vf_netdev, 0, setting)
    assert exc.value.errno == errno.EOPNOTSUPP


def test_netdev_without_vf_support_lists_no_vfs(side: Side) -> None:
    assert side.netlink.get_vfs(side.no_vf_netdev) == ()


def test_both_sides_satisfy_the_protocol(simulated_side: Side) -> None:
    assert isinstance(simulated_side.netlink, VfNetlink)
    assert isinstance(RealVfNetlink(), VfNetlink)


# --- the simulated side's driver behaviour ---------------------------------------------------

def test_defaults_and_read_back(tmp_path: Path) -> None:
    nl = open_simulated_host(_simulated(tmp_path)).netlink
    vfs = nl.get_vfs("p0")
    assert [v.vf for v in vfs] == [0, 1, 2, 3]
    assert (vfs[0].mac, vfs[0].vlan, vfs[0].spoofchk, vfs[0].trust, vfs[0].link_state) == (
        MacAddress.ZERO, 0, True, False, LinkState.AUTO)
    state = nl.set_vf("p0", 2, VfMac(MacAddress.parse("FA:16:3E:11:22:33")))
    assert state.mac == MacAddress("fa:16:3e:11:22:33") and state.vf == 2
    nl.set_vf("p0", 2, VfVlan(15, qos=3))
    nl.set_vf("p0", 2, VfSpoofCheck(False))
    nl.set_vf("p0", 2, VfTrust(True))
    got = nl.get_vfs("p0")[2]
    assert (got.mac, got.vlan, got.qos, got.spoofchk, got.trust) == (
        MacAddress("fa:16:3e:11:22:33"), 15, 3, False, True)
    assert nl.get_vfs("p1") == nl.get_vfs("p1")  # the other port is untouched
    assert nl.get_vfs("p1")[2].vlan == 0


@pytest.mark.parametrize(("vf", "setting", "code"), [
    (4, VfMac(MacAddress("fa:16:3e:00:00:01")), errno.EINVAL),         # VF index >= numvfs
    (0, VfMac(MacAddress("01:00:5e:00:00:01")), errno.EINVAL),          # multicast MAC
    (0, VfVlan(4096), errno.EINVAL),
    (0, VfVlan(10, qos=8), errno.EINVAL),
    (0, VfVlan(10, proto=0x9100), errno.EPROTONOSUPPORT),
    (0, VfVlan(10, proto=ETH_P_8021AD), errno.EPROTONOSUPPORT),  # igb: 802.1Q only
    (0, VfLinkState(LinkState.DISABLE), errno.EOPNOTSUPP),   # igb has no link-state callback
    (0, VfRate(100, 1000), errno.EINVAL),                    # igb refuses any min_tx_rate
])
def test_igb_refusals(tmp_path: Path, vf: int, setting: VfSetting, code: int) -> None:
    nl = open_simulated_host(_simulated(tmp_path)).netlink
    before = nl.get_vfs("p0")
    with pytest.raises(HostError) as exc:
        nl.set_vf("p0", vf, setting)
    assert exc.value.errno == code and "p0 vf" in str(exc.value)
    assert nl.get_vfs("p0") == before  # nothing half-applied


@pytest.mark.parametrize(("link", "max_tx_rate", "code"), [
    ("down", 100, errno.EINVAL),    # igb_ndo_set_vf_bw: no link speed, no rate
    ("up", 1000, 0),
    ("up", 2000, errno.EINVAL),     # above the PF's 1000 Mb/s
    ("down", 0, 0),                 # clearing the rate needs no link
])
def test_igb_rates_need_the_pf_link_as_the_real_82576_does(tmp_path: Path, link: str,
                                                           max_tx_rate: int, code: int) -> None:
    nl = open_simulated_host(_simulated(tmp_path, link=link)).netlink
    if code == 0:
        assert nl.set_vf("p0", 0, VfRate(0, max_tx_rate)).max_tx_rate == max_tx_rate
        return
    with pytest.raises(HostError) as exc:
        nl.set_vf("p0", 0, VfRate(0, max_tx_rate))
    assert exc.value.errno == code


@pytest.mark.parametrize(("model", "setting", "code"), [
    ("intel-x710", VfLinkState(LinkState.DISABLE), 0),
    ("intel-x710", VfRate(100, 1000), errno.EINVAL),
    ("intel-x540", VfLinkState(LinkState.ENABLE), errno.EOPNOTSUPP),
    ("mellanox-connectx4lx", VfVlan(10, proto=ETH_P_8021AD), 0),
    ("mellanox-connectx4lx", VfRate(100, 1000), errno.EOPNOTSUPP),
    ("mellanox-connectx4lx", VfRate(0, 1000), 0),
    ("intel-x710", VfVlan(10, proto=ETH_P_8021AD), errno.EPROTONOSUPPORT),
    ("mellanox-connectx3", VfTrust(True), errno.EOPNOTSUPP),
])
def test_per_driver_capabilities(tmp_path: Path, model: str, setting: VfSetting,
                                 code: int) -> None:
    nl = open_simulated_host(_simulated(tmp_path, model=model, numvfs=2)).netlink
    if code == 0:
        assert nl.set_vf("p0", 1, setting).vf == 1
        return
    with pytest.raises(HostError) as exc:
        nl.set_vf("p0", 1, setting)
    assert exc.value.errno == code


def test_unreported_trust_reads_as_none(tmp_path: Path) -> None:
    nl = open_simulated_host(_simulated(tmp_path, model="mellanox-connectx3", numvfs=1)).netlink
    assert nl.get_vfs("p0")[0].trust is None


def test_pf_without_vfs_lists_none_and_refuses_vf_0(tmp_path: Path) -> None:
    nl = open_simulated_host(_simulated(tmp_path, numvfs=0)).netlink
    assert nl.get_vfs("p0") == ()
    with pytest.raises(HostError) as exc:
        nl.set_vf("p0", 0, VfSpoofCheck(True))
    assert exc.value.errno == errno.EINVAL


@pytest.mark.parametrize("bad", [
    lambda: VfMac("fa:16:3e:00:00:01"),  # text, not a MacAddress
    lambda: VfVlan(-1), lambda: VfRate(0, -5), lambda: VfVlan(True)])  # type: ignore[arg-type]
def test_setting_values_are_checked_at_construction(bad: object) -> None:
    with pytest.raises(Invalid):
        bad()  # type: ignore[operator]
