"""The placement API under /placement, as osc-placement uses it (microversions 1.0-1.39).

One root provider per compute host (VCPU, MEMORY_MB, DISK_GB) and a child per PF with its
VFs as ``SRIOV_NET_VF`` inventory and usage (openstack_api_compat.md §4.6); traits, resource
classes, allocations, usages and allocation candidates read from the scheduler's rows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from sriovstack.api.context import services_of
from sriovstack.api.placement import allocations, names, providers
from sriovstack.api.placement.microversion import MAX_VERSION, MIN_VERSION, placement_version

__all__ = [
    "router",
]

_root = APIRouter()


@_root.get("", dependencies=[Depends(placement_version)])
@_root.get("/", dependencies=[Depends(placement_version)])
def list_versions(request: Request) -> dict[str, Any]:
    """The root version document (no token); 406 for a version outside 1.0-1.39."""
    base = services_of(request).settings.url("/placement")
    return {"versions": [{"id": "v1.0", "status": "CURRENT", "min_version": MIN_VERSION,
                          "max_version": MAX_VERSION,
                          "links": [{"rel": "self", "href": f"{base}/"}]}]}


# One flat list of routes (the parts' own route objects, in this order), not included routers:
# FastAPI matches an included router's routes through a layer of bookkeeping per candidate.
router = APIRouter(routes=[*_root.routes, *providers.router.routes, *names.router.routes,
                           *allocations.router.routes])
