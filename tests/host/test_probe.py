"""The device-spec probe over the sysfs seam: the same answers on the simulated kernel and on
plain files under a root (the real side), and the devspec parser asking it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.host import SysfsDeviceProbe, device_probe
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import bundled_topology
from sriovstack.pci import DeviceProbe, parse_device_specs


@pytest.fixture(params=["simulated kernel", "real files"])
def probe(request: pytest.FixtureRequest, tmp_path: Path) -> DeviceProbe:
    root = tmp_path / "compute0"
    build_host(bundled_topology().host("compute0"), root)
    host = open_simulated_host(root)
    host.sysfs.write("/sys/bus/pci/devices/0000:0b:00.1/sriov_numvfs", "2")
    return SysfsDeviceProbe(host.sysfs) if request.param == "simulated kernel" else \
        device_probe(root)


@pytest.mark.parametrize(("function", "pf"), [
    ("0000:0b:00.1", True),     # an 82576 port: sriov_totalvfs 7
    ("0000:0b:10.1", False),    # its first VF: no sriov_totalvfs
    ("0000:0b:1f.7", False),    # no such function
    ("0000:0B:00.1", False),    # names are taken as written (nova): no such sysfs entry
])
def test_is_pf(probe: DeviceProbe, function: str, pf: bool) -> None:
    assert probe.is_pf(function) is pf


@pytest.mark.parametrize(("devname", "function"), [
    ("enp11s0f1", "0000:0b:00.1"), ("enp11s0f1v0", "0000:0b:10.1"), ("ens9", None),
])
def test_function_of(probe: DeviceProbe, devname: str, function: str | None) -> None:
    assert probe.function_of(devname) == function


def test_a_root_path_given_as_the_probe_is_refused_with_the_way_to_it(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"device_probe\(root\)"):
        parse_device_specs(['{"devname": "ens1f0"}'], str(tmp_path))  # type: ignore[arg-type]
