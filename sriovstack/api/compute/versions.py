"""Compute API version documents (no token): the root list, the v2.0 document (nova's legacy
v2 endpoint, which the list links to) and the v2.1 document, whose ``version``/``min_version``
come from the microversion table (microversions.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.compute.microversions import MAX_VERSION, MIN_VERSION, negotiated
from sriovstack.api.context import services_of

__all__ = ["router"]

_UPDATED = "2013-07-23T11:33:21Z"
_MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]

router = APIRouter()


def _v21(base: str) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": str(MAX_VERSION),
            "min_version": str(MIN_VERSION), "updated": _UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v2.1/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "http://docs.openstack.org/"}],
            "media-types": _MEDIA}


def _v20(base: str) -> dict[str, Any]:
    # Listed first: tempest's test_list_api_versions expects v2.0 (SUPPORTED) before v2.1.
    return {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/v2/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2"}]}


@router.get("")
@router.get("/")
def list_versions(request: Request) -> dict[str, Any]:
    """The root version list (no token): v2.0 first, then v2.1."""
    base = services_of(request).settings.url("/compute")
    return {"versions": [_v20(base), _v21(base)]}


@router.get("/v2")
@router.get("/v2/")
def show_v20(request: Request) -> dict[str, Any]:
    """The v2.0 version document (no token): what the root list's v2.0 self link reaches."""
    return {"version": _v20(services_of(request).settings.url("/compute"))}


@router.get("/v2.1")
@router.get("/v2.1/")
def show_version(request: Request, response: Response) -> dict[str, Any]:
    """The v2.1 version document (no token), with the negotiated version headers."""
    negotiated(request, response)
    base = services_of(request).settings.url("/compute")
    return {"version": _v21(base)}
