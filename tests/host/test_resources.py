"""A host's CPUs and memory through the sysfs seam: the simulated tree answers as the real
files do, and a file that cannot tell is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.errors import HostError
from sriovstack.host import open_real_host
from sriovstack.host.resources import CPU_ONLINE, MEMINFO, memory_mb, online_cpus
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology


def test_a_simulated_host_reports_its_topologys_cpus_and_memory(tmp_path: Path) -> None:
    data = {"host": [{"name": "c0", "role": "compute", "iommu": "intel", "cpus": 24,
                      "memory_mb": 98304, "nic": []}]}
    build_host(parse_topology(data, tmp_path / "t.toml").hosts[0], tmp_path / "root")
    for sysfs in (open_simulated_host(tmp_path / "root").sysfs,
                  open_real_host(tmp_path / "root").sysfs):
        assert (online_cpus(sysfs), memory_mb(sysfs)) == (24, 98304)


def _files(root: Path, online: str | None, meminfo: str | None) -> Path:
    for path, text in ((CPU_ONLINE, online), (MEMINFO, meminfo)):
        if text is not None:
            (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / path.lstrip("/")).write_text(text)
    return root


@pytest.mark.parametrize(("online", "cpus"), [("0-15,32-47\n", 32), ("0\n", 1), ("0,2,4-5", 4)])
def test_online_cpu_lists(tmp_path: Path, online: str, cpus: int) -> None:
    assert online_cpus(open_real_host(_files(tmp_path, online, None)).sysfs) == cpus


@pytest.mark.parametrize(("online", "meminfo", "read", "named"), [
    (None, None, online_cpus, "cannot read /sys/devices/system/cpu/online"),
    ("0-3,x", None, online_cpus, "holds '0-3,x'"),
    (None, "MemFree: 10 kB\n", memory_mb, "/proc/meminfo has no MemTotal"),
    (None, "MemTotal: lots\n", memory_mb, "/proc/meminfo has no MemTotal"),
])
def test_a_file_that_cannot_tell_is_named(tmp_path: Path, online: str | None,
                                          meminfo: str | None, read: object,
                                          named: str) -> None:
    sysfs = open_real_host(_files(tmp_path, online, meminfo)).sysfs
    with pytest.raises(HostError, match=named):
        read(sysfs)  # type: ignore[operator]
