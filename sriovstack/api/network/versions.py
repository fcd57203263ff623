"""Networking version discovery (no token): GET /network and /network/v2.0 (resources)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.context import services_of
from sriovstack.api.network.views import resources_view, versions_view
from sriovstack.api.services import Services

__all__ = ["router"]

router = APIRouter()


@router.get("", include_in_schema=False)
@router.get("/")
def list_versions(services: Services = Depends(services_of)) -> dict[str, Any]:
    """The one version, v2.0 (CURRENT): 200."""
    return versions_view(services.settings)


@router.get("/v2.0", include_in_schema=False)
@router.get("/v2.0/")
def list_resources(services: Services = Depends(services_of)) -> dict[str, Any]:
    """The v2.0 resource collections: 200."""
    return resources_view(services.settings)
