"""Benchmark of device-spec matching: 100,000 VFs against 4 specs, as nova's anchor bench does.

Run by hand: ``.venv/bin/python bench/bench_devspec.py [--devices N] [--repeats R]``.

Workload (perf_anchors.md, figure a): the same 4 specs in the same order (vendor/product,
glob on bus 0a, regex object, product wildcard), 100,000 synthetic VFs (64 per PF at slots
02-09 / functions 0-7 on the PF's bus, 200 buses per domain, 8 domains; product 10ca on even
PFs, 154c on odd), every device matched by some spec.  GC stays on with a collection before
each repeat; the median of R repeats is reported, as nova's script does.

Figures:
- ``dict warm``: ``DeviceSpecs.match(dict)`` on one specs object reused across repeats.
- ``dict cold``: a freshly parsed specs object per repeat (its regex domain memo and
  (vendor, product) candidate table start empty).  Device address strings are parsed on
  every call either way; nothing is cached per address.
- ``typed``: ``DeviceSpecs.find(PciDevice)`` (no string parsing at all).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable

from sriovstack.pci import NO_HOST, DevType, PciAddress, PciDevice, parse_device_specs

SPECS = [
    {"vendor_id": "8086", "product_id": "10ca", "physical_network": "physnet1"},
    {"address": "*:0a:*.*", "physical_network": "physnet1"},
    {"address": {"domain": "000[0-3]", "bus": "[0-9a-f]{2}", "slot": "0[2-9]",
                 "function": "[0-7]"}, "physical_network": "physnet2"},
    {"vendor_id": "8086", "product_id": "*", "physical_network": "physnet2"},
]
NOVA_RATE = (56_800, 100_700)  # perf_anchors.md figure a, runs 1 and 2 (devices/s)


def vf_dicts(n: int) -> list[dict[str, str]]:
    """The synthetic VF inventory, as nova-style device dicts."""
    devices = []
    for i in range(n):
        pf, vf = divmod(i, 64)
        domain, bus = divmod(pf, 200)
        bus += 3
        devices.append({
            "address": f"{domain:04x}:{bus:02x}:{2 + vf // 8:02x}.{vf % 8}",
            "vendor_id": "8086",
            "product_id": "10ca" if pf % 2 == 0 else "154c",
            "dev_type": "type-VF",
            "parent_addr": f"{domain:04x}:{bus:02x}:00.0",
        })
    return devices


def typed(devices: list[dict[str, str]]) -> list[PciDevice]:
    return [PciDevice(PciAddress.parse(d["address"]), d["vendor_id"], d["product_id"],
                      DevType.VF, PciAddress.parse(d["parent_addr"])) for d in devices]


def timed(run: Callable[[], int], repeats: int) -> tuple[list[float], int]:
    samples, matched = [], 0
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        matched = run()
        samples.append(time.perf_counter() - t0)
    return samples, matched


def report(name: str, n: int, samples: list[float], matched: int) -> None:
    med = statistics.median(samples)
    rate = n / med
    print(f"{name:<11} {rate:>12,.0f} devices/s  {med / n * 1e9:7.0f} ns/device  "
          f"min {n / max(samples):,.0f} max {n / min(samples):,.0f}  matched {matched:,}  "
          f"x nova {rate / NOVA_RATE[1]:.1f}-{rate / NOVA_RATE[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    values = [json.dumps(s) for s in SPECS]
    dicts = vf_dicts(args.devices)
    objs = typed(dicts)
    specs = parse_device_specs(values, NO_HOST)

    hits = [0] * (len(specs) + 1)
    for d in objs:
        spec = specs.find(d)
        hits[specs.specs.index(spec) if spec is not None else -1] += 1
    print(f"{args.devices:,} VFs, {len(specs)} specs, hits per spec {hits[:-1]}, "
          f"unmatched {hits[-1]} (nova: [50016, 512, 25344, 24128])")

    def run_dict() -> int:
        match = specs.match
        return sum(1 for d in dicts if match(d) is not None)

    def run_dict_cold() -> int:
        match = parse_device_specs(values, NO_HOST).match
        return sum(1 for d in dicts if match(d) is not None)

    def run_typed() -> int:
        find = specs.find
        return sum(1 for d in objs if find(d) is not None)

    run_dict()  # warm the reused specs object
    report("dict warm", args.devices, *timed(run_dict, args.repeats))
    report("dict cold", args.devices, *timed(run_dict_cold, args.repeats))
    report("typed", args.devices, *timed(run_typed, args.repeats))


if __name__ == "__main__":
    main()
