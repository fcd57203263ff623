"""Compute v2.1 os-keypairs: create (generate or import), list, show, delete, per user, each
in the shape of the request's microversion (2.2 type, 2.10 user_id, 2.35 paging)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, empty_answer, negotiate
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import Keypair, KeypairCreate, KeypairQuery
from sriovstack.errors import Invalid
from sriovstack.identity import policy

__all__ = ["router", "KeypairCreateRequest"]

router = APIRouter()
_STRICT = ConfigDict(extra="forbid")


class _KeypairBody(BaseModel):
    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    public_key: str | None = None
    type: str | None = None
    user_id: str | None = Field(default=None, min_length=1, max_length=255)


class KeypairCreateRequest(BaseModel):
    """``{"keypair": {name, public_key?, type? (2.2), user_id? (2.10)}}``."""

    model_config = _STRICT
    keypair: _KeypairBody

    def to_spec(self, version: ApiVersion) -> KeypairCreate:
        """The create request at ``version``; Invalid for a field that version lacks."""
        k = self.keypair
        for name, since in (("type", mv.KEYPAIR_TYPE), ("user_id", mv.KEYPAIR_USER)):
            if getattr(k, name) is not None and version < since:
                raise Invalid(f"Invalid input for field/attribute keypair. Value: "
                              f"Additional properties are not allowed ('{name}' was "
                              f"unexpected) at microversion {version}", field=name)
        return KeypairCreate(name=k.name, type=k.type or "ssh", public_key=k.public_key,
                             user_id=k.user_id)


def _created_at(k: Keypair) -> str:
    return k.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _brief(k: Keypair, version: ApiVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"name": k.name, "public_key": k.public_key,
                            "fingerprint": k.fingerprint}
    if version >= mv.KEYPAIR_TYPE:
        body["type"] = k.type
    return body


def _created(k: Keypair, version: ApiVersion) -> dict[str, Any]:
    body = {**_brief(k, version), "user_id": k.user_id}
    if k.private_key is not None:
        body["private_key"] = k.private_key
    return body


def _detail(k: Keypair, version: ApiVersion) -> dict[str, Any]:
    return {**_brief(k, version), "user_id": k.user_id, "deleted": False,
            "created_at": _created_at(k), "deleted_at": None, "updated_at": None, "id": k.id}


def _user(user_id: str | None, version: ApiVersion) -> str | None:
    # Before 2.10 nova ignores ?user_id= (its query schema took any parameter).
    return user_id if version >= mv.KEYPAIR_USER else None


def _paging(limit: str | None, marker: str | None,
            version: ApiVersion) -> tuple[int | None, str | None]:
    if version < mv.KEYPAIR_PAGING:
        return None, None
    if limit is None:
        return None, marker
    try:
        number = int(limit)
    except ValueError:
        number = -1
    if number < 0:
        raise Invalid(f"Invalid input for query parameters limit. Value: {limit}. "
                      "expected an integer of 0 or more", field="limit", value=limit)
    return number, marker


@router.post("/os-keypairs")
def create_keypair(body: KeypairCreateRequest, response: Response,
                   ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 (201 from 2.2) ``{"keypair": {...}}`` with ``private_key`` when generated; 400 a bad
    name, type or public key; 403 another user's (not admin); 409 the name exists."""
    policy.require_writer(ctx.caller, "creating a key pair")
    keypair = ctx.services.compute.keypairs.create(ctx.caller, body.to_spec(version))
    response.status_code = 201 if version >= mv.KEYPAIR_TYPE else 200
    return {"keypair": _created(keypair, version)}


@router.get("/os-keypairs")
def list_keypairs(user_id: str | None = None, limit: str | None = None,
                  marker: str | None = None, ctx: RequestContext = Depends(request_context),
                  version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"keypairs": [{"keypair": {...}}]}`` (+``keypairs_links`` when a page is full)."""
    size, after = _paging(limit, marker, version)
    query = KeypairQuery(user_id=_user(user_id, version), limit=size, marker=after)
    keypairs = ctx.services.compute.keypairs.list(ctx.caller, query)
    body: dict[str, Any] = {"keypairs": [{"keypair": _brief(k, version)} for k in keypairs]}
    if size is not None and keypairs and len(keypairs) == size:
        base = ctx.services.settings.url("/compute")
        extra = f"&user_id={query.user_id}" if query.user_id else ""
        body["keypairs_links"] = [{"rel": "next", "href": f"{base}/v2.1/os-keypairs?limit="
                                   f"{size}&marker={keypairs[-1].name}{extra}"}]
    return body


@router.get("/os-keypairs/{name}")
def show_keypair(name: str, user_id: str | None = None,
                 ctx: RequestContext = Depends(request_context),
                 version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"keypair": {..., id, created_at, deleted}}``; 404 KeypairNotFound."""
    keypair = ctx.services.compute.keypairs.get(ctx.caller, name, _user(user_id, version))
    return {"keypair": _detail(keypair, version)}


@router.delete("/os-keypairs/{name}")
def delete_keypair(name: str, response: Response, user_id: str | None = None,
                   ctx: RequestContext = Depends(request_context),
                   version: ApiVersion = Depends(negotiate)) -> Response:
    """202 (204 from 2.2), no body; 404 KeypairNotFound."""
    policy.require_writer(ctx.caller, "deleting a key pair")
    ctx.services.compute.keypairs.delete(ctx.caller, name, _user(user_id, version))
    return empty_answer(204 if version >= mv.KEYPAIR_TYPE else 202, response)
