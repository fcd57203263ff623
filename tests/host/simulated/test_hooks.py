"""The data plane hooks of the simulated host: who calls them, when, and what a refusal does.

The data plane here is a recording fake at the hook seam; the netns one is tested with real
packets in tests/dataplane.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sriovstack.errors import HostError
from sriovstack.host import Host
from sriovstack.host.discovery import discover
from sriovstack.host.netlink import VfMac, VfState, VfVlan
from sriovstack.host.simulated import DataplaneHooks, SimState, open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.mac import MacAddress
from sriovstack.pci.address import PciAddress

PF = PciAddress.parse("0000:0b:00.0")
NUMVFS = f"/sys/bus/pci/devices/{PF}/sriov_numvfs"


@dataclass
class Recorder:
    """Records every hook call; what it saw of the host when it was called; may refuse."""

    view: Host | None = None
    calls: list[tuple[str, PciAddress, object]] = field(default_factory=list)
    refuse: bool = False

    def vfs_changed(self, pf: PciAddress) -> None:
        assert self.view is not None
        # Called once the VFs (and, autoprobed, their netdevs) are there, or gone.
        found = discover(self.view.sysfs).find_pf(str(pf))
        self.calls.append(("vfs", pf, tuple((vf.index, vf.netdev) for vf in found.vfs)))

    def vf_changed(self, pf: PciAddress, state: VfState) -> None:
        if self.refuse:
            raise HostError("the data plane refused", errno=errno.EIO)
        self.calls.append(("vf", pf, (state.vf, str(state.mac), state.vlan)))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    nic = {"model": "intel-82576", "address": str(PF), "netdevs": ["p0", "p1"]}
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "intel", "nic": [nic]}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    return tmp_path / "root"


def _opened(root: Path) -> tuple[Host, Recorder]:
    state = SimState(root)
    recorder = Recorder(open_simulated_host(root, state=state))
    hooks: DataplaneHooks = recorder
    return open_simulated_host(root, state=state, dataplane=hooks), recorder


def test_vf_count_changes_call_vfs_changed_after_the_netdevs_appear_and_go(root: Path) -> None:
    host, seen = _opened(root)
    host.sysfs.write(NUMVFS, "2")
    host.sysfs.write(NUMVFS, "0")
    assert seen.calls == [("vfs", PF, ((0, "p0v0"), (1, "p0v1"))), ("vfs", PF, ())]


def test_each_vf_setting_is_told_with_all_the_settings_it_makes(root: Path) -> None:
    host, seen = _opened(root)
    host.sysfs.write(NUMVFS, "2")
    host.netlink.set_vf("p0", 1, VfMac(MacAddress("fa:16:3e:00:00:01")))
    host.netlink.set_vf("p0", 1, VfVlan(15))
    assert seen.calls[1:] == [("vf", PF, (1, "fa:16:3e:00:00:01", 0)),
                              ("vf", PF, (1, "fa:16:3e:00:00:01", 15))]


def test_a_setting_the_data_plane_refuses_is_not_stored(root: Path) -> None:
    host, seen = _opened(root)
    host.sysfs.write(NUMVFS, "2")
    seen.refuse = True
    with pytest.raises(HostError, match="refused"):
        host.netlink.set_vf("p0", 0, VfVlan(15))
    assert host.netlink.get_vfs("p0")[0].vlan == 0


def test_a_host_opened_without_a_data_plane_calls_nothing(root: Path) -> None:
    _, seen = _opened(root)
    plain = open_simulated_host(root)
    plain.sysfs.write(NUMVFS, "2")
    plain.netlink.set_vf("p0", 0, VfVlan(15))
    assert seen.calls == [] and plain.netlink.get_vfs("p0")[0].vlan == 15
