"""Keystone's catalog and domain lists: /v3/services, /v3/endpoints, /v3/regions and
/v3/domains (read only; the catalog is the API's own, the same the tokens carry)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.identity.views import (domain_view, endpoint_views, region_view,
                                           service_views)
from sriovstack.errors import ErrorKind, Invalid, NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _links(ctx: RequestContext, path: str) -> dict[str, Any]:
    return {"self": ctx.services.settings.url(f"/identity/v3/{path}"), "next": None,
            "previous": None}


def _by_id(items: list[dict[str, Any]], item_id: str) -> dict[str, Any] | None:
    return next((item for item in items if item["id"] == item_id), None)


def _service(ctx: RequestContext, service_id: str) -> dict[str, Any]:
    found = _by_id(service_views(ctx.services.settings), service_id)
    if found is None:
        raise NotFound(f"Could not find service: {service_id}.",
                       kind=ErrorKind.SERVICE_NOT_FOUND, value=service_id)
    return found


def _endpoint(ctx: RequestContext, endpoint_id: str) -> dict[str, Any]:
    found = _by_id(endpoint_views(ctx.services.settings), endpoint_id)
    if found is None:
        raise NotFound(f"Could not find endpoint: {endpoint_id}.",
                       kind=ErrorKind.ENDPOINT_NOT_FOUND, value=endpoint_id)
    return found


def _region(ctx: RequestContext, region_id: str) -> dict[str, Any]:
    found = _by_id([region_view(ctx.services.settings)], region_id)
    if found is None:
        raise NotFound(f"Could not find region: {region_id}.",
                       kind=ErrorKind.REGION_NOT_FOUND, value=region_id)
    return found


def _flag(name: str, value: str | None) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise Invalid(f"Expected boolean value for {name}, got {value!r}", field=name, value=value)


@router.get("/v3/services")
def list_services(type: str | None = None, name: str | None = None,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"services": [...]}`` (admin), filtered by ``type`` and ``name``."""
    policy.require_admin(ctx.caller, "listing services")
    services = [s for s in service_views(ctx.services.settings)
                if (type is None or s["type"] == type) and (name is None or s["name"] == name)]
    return {"services": services, "links": _links(ctx, "services")}


@router.get("/v3/services/{service_id}")
def show_service(service_id: str,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"service": {...}}`` (admin); 404 for an unknown id."""
    policy.require_admin(ctx.caller, "showing a service")
    return {"service": _service(ctx, service_id)}


@router.get("/v3/endpoints")
def list_endpoints(service_id: str | None = None, interface: str | None = None,
                   region_id: str | None = None,
                   ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"endpoints": [...]}`` (admin) by ``service_id``, ``interface``, ``region_id``."""
    policy.require_admin(ctx.caller, "listing endpoints")
    endpoints = [e for e in endpoint_views(ctx.services.settings)
                 if (service_id is None or e["service_id"] == service_id)
                 and (interface is None or e["interface"] == interface)
                 and (region_id is None or e["region_id"] == region_id)]
    return {"endpoints": endpoints, "links": _links(ctx, "endpoints")}


@router.get("/v3/endpoints/{endpoint_id}")
def show_endpoint(endpoint_id: str,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"endpoint": {...}}`` (admin); 404 for an unknown id."""
    policy.require_admin(ctx.caller, "showing an endpoint")
    return {"endpoint": _endpoint(ctx, endpoint_id)}


@router.get("/v3/regions")
def list_regions(ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"regions": [...]}``: the one region this API serves."""
    return {"regions": [region_view(ctx.services.settings)], "links": _links(ctx, "regions")}


@router.get("/v3/regions/{region_id}")
def show_region(region_id: str,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"region": {...}}``; 404 for another region."""
    return {"region": _region(ctx, region_id)}


@router.get("/v3/domains")
def list_domains(name: str | None = None, enabled: str | None = None,
                 ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"domains": [...]}`` (admin), by exact ``name`` and ``enabled``."""
    policy.require_admin(ctx.caller, "listing domains")
    domains = ctx.services.identity.directory.list_domains(name, _flag("enabled", enabled))
    return {"domains": [domain_view(d, ctx.services.settings) for d in domains],
            "links": _links(ctx, "domains")}


@router.get("/v3/domains/{domain_id}")
def show_domain(domain_id: str,
                ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"domain": {...}}`` (admin); 404 for an unknown id."""
    policy.require_admin(ctx.caller, "showing a domain")
    domain = ctx.services.identity.directory.get_domain(domain_id)
    return {"domain": domain_view(domain, ctx.services.settings)}
