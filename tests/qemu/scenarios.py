"""The differential scenarios: the same operations on one PF of a host, their outcomes as
plain JSON (records, errnos, error types, messages), so the simulated kernel and a real one
(a QEMU guest's igb) can be compared line by line.

Run in a guest as a script: ``python scenarios.py --root / --pf eth0`` prints the JSON; the
simulated side calls ``run_scenarios`` in process.  Outcomes leave out what differs by nature
between two hosts (interrupt numbers, group numbers, MACs the driver made up): they keep
whether a VF has its own IOMMU group, not the group's number.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import sys
from collections.abc import Callable
from typing import Any

from sriovstack.errors import SriovstackError
from sriovstack.host import (Host, LinkState, PhysicalFunction, VfLinkState, VfMac, VfRate,
                             VfSetting, VfSpoofCheck, VfTrust, VfVlan, apply, check_host,
                             discover, open_real_host, plan_vf_count)
from sriovstack.mac import MacAddress

Outcome = dict[str, Any]


def _error(exc: SriovstackError) -> Outcome:
    code = getattr(exc, "errno", None)
    return {"error": type(exc).__name__,
            "errno": errno.errorcode.get(code, code) if isinstance(code, int) else None}


def _attempt(action: Callable[[], Outcome]) -> Outcome:
    try:
        return action()
    except SriovstackError as exc:
        return _error(exc)


def _pf(host: Host, name: str) -> PhysicalFunction:
    return discover(host.sysfs).find_pf(name)


def pf_record(pf: PhysicalFunction) -> Outcome:
    """What discovery says about a PF and its VFs, minus host-specific numbers."""
    groups = [vf.iommu_group for vf in pf.vfs]
    return {
        "driver": pf.driver, "id": f"{pf.device.vendor_id}:{pf.device.product_id}",
        "totalvfs": pf.totalvfs, "numvfs": pf.numvfs, "vf_device": pf.vf_device,
        "pf_has_group": pf.iommu_group is not None,
        "vfs": len(pf.vfs),
        "vf_indexes": [vf.index for vf in pf.vfs],
        "vf_slots": [f"{vf.address.slot:02x}.{vf.address.function}" for vf in pf.vfs],
        "vf_drivers": sorted({vf.driver or "-" for vf in pf.vfs}),
        "vf_ids": sorted({f"{vf.device.vendor_id}:{vf.device.product_id}" for vf in pf.vfs}),
        "vf_netdevs": all(vf.netdev for vf in pf.vfs),
        "vf_own_groups": None not in groups and len(set(groups)) == len(groups)
        and pf.iommu_group not in groups,
    }


def _set_count(host: Host, name: str, count: int) -> Outcome:
    plan = plan_vf_count(host, _pf(host, name), count)
    result = apply(plan)
    return {"writes": [s.value for s in plan.steps if s.value is not None],
            "enabled": result.enabled, "complete": result.complete}


def _raw_write(host: Host, name: str, text: str) -> Outcome:
    pf = _pf(host, name)
    try:
        host.sysfs.write(f"/sys/bus/pci/devices/{pf.address}/sriov_numvfs", text)
    except OSError as exc:
        return {"oserror": errno.errorcode.get(exc.errno or 0, exc.errno)}
    return {"written": text}


def _vf_state(host: Host, name: str, vf: int) -> Outcome:
    state = host.netlink.get_vfs(name)[vf]
    return {"mac": str(state.mac) if state.mac != MacAddress.ZERO else "zero",
            "vlan": state.vlan, "qos": state.qos, "proto": hex(state.proto),
            "spoofchk": state.spoofchk, "trust": state.trust,
            "link_state": state.link_state.name, "min_tx_rate": state.min_tx_rate,
            "max_tx_rate": state.max_tx_rate}


def _setting(host: Host, name: str, vf: int, setting: VfSetting) -> Outcome:
    host.netlink.set_vf(name, vf, setting)
    return {"ok": True, "state": _vf_state(host, name, vf)}


SETTINGS: tuple[tuple[str, int, VfSetting], ...] = (
    ("mac", 0, VfMac(MacAddress.parse("fa:16:3e:11:22:33"))),
    ("vlan 15", 0, VfVlan(15)),
    ("vlan 15 qos 3", 1, VfVlan(15, 3)),
    ("vlan 802.1ad", 1, VfVlan(20, 0, 0x88A8)),
    ("spoofchk off", 0, VfSpoofCheck(False)),
    ("spoofchk on", 0, VfSpoofCheck(True)),
    ("trust on", 0, VfTrust(True)),
    ("state disable", 0, VfLinkState(LinkState.DISABLE)),
    ("state enable", 0, VfLinkState(LinkState.ENABLE)),
    ("max_tx_rate 100 (PF down)", 0, VfRate(0, 100)),
    ("min_tx_rate 10 max 100 (PF down)", 0, VfRate(10, 100)),
    ("vf out of range", 5, VfMac(MacAddress.parse("fa:16:3e:11:22:34"))),
    ("vlan 0 (clear)", 0, VfVlan(0)),
)


def run_scenarios(host: Host, name: str) -> dict[str, Outcome]:
    """Every scenario on PF ``name`` of ``host``, in order; the PF ends with 0 VFs."""
    out: dict[str, Outcome] = {}
    out["baseline"] = pf_record(_pf(host, name))
    out["enable 7"] = _attempt(lambda: _set_count(host, name, 7))
    out["after enable 7"] = pf_record(_pf(host, name))
    out["plan 8 (over totalvfs)"] = _attempt(lambda: _set_count(host, name, 8))
    out["raw write 8 with 7 enabled"] = _raw_write(host, name, "8")
    out["raw write 3 with 7 enabled"] = _raw_write(host, name, "3")
    out["raw write abc"] = _raw_write(host, name, "abc")
    out["resize 7 -> 3"] = _attempt(lambda: _set_count(host, name, 3))
    out["after resize"] = pf_record(_pf(host, name))
    out["vf 0 defaults"] = _attempt(lambda: _vf_state(host, name, 0))
    for label, vf, setting in SETTINGS:
        out[f"set {label}"] = _attempt(lambda: _setting(host, name, vf, setting))
    out["disable"] = _attempt(lambda: _set_count(host, name, 0))
    out["after disable"] = pf_record(_pf(host, name))
    out["netlink after disable"] = _attempt(
        lambda: {"vfs": len(host.netlink.get_vfs(name))})
    report = check_host(host)
    # Item names carry PCI addresses, which differ between two hosts by nature.
    out["readiness"] = {re.sub(r" \([0-9a-f:.]+\)$", "", item.name): item.verdict.name
                        for item in report.items}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default="/")
    parser.add_argument("--pf", required=True)
    args = parser.parse_args(argv)
    json.dump(run_scenarios(open_real_host(args.root), args.pf), sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
