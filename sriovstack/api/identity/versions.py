"""Identity version discovery: GET /identity (300, all versions) and /identity/v3, no token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from sriovstack.api.context import services_of
from sriovstack.api.identity.views import version_view
from sriovstack.api.services import Services

__all__ = ["router"]

router = APIRouter()


@router.get("", include_in_schema=False)
@router.get("/")
def list_versions(services: Services = Depends(services_of)) -> JSONResponse:
    """Every identity version (just v3): 300 Multiple Choices, as keystone answers."""
    body = {"versions": {"values": [version_view(services.settings)]}}
    return JSONResponse(body, status_code=300)


@router.get("/v3", include_in_schema=False)
@router.get("/v3/")
def show_version(services: Services = Depends(services_of)) -> dict[str, Any]:
    """The v3 version document: 200."""
    return {"version": version_view(services.settings)}
