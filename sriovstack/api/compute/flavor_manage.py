"""Compute v2.1 flavor administration: create and delete (os-flavor-manage), the 2.55
description update, private flavors' access lists (os-flavor-access) and extra specs
(os-extra-specs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, RootModel

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, empty_answer, negotiate
from sriovstack.api.compute.views import flavor_view
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import FlavorCreate
from sriovstack.errors import Invalid

__all__ = ["router", "FlavorCreateRequest", "FlavorActionRequest"]

router = APIRouter()
_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._- ")
_SPEC_KEY_CHARS = _ID_CHARS | frozenset(":")
_MAX_INT = 2**31 - 1  # nova's db.MAX_INT


def _count(name: str, value: int | str, minimum: int) -> int:
    """nova's flavor_param_positive / _non_negative: an integer, or a string of one."""
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        number = -1
    if not minimum <= number <= _MAX_INT:
        raise Invalid(f"Invalid input for field/attribute {name}. Value: {value}. "
                      f"expected an integer from {minimum} to {_MAX_INT}", field=name,
                      value=value)
    return number


class _FlavorBody(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    id: str | int | None = None
    ram: int | str
    vcpus: int | str
    disk: int | str
    ephemeral: int | str = Field(default=0, alias="OS-FLV-EXT-DATA:ephemeral")
    swap: int | str = 0
    rxtx_factor: float = Field(default=1.0, gt=0, le=3.40282e38)
    is_public: bool = Field(default=True, alias="os-flavor-access:is_public")
    description: str | None = Field(default=None, max_length=65535)


class FlavorCreateRequest(BaseModel):
    """``{"flavor": {name, ram, vcpus, disk, id?, ...}}`` (``description`` from 2.55)."""

    model_config = _STRICT
    flavor: _FlavorBody

    def to_spec(self, version: ApiVersion) -> FlavorCreate:
        """The typed create request; Invalid naming the field otherwise."""
        f = self.flavor
        if f.description is not None and version < mv.FLAVOR_DESCRIPTION:
            raise Invalid("Invalid input for field/attribute flavor. Value: Additional "
                          "properties are not allowed ('description' was unexpected)",
                          field="description")
        name = f.name.strip()
        if not name:
            raise Invalid("Invalid input for field/attribute name: it may not be blank",
                          field="name", value=f.name)
        flavor_id = None if f.id is None else str(f.id)
        if flavor_id is not None and (not flavor_id or flavor_id != flavor_id.strip()
                                      or not set(flavor_id) <= _ID_CHARS
                                      or len(flavor_id) > 255):
            raise Invalid(f"Invalid input for field/attribute id. Value: {flavor_id}. "
                          "expected 1-255 of letters, digits, '.', '_', '-' and inner "
                          "spaces", field="id", value=flavor_id)
        return FlavorCreate(
            name=name, id=flavor_id, ram=_count("ram", f.ram, 1),
            vcpus=_count("vcpus", f.vcpus, 1), disk=_count("disk", f.disk, 0),
            ephemeral=_count("OS-FLV-EXT-DATA:ephemeral", f.ephemeral, 0),
            swap=0 if f.swap == "" else _count("swap", f.swap, 0), rxtx_factor=f.rxtx_factor,
            is_public=f.is_public, description=f.description)


class _Description(BaseModel):
    model_config = _STRICT
    description: str | None = Field(max_length=65535)


class FlavorUpdateRequest(BaseModel):
    """2.55: ``{"flavor": {"description": ...}}``."""

    model_config = _STRICT
    flavor: _Description


class _Tenant(BaseModel):
    model_config = _STRICT
    tenant: str = Field(min_length=1, max_length=255)


class FlavorActionRequest(BaseModel):
    """``{"addTenantAccess": {"tenant": id}}`` or ``{"removeTenantAccess": {...}}``."""

    model_config = _STRICT
    addTenantAccess: _Tenant | None = None
    removeTenantAccess: _Tenant | None = None


SpecValue = str | int | float | bool


class ExtraSpecsRequest(BaseModel):
    """``{"extra_specs": {key: value}}``."""

    model_config = _STRICT
    extra_specs: dict[str, SpecValue]


class ExtraSpecRequest(RootModel[dict[str, SpecValue]]):
    """PUT os-extra_specs/{key}: ``{key: value}``."""


def _specs(given: dict[str, SpecValue]) -> dict[str, str]:
    """nova's extra specs schema: keys of ``[a-zA-Z0-9-_:. ]{1,255}``, values up to 255."""
    specs: dict[str, str] = {}
    for key, value in given.items():
        if not 1 <= len(key) <= 255 or not set(key) <= _SPEC_KEY_CHARS:
            raise Invalid(f"Invalid input for field/attribute extra_specs. Value: {key}. "
                          "a key is 1-255 of letters, digits, '-', '_', ':', '.' and spaces",
                          field=key, value=key)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if len(text) > 255:
            raise Invalid(f"Invalid input for field/attribute {key}: the value is longer "
                          "than 255 characters", field=key, value=text[:40])
        specs[key] = text
    return specs


def _base(ctx: RequestContext) -> str:
    return ctx.services.settings.url("/compute")


def _access_view(flavor_id: str, projects: tuple[str, ...]) -> dict[str, Any]:
    return {"flavor_access": [{"flavor_id": flavor_id, "tenant_id": p} for p in projects]}


@router.post("/flavors")
def create_flavor(body: FlavorCreateRequest, ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"flavor": {...}}`` (admin); 400 bad fields; 403; 409 the name or id exists."""
    flavor = ctx.services.compute.flavors.create(ctx.caller, body.to_spec(version))
    return {"flavor": flavor_view(flavor, _base(ctx), version)}


@router.put("/flavors/{flavor_id}")
def update_flavor(flavor_id: str, body: FlavorUpdateRequest,
                  ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """2.55: 200 with the flavor, its description changed (admin); 404 below 2.55 as nova."""
    if version < mv.FLAVOR_DESCRIPTION:
        raise Invalid(f"PUT /flavors/{{id}} needs microversion 2.55 or later (asked for "
                      f"{version})", field="OpenStack-API-Version", value=str(version))
    flavor = ctx.services.compute.flavors.set_description(ctx.caller, flavor_id,
                                                          body.flavor.description)
    return {"flavor": flavor_view(flavor, _base(ctx), version)}


@router.delete("/flavors/{flavor_id}", status_code=202)
def delete_flavor(flavor_id: str, response: Response,
                  ctx: RequestContext = Depends(request_context)) -> Response:
    """202 (admin); 404 unknown flavor."""
    ctx.services.compute.flavors.delete(ctx.caller, flavor_id)
    return empty_answer(202, response)


@router.get("/flavors/{flavor_id}/os-flavor-access")
def list_flavor_access(flavor_id: str,
                       ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"flavor_access": [{flavor_id, tenant_id}]}`` (admin); 404 for public flavors."""
    return _access_view(flavor_id, ctx.services.compute.flavors.access(ctx.caller, flavor_id))


@router.post("/flavors/{flavor_id}/action")
def flavor_action(flavor_id: str, body: FlavorActionRequest,
                  ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """addTenantAccess / removeTenantAccess: 200 with the access list (admin); 409 a public
    flavor or an entry that exists; 404 an entry that does not."""
    flavors = ctx.services.compute.flavors
    if (body.addTenantAccess is None) == (body.removeTenantAccess is None):
        raise Invalid("give exactly one of addTenantAccess or removeTenantAccess",
                      field="action")
    if body.addTenantAccess is not None:
        projects = flavors.add_access(ctx.caller, flavor_id, body.addTenantAccess.tenant)
    else:
        assert body.removeTenantAccess is not None
        projects = flavors.remove_access(ctx.caller, flavor_id,
                                         body.removeTenantAccess.tenant)
    return _access_view(flavor_id, projects)


@router.get("/flavors/{flavor_id}/os-extra_specs")
def list_flavor_extra_specs(flavor_id: str,
                            ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"extra_specs": {...}}``; 404 for an unknown (or hidden private) flavor."""
    flavor = ctx.services.compute.flavors.get(flavor_id, visible_to=ctx.caller)
    return {"extra_specs": dict(flavor.extra_specs)}


@router.post("/flavors/{flavor_id}/os-extra_specs")
def create_flavor_extra_specs(flavor_id: str, body: ExtraSpecsRequest,
                              ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{"extra_specs": {what was given}}`` (admin); 400 naming a bad key or value."""
    specs = _specs(body.extra_specs)
    ctx.services.compute.flavors.set_extra_specs(ctx.caller, flavor_id, specs)
    return {"extra_specs": specs}


@router.get("/flavors/{flavor_id}/os-extra_specs/{key}")
def show_flavor_extra_spec(flavor_id: str, key: str,
                           ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{key: value}``; 404 FlavorExtraSpecsNotFound."""
    return {key: ctx.services.compute.flavors.extra_spec(ctx.caller, flavor_id, key)}


@router.put("/flavors/{flavor_id}/os-extra_specs/{key}")
def update_flavor_extra_spec(flavor_id: str, key: str, body: ExtraSpecRequest,
                             ctx: RequestContext = Depends(request_context)) -> dict[str, Any]:
    """200 ``{key: value}`` (admin); 400 when the body names another key or several."""
    given = body.root
    if len(given) > 1:
        raise Invalid("Request body contains too many items", field="extra_specs")
    if key not in given:
        raise Invalid("Request body and URI mismatch", field=key)
    specs = _specs(given)
    ctx.services.compute.flavors.set_extra_specs(ctx.caller, flavor_id, specs)
    return specs


@router.delete("/flavors/{flavor_id}/os-extra_specs/{key}")
def delete_flavor_extra_spec(flavor_id: str, key: str, response: Response,
                             ctx: RequestContext = Depends(request_context)) -> Response:
    """200, no body, as nova (admin); 404 FlavorExtraSpecsNotFound."""
    ctx.services.compute.flavors.unset_extra_spec(ctx.caller, flavor_id, key)
    return empty_answer(200, response)
