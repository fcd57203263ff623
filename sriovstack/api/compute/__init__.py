"""The compute API (nova v2.1, microversions 2.1 to 2.79: microversions.py) under /compute."""

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sriovstack.api.compute import (flavors, hypervisors, interfaces, microversions, servers,
                                    sriov_audit, sriov_hosts, versions, flavor_manage, keypairs,
                                    quotas, services, usage, migrations)
from sriovstack.api.routes import rebuilt

__all__ = ["router"]

_PARTS = (flavors, servers, hypervisors, sriov_hosts, sriov_audit, interfaces, flavor_manage,
          keypairs, quotas, services, usage, migrations)


def _at_v21(route: BaseRoute) -> APIRoute:
    """``route`` at ``/v2.1`` + its path, negotiating the microversion before its own
    dependencies: what ``include_router(prefix="/v2.1", dependencies=[negotiate])`` serves,
    as a plain route (FastAPI matches an included router's routes through a layer of
    bookkeeping per candidate, on every request)."""
    assert isinstance(route, APIRoute), f"{route!r}: the compute parts hold API routes only"
    return rebuilt(route, path="/v2.1" + route.path, leading=[Depends(microversions.negotiate)])


# The version documents sit at the prefix root ("/compute", "/compute/v2.1", no token).
router = APIRouter(routes=[*versions.router.routes,
                           *(_at_v21(r) for part in _PARTS for r in part.router.routes)])
