"""The compute API (nova v2.1, microversions 2.1 to 2.79: microversions.py) under /compute."""

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sriovstack.api.compute import (flavors, hypervisors, interfaces, microversions, servers,
                                    sriov_audit, sriov_hosts, versions, flavor_manage, keypairs,
                                    quotas, services, usage, migrations)

__all__ = ["router"]

_PARTS = (flavors, servers, hypervisors, sriov_hosts, sriov_audit, interfaces, flavor_manage,
          keypairs, quotas, services, usage, migrations)


def _at_v21(route: BaseRoute) -> APIRoute:
    """``route`` at ``/v2.1`` + its path, negotiating the microversion before its own
    dependencies: what ``include_router(prefix="/v2.1", dependencies=[negotiate])`` serves,
    as a plain route (FastAPI matches an included router's routes through a layer of
    bookkeeping per candidate, on every request)."""
    assert isinstance(route, APIRoute), f"{route!r}: the compute parts hold API routes only"
    return APIRoute(
        "/v2.1" + route.path, route.endpoint, response_model=route.response_model,
        status_code=route.status_code, tags=route.tags,
        dependencies=[Depends(microversions.negotiate), *route.dependencies],
        summary=route.summary, description=route.description,
        response_description=route.response_description, responses=route.responses,
        deprecated=route.deprecated, name=route.name, methods=route.methods,
        operation_id=route.operation_id, response_model_include=route.response_model_include,
        response_model_exclude=route.response_model_exclude,
        response_model_by_alias=route.response_model_by_alias,
        response_model_exclude_unset=route.response_model_exclude_unset,
        response_model_exclude_defaults=route.response_model_exclude_defaults,
        response_model_exclude_none=route.response_model_exclude_none,
        include_in_schema=route.include_in_schema, response_class=route.response_class,
        callbacks=route.callbacks, openapi_extra=route.openapi_extra,
        generate_unique_id_function=route.generate_unique_id_function,
        strict_content_type=route.strict_content_type, max_body_size=route.max_body_size,
        form_limits=route.form_limits)


# The version documents sit at the prefix root ("/compute", "/compute/v2.1", no token).
router = APIRouter(routes=[*versions.router.routes,
                           *(_at_v21(r) for part in _PARTS for r in part.router.routes)])
