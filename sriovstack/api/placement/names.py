"""Placement resource classes and traits: standard ones listed, custom ones (CUSTOM_*)
created and deleted; admin only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from sriovstack.api.context import RequestContext, request_context
from sriovstack.api.placement.microversion import Microversion, placement_version
from sriovstack.compute import NameKind
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()


def _admin(ctx: RequestContext = Depends(request_context)) -> RequestContext:
    policy.require_admin(ctx.caller, "placement")
    return ctx


class ResourceClassCreate(BaseModel):
    """POST /resource_classes body."""

    model_config = ConfigDict(extra="forbid")
    name: str


def _ensure(ctx: RequestContext, response: Response, kind: str, name: str,
            collection: str) -> Response:
    """PUT of a custom name: 201 created or 204 already there, with its Location."""
    created = ctx.services.compute.placement.ensure_custom(kind, name)
    url = ctx.services.settings.url(f"/placement/{collection}/{name}")
    return Response(status_code=201 if created else 204,
                    headers={"Location": url, **response.headers})


def _class_view(base: str, name: str) -> dict[str, Any]:
    return {"name": name, "links": [{"rel": "self",
                                     "href": f"{base}/resource_classes/{name}"}]}


@router.get("/resource_classes")
def list_resource_classes(version: Microversion = Depends(placement_version),
                          ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"resource_classes": [{name, links}]}`` (1.2): standard, then custom."""
    version.require("1.2")
    base = ctx.services.settings.url("/placement")
    return {"resource_classes": [_class_view(base, n)
                                 for n in ctx.services.compute.placement.resource_classes()]}


@router.get("/resource_classes/{name}")
def show_resource_class(name: str, version: Microversion = Depends(placement_version),
                        ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 the class; 404 for an unknown name."""
    version.require("1.2")
    if name not in ctx.services.compute.placement.resource_classes():
        raise NotFound(f"No such resource class {name}.",
                       kind=ErrorKind.PLACEMENT_UNDEFINED_CODE, value=name)
    return _class_view(ctx.services.settings.url("/placement"), name)


@router.post("/resource_classes", status_code=201)
def create_resource_class(body: ResourceClassCreate, response: Response,
                          version: Microversion = Depends(placement_version),
                          ctx: RequestContext = Depends(_admin)) -> Response:
    """201 with Location; 409 when it exists; 400 unless CUSTOM_*."""
    version.require("1.2")
    if not ctx.services.compute.placement.ensure_custom(NameKind.RESOURCE_CLASS, body.name):
        raise Conflict(f"Conflicting resource class already exists: {body.name}",
                       field="name", value=body.name)
    url = ctx.services.settings.url(f"/placement/resource_classes/{body.name}")
    return Response(status_code=201, headers={"Location": url, **response.headers})


@router.put("/resource_classes/{name}")
def update_resource_class(name: str, response: Response,
                          version: Microversion = Depends(placement_version),
                          ctx: RequestContext = Depends(_admin)) -> Response:
    """201 created, 204 already there (1.7); 400 unless CUSTOM_*."""
    version.require("1.7")
    return _ensure(ctx, response, NameKind.RESOURCE_CLASS, name, "resource_classes")


@router.delete("/resource_classes/{name}", status_code=204)
def delete_resource_class(name: str, response: Response,
                          version: Microversion = Depends(placement_version),
                          ctx: RequestContext = Depends(_admin)) -> Response:
    """204; 400 for a standard class; 409 in use; 404 unknown."""
    version.require("1.2")
    ctx.services.compute.placement.delete_custom(NameKind.RESOURCE_CLASS, name)
    return Response(status_code=204, headers=dict(response.headers))


def _name_filter(name: str | None) -> tuple[str, str] | None:
    if name is None:
        return None
    for prefix in ("in:", "startswith:"):
        if name.startswith(prefix):
            return prefix, name[len(prefix):]
    raise Invalid(f"Badly formatted name parameter. Expected name query string parameter in "
                  f"form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{name}\"",
                  field="name", value=name)


@router.get("/traits")
def list_traits(name: str | None = None, associated: str | None = None,
                version: Microversion = Depends(placement_version),
                ctx: RequestContext = Depends(_admin)) -> dict[str, Any]:
    """200 ``{"traits": [...]}`` (1.6), ``name=in:A,B`` / ``name=startswith:CUSTOM_``,
    ``associated=true|false`` (on some provider or not)."""
    version.require("1.6")
    placement = ctx.services.compute.placement
    traits = placement.traits()
    match _name_filter(name):
        case ("in:", names):
            traits = tuple(t for t in traits if t in names.split(","))
        case ("startswith:", prefix):
            traits = tuple(t for t in traits if t.startswith(prefix))
    if associated is not None:
        if associated not in ("true", "false"):
            raise Invalid(f"Invalid associated {associated!r}: true or false",
                          field="associated", value=associated)
        on = {t for rp in placement.providers() for t in placement.provider_traits(rp)}
        traits = tuple(t for t in traits if (t in on) == (associated == "true"))
    return {"traits": list(traits)}


@router.get("/traits/{name}", status_code=204)
def show_trait(name: str, response: Response,
               version: Microversion = Depends(placement_version),
               ctx: RequestContext = Depends(_admin)) -> Response:
    """204 when the trait exists; 404 otherwise."""
    version.require("1.6")
    if name not in ctx.services.compute.placement.traits():
        raise NotFound(f"No such trait(s): {name}.", kind=ErrorKind.PLACEMENT_UNDEFINED_CODE,
                       value=name)
    return Response(status_code=204, headers=dict(response.headers))


@router.put("/traits/{name}")
def update_trait(name: str, response: Response,
                 version: Microversion = Depends(placement_version),
                 ctx: RequestContext = Depends(_admin)) -> Response:
    """201 created, 204 already there; 400 unless CUSTOM_*."""
    version.require("1.6")
    return _ensure(ctx, response, NameKind.TRAIT, name, "traits")


@router.delete("/traits/{name}", status_code=204)
def delete_trait(name: str, response: Response,
                 version: Microversion = Depends(placement_version),
                 ctx: RequestContext = Depends(_admin)) -> Response:
    """204; 400 for a standard trait; 409 in use; 404 unknown."""
    version.require("1.6")
    ctx.services.compute.placement.delete_custom(NameKind.TRAIT, name)
    return Response(status_code=204, headers=dict(response.headers))
