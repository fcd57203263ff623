"""Topology files: the bundled chapter deployment, the tree the builder lays out, strict validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sriovstack.errors import ConfigError, NotFound
from sriovstack.host.simulated.catalogue import MODELS, model
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import (IommuKind, Role, bundled_topology,
                                                load_topology)
from sriovstack.pci.names import pci_names


def test_chapter_topology_has_the_chapters_hosts() -> None:
    top = bundled_topology("chapter")
    assert [(h.name, h.role) for h in top.hosts] == [
        ("controller", Role.CONTROLLER), ("network", Role.NETWORK),
        ("compute0", Role.COMPUTE), ("compute1", Role.COMPUTE)]
    c0 = top.host("compute0")
    assert c0.iommu is IommuKind.INTEL and c0.interrupt_remapping and c0.vfio
    assert "intel_iommu=on iommu=pt" in c0.kernel_cmdline
    nic = c0.nics[0]
    assert nic.model.key == "intel-82576" and nic.netdevs == ("enp11s0f0", "enp11s0f1")
    assert [str(a) for a in nic.port_addresses()] == ["0000:0b:00.0", "0000:0b:00.1"]
    with pytest.raises(NotFound, match="compute0, compute1"):
        top.host("compute9")


def test_built_compute_node_has_the_host_files(tmp_path: Path) -> None:
    build_host(bundled_topology().host("compute0"), tmp_path)
    read = lambda p: (tmp_path / p).read_text()  # noqa: E731
    assert "intel_iommu=on iommu=pt" in read("proc/cmdline")
    assert "IR-PCI-MSIX-0000:0b:00.0" in read("proc/interrupts")
    assert "IR-IO-APIC" in read("proc/interrupts")
    modules = [line.split()[0] for line in read("proc/modules").splitlines()]
    assert {"igb", "igbvf", "vfio_pci", "vfio_iommu_type1", "kvm"} <= set(modules)
    assert (int(read("sys/class/iommu/dmar0/intel-iommu/ecap"), 16) >> 3) & 1 == 1
    assert read("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts") == "N\n"
    assert (tmp_path / "dev/vfio/vfio").exists()
    assert (tmp_path / "sys/bus/pci/drivers/vfio-pci/bind").exists()
    for d in ("etc/modprobe.d", "etc/systemd/system", "etc/udev/rules.d"):
        assert (tmp_path / d).is_dir() and not os.listdir(tmp_path / d)
    pf = tmp_path / "sys/bus/pci/devices/0000:0b:00.0"
    assert read(f"{pf}/sriov_vf_device") == "10ca\n"  # hex without 0x (§1.2)
    assert read(f"{pf}/vendor") == "0x8086\n" and read(f"{pf}/class") == "0x020000\n"
    assert os.readlink(pf / "driver") == "../../../../bus/pci/drivers/igb"
    assert os.readlink(tmp_path / "sys/class/net/enp11s0f0") == \
        "../../devices/pci0000:00/0000:00:01.0/0000:0b:00.0/net/enp11s0f0"


def test_interrupt_remapping_off_clears_ecap_bit_3_and_ir_prefixes(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text('[[host]]\nname = "c"\nrole = "compute"\niommu = "intel"\n'
                    'interrupt_remapping = false\nallow_unsafe_interrupts = true\n')
    build_host(load_topology(toml).hosts[0], tmp_path / "r")
    r = tmp_path / "r"
    assert (int((r / "sys/class/iommu/dmar0/intel-iommu/ecap").read_text(), 16) >> 3) & 1 == 0
    assert "IR-" not in (r / "proc/interrupts").read_text()
    assert (r / "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts"
            ).read_text() == "Y\n"


def test_amd_host_has_ivhd_unit(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text('[[host]]\nname = "c"\nrole = "compute"\niommu = "amd"\n')
    build_host(load_topology(toml).hosts[0], tmp_path / "r")
    assert (tmp_path / "r/sys/class/iommu/ivhd0/amd-iommu/features").exists()
    assert (tmp_path / "r/sys/firmware/acpi/tables/IVRS").exists()


def test_fixture_enables_the_topologys_vfs(tmp_path: Path) -> None:
    toml = tmp_path / "t.toml"
    toml.write_text('[[host]]\nname = "c"\nrole = "compute"\niommu = "intel"\n'
                    '[[host.nic]]\nmodel = "mellanox-connectx3"\naddress = "0000:04:00.0"\n'
                    'netdevs = ["ens4"]\nnumvfs = 4\n')
    build_host(load_topology(toml).hosts[0], tmp_path / "r")
    assert (tmp_path / "r/sys/bus/pci/devices/0000:04:00.0/sriov_numvfs").read_text() == "4\n"
    assert os.readlink(tmp_path / "r/sys/bus/pci/devices/0000:04:00.0/virtfn0") == \
        "../0000:04:00.1"


BASE = '[[host]]\nname = "c0"\nrole = "compute"\niommu = "intel"\n'
NIC = '[[host.nic]]\nmodel = "intel-82576"\naddress = "0000:0b:00.0"\nnetdevs = ["a", "b"]\n'


@pytest.mark.parametrize(("text", "where", "says"), [
    (BASE + "colour = 1\n", "host 'c0'.colour", "unknown key 'colour'"),
    (BASE + NIC + "speed = 10\n", "host 'c0'.nic[0].speed", "unknown key 'speed'"),
    (BASE.replace('"compute"', '"storage"'), "host 'c0'.role", "'storage' is not valid"),
    (BASE.replace('"intel"', '"arm"'), "host 'c0'.iommu", "'arm' is not valid"),
    (BASE + "cpus = \"16\"\n", "host 'c0'.cpus", "expected a int"),
    (BASE + "vfio = 1\n", "host 'c0'.vfio", "expected a bool"),
    (BASE + "cpus = 0\n", "host 'c0'.cpus", "at least 1"),
    ('[[host]]\nrole = "compute"\n', "host[0].name", "missing required key 'name'"),
    (BASE + NIC.replace("intel-82576", "intel-e1000"), "nic[0].model",
     "unknown NIC model 'intel-e1000'"),
    (BASE + NIC.replace("0000:0b:00.0", "0b:00:0"), "nic[0].address", "not a PCI address"),
    (BASE + NIC.replace("0000:0b:00.0", "0000:0b:00.7"), "nic[0].address", "2 ports"),
    (BASE + NIC.replace('["a", "b"]', '["a"]'), "nic[0].netdevs", "needs 2 netdev"),
    (BASE + NIC + "numvfs = 8\n", "nic[0].numvfs", "out of range"),
    (BASE + NIC + "numvfs = 2\ndriver_bound = false\n", "nic[0].numvfs", "bound PF driver"),
    (BASE + NIC + NIC, "nic.address", "used by two NICs"),
    (BASE.replace('"intel"', '"none"') + "interrupt_remapping = true\n",
     "interrupt_remapping", "needs an IOMMU"),
    (BASE + BASE, "host.name", "used twice"),
    ("[[host]\n", "", "not valid TOML"),
    ("hosts = []\n", "topology.hosts", "unknown key 'hosts'"),
])
def test_bad_topologies_name_file_host_and_key(tmp_path: Path, text: str, where: str,
                                               says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_topology(path)
    msg = str(exc.value)
    assert str(path) in msg and where in msg and says in msg


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read topology"):
        load_topology(tmp_path / "nope.toml")


@pytest.mark.parametrize(("key", "ids", "driver", "vf_driver", "total"), [
    ("intel-82576", ("8086", "10c9", "10ca"), "igb", "igbvf", 7),
    ("intel-x540", ("8086", "1528", "1515"), "ixgbe", "ixgbevf", 63),
    ("intel-x710", ("8086", "1572", "154c"), "i40e", "iavf", 64),
    ("mellanox-connectx3", ("15b3", "1003", "1004"), "mlx4_core", "mlx4_core", 16),
    ("mellanox-connectx4lx", ("15b3", "1015", "1016"), "mlx5_core", "mlx5_core", 64),
])
def test_catalogue_figures(key: str, ids: tuple[str, str, str], driver: str, vf_driver: str,
                           total: int) -> None:
    m = model(key)
    assert (m.vendor_id, m.device_id, m.vf_device_id) == ids
    assert (m.driver, m.caps.vf_driver, m.totalvfs) == (driver, vf_driver, total)
    assert len(m.vf_offsets) == m.ports


@pytest.mark.parametrize("key", sorted(MODELS))
def test_every_model_the_simulator_builds_has_lspci_names(key: str) -> None:
    m = model(key)
    for device in (m.device_id, m.vf_device_id):
        assert None not in pci_names(m.vendor_id, device), (key, device)


def test_unknown_model() -> None:
    with pytest.raises(NotFound, match="intel-82576"):
        model("nope")
    assert len(MODELS) == 5
