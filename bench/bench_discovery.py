"""Benchmark: discovery time on a simulated host with 4 PFs x 64 VFs (two dual-port X710s).

Run by hand: ``.venv/bin/python bench/bench_discovery.py [--runs N]``.  Prints the build time
and the median/min/max of ``discover()`` through the simulated kernel and through RealSysfs
over the same tree (the path a real host takes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sriovstack.host.discovery import discover
from sriovstack.host.simulated import open_simulated_host
from sriovstack.host.simulated.fixture import build_host
from sriovstack.host.simulated.topology import parse_topology
from sriovstack.host.sysfs import RealSysfs, SysfsIO


def _topology(root: Path) -> None:
    nics = [{"model": "intel-x710", "address": f"0000:{bus}:00.0", "netdevs": [f"{n}f0",
             f"{n}f1"], "numvfs": 64} for bus, n in (("3b", "ens1"), ("5e", "ens2"))]
    data = {"host": [{"name": "bench", "role": "compute", "iommu": "intel", "nic": nics}]}
    build_host(parse_topology(data, root / "bench.toml").hosts[0], root / "host")


def _time(sysfs: SysfsIO, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        inv = discover(sysfs)
        out.append(time.perf_counter() - start)
    assert [len(pf.vfs) for pf in inv.pfs] == [64, 64, 64, 64]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        _topology(Path(tmp))
        print(f"build 4 PFs x 64 VFs: {time.perf_counter() - start:.2f} s")
        for label, sysfs in (("simulated kernel", open_simulated_host(Path(tmp) / "host").sysfs),
                             ("RealSysfs", RealSysfs(Path(tmp) / "host"))):
            t = _time(sysfs, args.runs)
            print(f"discover via {label}: median {statistics.median(t) * 1000:.1f} ms, "
                  f"min {min(t) * 1000:.1f} ms, max {max(t) * 1000:.1f} ms ({args.runs} runs)")


if __name__ == "__main__":
    main()
