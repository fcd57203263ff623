"""The all-in-one's compute guests without QEMU: what each guest boots with (ports, the
topology's kernel arguments, the API forward) and the config files it reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sriovstack.allinone import ComputeHosts, GuestOptions
from sriovstack.allinone.guests import GuestComputes, guest_cmdline, guest_spec
from sriovstack.allinone.hosts import NOVA_CONF, SRIOV_AGENT_INI, prepare_guest_host
from sriovstack.errors import ConfigError, Conflict
from sriovstack.host.simulated import bundled_topology
from sriovstack.host.simulated.catalogue import MODELS


def _compute0():  # type: ignore[no-untyped-def]
    return bundled_topology().host("compute0")


def test_the_guest_boots_with_the_topologys_iommu_arguments_not_its_boot_loaders() -> None:
    cmdline = ("BOOT_IMAGE=/vmlinuz-3.10.0-327.el7.x86_64 root=/dev/mapper/rhel-root ro "
               "crashkernel=auto rhgb quiet intel_iommu=on iommu=pt igb.max_vfs=7")
    assert guest_cmdline(cmdline) == ("intel_iommu=on", "iommu=pt", "igb.max_vfs=7")
    spec = guest_spec(_compute0(), ("127.0.0.1", 8080), 1024)
    assert spec.igb_ports == 2 and spec.cmdline == ("intel_iommu=on", "iommu=pt")
    assert not spec.iommu   # intel_iommu= comes from the topology alone
    assert spec.api == ("127.0.0.1", 8080) and spec.tied


def test_qemu_compute_hosts_need_the_82576(tmp_path: Path) -> None:
    host = _compute0()
    other = next(m for m in MODELS.values() if m.key != "intel-82576")
    nic = replace(host.nics[0], model=other)
    with pytest.raises(ConfigError, match="QEMU emulates only the Intel 82576"):
        guest_spec(replace(host, nics=(nic,)), ("127.0.0.1", 1), 1024)
    with pytest.raises(ConfigError, match="0 NIC ports"):
        guest_spec(replace(host, nics=()), ("127.0.0.1", 1), 1024)


def test_the_guest_reads_the_chapters_files_with_its_own_pf_address(tmp_path: Path) -> None:
    prepared = prepare_guest_host(_compute0(), tmp_path, "0000:02:00.0")
    nova = (prepared.root / NOVA_CONF).read_text()
    assert '"devname": "enp11s0f1"' in nova and '"address": "0000:02:00.0"' in nova
    assert "0000:0b:00.1" not in nova
    ini = (prepared.root / SRIOV_AGENT_INI).read_text()
    assert "physical_device_mappings = physnet1:enp11s0f1" in ini
    assert prepared.is_compute and prepared.root == tmp_path / "hosts" / "compute0"


def test_a_guest_name_already_running_is_refused(tmp_path: Path) -> None:
    import json
    import os

    (tmp_path / "compute0.json").write_text(json.dumps({
        "name": "compute0", "pid": os.getpid(), "port": 1, "console": "/x", "accel": "tcg",
        "boot_seconds": 1.0}))
    computes = GuestComputes(GuestOptions(tmp_path / "no-image", tmp_path), print)
    with pytest.raises(Conflict, match="a QEMU guest named compute0 already runs") as info:
        computes._refuse_running("compute0")
    assert info.value.fix == "sriovstack qemu stop compute0"
    assert ComputeHosts("qemu") is ComputeHosts.QEMU
