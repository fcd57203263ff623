"""Which data plane `sriovstack all-in-one` and `sriovstack demo` run, its name prefix per state
directory, the refusal of a virt driver that cannot drive it, and the VF ids a topology's NICs
add to supported_pci_vendor_devs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.allinone.dataplane import DataplaneMode, choose_dataplane, dataplane_prefix
from sriovstack.allinone.hosts import prepare_hosts
from sriovstack.cli.main import main
from sriovstack.errors import ConfigError
from sriovstack.dataplane.names import Names
from sriovstack.host.simulated.topology import bundled_topology, load_topology

NETNS, NONE = DataplaneMode.NETNS, DataplaneMode.NONE


@pytest.mark.parametrize("asked, virt, euid, chosen, note", [
    (None, None, 0, NETNS, None),                     # root: real packets by default
    (None, None, 1000, NONE, "needs root"),           # not root: says why, in one line
    (None, "fake", 0, NONE, "--virt-driver fake"),    # another virt driver was asked for
    (None, "libvirt", 0, NONE, "--virt-driver libvirt"),
    (NETNS, None, 1000, NETNS, None),                 # asked: enable_dataplane refuses later
    (NONE, None, 0, NONE, None),
    (NONE, "libvirt", 0, NONE, None),
])
def test_the_data_plane_chosen(asked: DataplaneMode | None, virt: str | None, euid: int,
                               chosen: DataplaneMode, note: str | None) -> None:
    got, said = choose_dataplane(asked, virt, euid)
    assert got is chosen
    if note is None:
        assert said is None
    else:
        assert said is not None and note in said and "\n" not in said


@pytest.mark.parametrize("virt", ["fake", "libvirt"])
def test_netns_with_another_virt_driver_is_refused_naming_the_option(virt: str) -> None:
    with pytest.raises(ConfigError, match=f"--virt-driver {virt} cannot drive"):
        choose_dataplane(NETNS, virt, 0)


def test_the_cli_refuses_it_with_exit_2_before_building_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["all-in-one", "--state-dir", str(tmp_path / "cloud"), "--dataplane", "netns",
                 "--virt-driver", "libvirt"])
    err = capsys.readouterr().err
    assert code == 2 and "--virt-driver" in err and "Traceback" not in err
    assert not (tmp_path / "cloud").exists()


def test_each_state_dir_gets_its_own_valid_prefix(tmp_path: Path) -> None:
    a, b = dataplane_prefix(tmp_path / "a"), dataplane_prefix(tmp_path / "b")
    assert a != b and a == dataplane_prefix(tmp_path / "a")
    for prefix in (a, b):
        assert Names(prefix).prefix == prefix  # a prefix the data plane accepts
        assert not prefix.startswith("ss-") and not "ss-".startswith(prefix)


_X710_TOPOLOGY = """
[[host]]
name = "controller"
role = "controller"
[[host]]
name = "compute0"
role = "compute"
iommu = "intel"
  [[host.nic]]
  model = "intel-x710"
  address = "0000:3b:00.0"
  netdevs = ["ens1f0", "ens1f1"]
  numvfs = 2
"""


def _vendor_devs(host_root: Path) -> str:
    text = (host_root / "etc/neutron/plugins/ml2/ml2_conf_sriov.ini").read_text()
    return next(line for line in text.splitlines()
                if line.startswith("supported_pci_vendor_devs"))


def test_a_topologys_vfs_join_supported_pci_vendor_devs(tmp_path: Path) -> None:
    (tmp_path / "x710.toml").write_text(_X710_TOPOLOGY)
    hosts = prepare_hosts(load_topology(tmp_path / "x710.toml"), tmp_path / "x710")
    assert _vendor_devs(hosts[0].root) == \
        "supported_pci_vendor_devs = 15b3:1004,8086:10ca,8086:154c"
    # The chapter's own 82576 VFs (8086:10ca) are listed already: its line stays as written.
    chapter = prepare_hosts(bundled_topology(), tmp_path / "chapter")
    assert _vendor_devs(chapter[0].root) == "supported_pci_vendor_devs = 15b3:1004,8086:10ca"
