"""Compute API versions: the 2.1-only microversion contract and the version documents.

We advertise exactly 2.1 (openstack_api_compat.md §4.1): every microversion up to the maximum
is a contract that tempest's schemas hold us to. A request for more than 2.1 gets 406, as nova
answers; "latest" means 2.1. Both request headers are echoed back with ``Vary``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from sriovstack.api.context import services_of
from sriovstack.errors import Invalid, NotAcceptable

__all__ = ["router", "negotiate", "VERSIONS", "MIN_VERSION", "MAX_VERSION"]

# One entry per microversion we serve, oldest first, each with why it is here.
VERSIONS: tuple[tuple[str, str], ...] = (
    ("2.1", "the v2.1 base API: flavors, servers, os-hypervisors, os-aggregates, AZs"),
)
MIN_VERSION = VERSIONS[0][0]
MAX_VERSION = VERSIONS[-1][0]
_UPDATED = "2013-07-23T11:33:21Z"
_MEDIA = [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")

router = APIRouter()


def _parse(text: str) -> tuple[int, int]:
    m = _VERSION_RE.match(text.strip())
    if m is None:
        raise Invalid(f"Invalid API version request string {text!r}: expected X.Y "
                      f"(this API serves {MIN_VERSION} to {MAX_VERSION}) or 'latest'",
                      field="OpenStack-API-Version", value=text)
    return int(m.group(1)), int(m.group(2))


def _requested(request: Request) -> str | None:
    header = request.headers.get("openstack-api-version")
    if header:
        for item in header.split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() == "compute":
                return version.strip()
    return request.headers.get("x-openstack-nova-api-version")


def negotiate(request: Request, response: Response) -> str:
    """Router dependency: the microversion of this request; 406 above 2.1, 400 if malformed."""
    asked = _requested(request)
    version = MIN_VERSION
    if asked and asked.strip().lower() != "latest":
        wanted = _parse(asked)
        if not _parse(MIN_VERSION) <= wanted <= _parse(MAX_VERSION):
            raise NotAcceptable(f"Version {asked.strip()} is not supported by the API. "
                                f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}.",
                                field="OpenStack-API-Version", value=asked.strip())
        version = f"{wanted[0]}.{wanted[1]}"
    response.headers["OpenStack-API-Version"] = f"compute {version}"
    response.headers["X-OpenStack-Nova-API-Version"] = version
    response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    return version


def _v21(base: str) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": MAX_VERSION,
            "min_version": MIN_VERSION, "updated": _UPDATED,
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


@router.get("/v2.1")
@router.get("/v2.1/")
def show_version(request: Request, response: Response) -> dict[str, Any]:
    """The v2.1 version document (no token), with the negotiated version headers."""
    negotiate(request, response)
    base = services_of(request).settings.url("/compute")
    return {"version": _v21(base)}
