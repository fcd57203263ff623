"""Placement allocations by consumer, project usages and allocation candidates (read only;
the scheduler's claims write them); admin only."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.placement.microversion import Microversion, placement_version
from sriovstack.api.placement.query import candidate_request
from sriovstack.api.placement.views import (candidates_view, consumer_allocations_view,
                                            usages_view)
from sriovstack.errors import Invalid
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()
_NUMBERED = re.compile(r"^(resources|required|member_of|in_tree)[0-9A-Za-z_-]+$")


def _admin(ctx: RequestContext = Depends(request_context)) -> RequestContext:
    policy.require_admin(ctx.caller, "placement")
    return ctx


@router.get("/allocations/{consumer_uuid}")
def show_allocations(consumer_uuid: str, version: Microversion = Depends(placement_version),
                     ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"allocations": {rp: {"generation", "resources"}}}`` (empty when unknown)."""
    allocs = ctx.services.compute.placement.consumer_allocations(consumer_uuid)
    return consumer_allocations_view(allocs, version)


@router.get("/usages")
def list_project_usages(project_id: str | None = None, user_id: str | None = None,
                        version: Microversion = Depends(placement_version),
                        ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"usages": {CLASS: n}}`` of a project (1.9; grouped by consumer type 1.38)."""
    version.require("1.9")
    if not project_id:
        raise Invalid("'project_id' is a required property", field="project_id")
    consumers, totals = ctx.services.compute.placement.usages(project_id, user_id)
    return usages_view(consumers, totals, version)


@router.get("/allocation_candidates")
def list_allocation_candidates(request: Request, resources: str | None = None,
                               required: list[str] = Query([]), limit: str | None = None,
                               group_policy: str | None = None,
                               version: Microversion = Depends(placement_version),
                               ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 the ways the cloud can hold ``resources`` now (1.10), from the same counts the
    scheduler claims against; 400 for a malformed or unknown class or trait."""
    version.require("1.10")
    numbered = [k for k in request.query_params if _NUMBERED.match(k)]
    query = candidate_request(resources, required, limit, numbered, version)
    placement = ctx.services.compute.placement
    candidates = placement.candidates(query)
    traits = {rp.uuid: placement.provider_traits(rp)
              for c in candidates for rp in c.tree}
    return candidates_view(candidates, traits, version)
