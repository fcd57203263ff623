"""Compute v2.1 admin extension os-sriov-audit: the VF ledger's audit (compute/audit.py).

No OpenStack API checks that VF claims, port bindings, allocations and usage agree; this
admin-only extension (sriovstack's own) reports each broken invariant with its evidence and,
on POST, repairs what is safe to repair.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends

from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import AuditReport, Finding
from sriovstack.errors import Invalid
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _finding_view(f: Finding) -> dict[str, Any]:
    return {"check": str(f.check), "subject": f.subject, "evidence": f.evidence,
            "repairable": f.repairable}


def _report_view(report: AuditReport) -> dict[str, Any]:
    return {"audit": {"findings": [_finding_view(f) for f in report.findings],
                      "repaired": [_finding_view(f) for f in report.repaired],
                      "repaired_total": report.repaired_total}}


@router.get("/os-sriov-audit")
def show_sriov_audit(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"audit": {findings: [{check, subject, evidence, repairable}], repaired: [],
    repaired_total}}``; 403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-audit")
    return _report_view(ctx.services.compute.audit.check())


@router.post("/os-sriov-audit/repair")
def create_sriov_audit_repair(ctx: RequestContext = Depends(request_context)
                              ) -> dict[str, Any]:
    """200 the findings before repairing and ``repaired``, those fixed; 403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-audit")
    return _report_view(ctx.services.compute.audit.repair())


@router.post("/os-sriov-audit/resync")
def create_sriov_audit_resync(body: Any = Body(),
                              ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """``{"hosts": [names]}``: each host's agent re-applies its desired VF state (the repair
    of a VF whose MAC/VLAN on the host differs); 200 ``{"hosts": [nudged]}``; 400 for a
    malformed body; 403 unless admin."""
    policy.require_admin(ctx.caller, "os-sriov-audit")
    hosts = body.get("hosts") if isinstance(body, dict) else None
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise Invalid("the body must be {\"hosts\": [host names]}", field="hosts")
    return {"hosts": list(ctx.services.compute.audit.resync(hosts))}
