"""Agent settings from the chapter's files, checked against the host: a bad config refuses to
start with the file, the option and the reason (the chapter's own 20.6 slips among them), from
the library and from ``sriovstack agent`` (exit 2, nothing contacted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.agents import ComputeAgentSettings, load_nic_mappings, load_whitelist
from sriovstack.agents.config import host_name, host_resources_from
from sriovstack.cli.main import main
from sriovstack.errors import ConfigError
from sriovstack.host import Host, open_real_host
from sriovstack.host.discovery import discover
from tests.agents.conftest import NOVA_CONF, SRIOV_INI


def test_the_chapter_files_give_the_mappings_the_agent_reports(compute0: Host) -> None:
    mappings = load_nic_mappings([SRIOV_INI], discover(compute0.sysfs))
    assert mappings.device_mappings() == (("physnet1", ("enp11s0f1",)),)
    assert mappings.excluded == {}


@pytest.mark.parametrize("sriov_nic, option, reason", [
    # 20.6 as printed: the chapter's PF name is not this host's.
    ("physical_device_mappings = physnet1:enp4s0f1",
     "physical_device_mappings", "no SR-IOV PF netdev 'enp4s0f1' on this host"),
    # A netdev that exists but is no SR-IOV PF (the loopback).
    ("physical_device_mappings = physnet1:lo", "physical_device_mappings",
     "no SR-IOV PF netdev 'lo'"),
    # 20.6 step 4 as printed: eth1 is not mapped.
    ("physical_device_mappings = physnet1:enp11s0f1\n"
     "exclude_devices = eth1:0000:07:00.2;0000:07:00.3, eth2:0000:05:00.1;0000:05:00.2",
     "exclude_devices", "'eth1' is missing from physical_device_mappings"),
    ("physical_device_mappings = physnet1", "physical_device_mappings", "invalid mapping"),
    ("exclude_devices =", "physical_device_mappings", "no PF is mapped"),
])
def test_bad_nic_agent_config_names_file_option_and_reason(compute0: Host, tmp_path: Path,
                                                           sriov_nic: str, option: str,
                                                           reason: str) -> None:
    ini = tmp_path / "sriov_agent.ini"
    ini.write_text(f"[sriov_nic]\n{sriov_nic}\n")
    with pytest.raises(ConfigError) as info:
        load_nic_mappings([ini], discover(compute0.sysfs))
    text = str(info.value)
    assert str(ini) in text and f"[sriov_nic] {option}" in text and reason in text
    assert info.value.fix  # and it says what would be right


def test_the_nic_agent_cli_refuses_to_start_on_bad_config(compute0: Host, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    ini = tmp_path / "sriov_agent.ini"
    ini.write_text("[sriov_nic]\nphysical_device_mappings = physnet1:enp4s0f1\n")
    code = main(["agent", "sriov", "--config-file", str(ini), "--root", str(compute0.root),
                 "--state-dir", str(tmp_path / "state"), "--api", "http://192.0.2.1:9",
                 "--credentials", str(tmp_path / "absent.conf")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(ini) in err and "physical_device_mappings" in err and "enp4s0f1" in err
    assert "Traceback" not in err


def test_the_compute_agent_cli_refuses_a_bad_whitelist(compute0: Host, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    nova = tmp_path / "nova.conf"
    nova.write_text('[DEFAULT]\npci_passthrough_whitelist = {"devname": "enp11s0f1", '
                    '"physical_network": "physnet1", "vendor_id": "80866"}\n')
    code = main(["agent", "compute", "--config-file", str(nova), "--root", str(compute0.root),
                 "--virt", "fake", "--state-dir", str(tmp_path / "state"),
                 "--credentials", str(tmp_path / "absent.conf")])
    err = capsys.readouterr().err
    assert code == 2 and str(nova) in err and "pci_passthrough_whitelist" in err
    assert "80866" in err


def test_the_cli_names_a_missing_credentials_file_after_the_config_passed(
        compute0: Host, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["agent", "sriov", "--config-file", str(SRIOV_INI), "--root",
                 str(compute0.root), "--credentials", str(tmp_path / "absent.conf")])
    assert code == 2 and "absent.conf: --credentials" in capsys.readouterr().err


def test_host_name_and_resources_come_from_the_host_unless_given(compute0: Host,
                                                                 tmp_path: Path) -> None:
    assert host_name(compute0.sysfs) == "compute0"
    assert host_name(compute0.sysfs, "other") == "other"
    settings = ComputeAgentSettings("compute0", (str(NOVA_CONF),), tmp_path, disk_gb=40)
    assert host_resources_from(compute0.sysfs, settings) == (16, 65536, 40)
    given = ComputeAgentSettings("compute0", (), tmp_path, vcpus=4, memory_mb=2048, disk_gb=1)
    assert host_resources_from(compute0.sysfs, given) == (4, 2048, 1)


@pytest.mark.parametrize(("given", "option"), [({"memory_mb": 1}, "--vcpus"),
                                               ({"vcpus": 1}, "--memory-mb")])
def test_resources_the_host_cannot_tell_name_the_option_to_pass(
        tmp_path: Path, given: dict[str, int], option: str) -> None:
    bare = open_real_host(tmp_path)  # no /sys, no /proc
    settings = ComputeAgentSettings("c", (), tmp_path, disk_gb=1, **given)
    with pytest.raises(ConfigError) as exc:
        host_resources_from(bare.sysfs, settings)
    assert exc.value.option == option and exc.value.fix == f"pass {option}"


def test_the_whitelist_covers_the_pf_named_by_devname_and_its_vfs(compute0: Host) -> None:
    whitelist = load_whitelist([NOVA_CONF], compute0.sysfs)
    inventory = discover(compute0.sysfs)
    pf = inventory.find_pf("enp11s0f1")
    matched = [whitelist.find(d) for d in (pf.device, *(vf.device for vf in pf.vfs))]
    assert all(s is not None and s.physical_network == "physnet1" for s in matched)
    assert whitelist.find(inventory.find_pf("enp11s0f0").device) is None
