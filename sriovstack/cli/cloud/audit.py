"""``sriovstack audit [--repair]``: the VF ledger's audit through the API (os-sriov-audit,
admin), plus each simulated host's own VF state (MAC/VLAN read under its root, as ``host
show`` does) against what the control plane wants.  Prints each finding with its evidence;
exits 1 while any finding remains."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sriovstack.cli.cloud.operator import host_root
from sriovstack.cli.cloud.output import console, print_list
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.compute import Finding, VfObservation, vf_state_findings

__all__ = ["register_audit"]

RESYNC_WAIT = 30.0  # seconds the agents get to re-apply a host's VF state after --repair


def register_audit(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add the top-level ``audit`` command."""
    p = subparsers.add_parser("audit", parents=[common], help="check every invariant between "
                              "servers, VF claims, port bindings, allocations, host usage and "
                              "the hosts' VF state (admin); exit 1 on findings")
    p.add_argument("--repair", action="store_true",
                   help="fix each finding that is safe to fix, then check again")
    p.set_defaults(func=run(_audit))


def _vf_findings(s: CloudSession) -> tuple[Finding, ...]:
    observed = []
    for h in s.call("GET", "compute", "/os-sriov-hosts")["hosts"]:
        root = host_root(h["host"], None)
        if root is None:
            continue
        from sriovstack.allinone import live_vfs

        live = live_vfs(root)
        devices = s.call("GET", "compute", f"/os-sriov-hosts/{h['host']}")["host"]["devices"]
        for d in devices:
            vf = live.get(d["address"])
            if d["dev_type"] != "type-VF" or vf is None:
                continue
            observed.append(VfObservation(h["host"], d["address"], d["server_id"], d["mac"],
                                          d["vlan"] or 0, str(vf.state.mac), vf.state.vlan))
    return vf_state_findings(observed)


def _rows(findings: list[dict[str, Any]], repaired: set[tuple[str, str]]) -> list[tuple[Any, ...]]:
    return [(f["check"], f["subject"], f["evidence"],
             (f["check"], f["subject"]) in repaired) for f in findings]


def _as_dict(f: Finding) -> dict[str, Any]:
    return {"check": str(f.check), "subject": f.subject, "evidence": f.evidence}


def _audit(s: CloudSession, args: argparse.Namespace) -> int:
    path, method = ("/os-sriov-audit/repair", "POST") if args.repair else \
        ("/os-sriov-audit", "GET")
    report = s.call(method, "compute", path)["audit"]
    vf = _vf_findings(s)
    findings = report["findings"] + [_as_dict(f) for f in vf]
    repaired = {(f["check"], f["subject"]) for f in report["repaired"]}
    if args.repair and vf:
        hosts = sorted({f.subject.split()[0] for f in vf})
        s.call("POST", "compute", "/os-sriov-audit/resync", {"hosts": hosts})
        deadline = time.monotonic() + RESYNC_WAIT
        left = vf
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = _vf_findings(s)
        still = {(str(f.check), f.subject) for f in left}
        repaired |= {(str(f.check), f.subject) for f in vf} - still
    if not findings:
        console().print("audit: no findings", markup=False)
        return 0
    print_list("audit findings", ("Check", "Subject", "Evidence", "Repaired"),
               _rows(findings, repaired))
    remaining = [f for f in findings if (f["check"], f["subject"]) not in repaired]
    console().print(f"audit: {len(findings)} finding(s), {len(findings) - len(remaining)} "
                    f"repaired, {len(remaining)} remaining", markup=False)
    return 1 if remaining else 0
