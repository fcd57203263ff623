"""Placement microversions: the header each request names, checked against what we serve.

``OpenStack-API-Version: placement 1.29`` (or ``latest``); without it a request gets 1.0.
A version outside 1.0..MAX is a 406 whose error names min_version and max_version
(osc-placement negotiates from them); a malformed one is a 400. Every answer echoes the
version it was served at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request, Response

from sriovstack.errors import ErrorKind, Invalid, NotAcceptable, NotFound

__all__ = ["VERSIONS", "MIN_VERSION", "MAX_VERSION", "Microversion", "placement_version"]

# What each microversion changed of the calls we serve (placement's history, abridged).
VERSIONS = (
    "1.0",   # providers, inventories, usages, allocations per provider/consumer
    "1.1",   # provider aggregates
    "1.2",   # resource classes (custom ones created with POST/PUT)
    "1.3",   # member_of on GET /resource_providers
    "1.4",   # resources filter on GET /resource_providers
    "1.5", "1.6",  # 1.6: traits, provider traits
    "1.7",   # PUT /resource_classes/{name} creates a custom class
    "1.8", "1.9",  # 1.9: GET /usages by project (and user)
    "1.10",  # GET /allocation_candidates
    "1.11",  # allocations link on providers
    "1.12",  # allocation_requests keyed by provider uuid (a dict, not a list)
    "1.13",
    "1.14",  # parent/root provider uuids, in_tree
    "1.15", "1.16",  # 1.16: limit on allocation candidates
    "1.17",  # required traits on candidates, traits in provider summaries
    "1.18",  # required traits on GET /resource_providers
    "1.19",  # aggregates answer with the provider generation
    "1.20", "1.21", "1.22",  # 1.22: forbidden traits (!TRAIT)
    "1.23", "1.24", "1.25", "1.26", "1.27",
    "1.28",  # consumer_generation on a consumer's allocations
    "1.29",  # parent/root uuids in provider summaries
    "1.30", "1.31", "1.32", "1.33",
    "1.34",  # mappings in allocation requests
    "1.35", "1.36", "1.37",
    "1.38",  # consumer types: usages grouped by consumer type
    "1.39",  # required=in:A,B (any of)
)
MIN_VERSION, MAX_VERSION = VERSIONS[0], VERSIONS[-1]
_FORMAT = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True, slots=True, order=True)
class Microversion:
    """A placement microversion, compared numerically."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Microversion:
        match = _FORMAT.match(text)
        if match is None:
            raise Invalid(f"invalid version string: {text}", field="OpenStack-API-Version",
                          value=text, fix="e.g. 'placement 1.39' or 'placement latest'")
        return cls(int(match.group(1)), int(match.group(2)))

    def at_least(self, text: str) -> bool:
        return self >= Microversion.parse(text)

    def require(self, text: str) -> None:
        """NotFound (as placement answers a call newer than the version asked) below it."""
        if not self.at_least(text):
            raise NotFound(f"The resource could not be found at placement {self}: it needs "
                           f"microversion {text}", kind=ErrorKind.PLACEMENT_UNDEFINED_CODE)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def _asked(request: Request) -> str | None:
    for item in request.headers.get("openstack-api-version", "").split(","):
        service, _, version = item.strip().partition(" ")
        if service.lower() == "placement":
            return version.strip()
    return None


def placement_version(request: Request, response: Response) -> Microversion:
    """FastAPI dependency: the version this request is served at (echoed in the answer)."""
    asked = _asked(request)
    text = MAX_VERSION if asked == "latest" else (asked or MIN_VERSION)
    version = Microversion.parse(text)
    if not Microversion.parse(MIN_VERSION) <= version <= Microversion.parse(MAX_VERSION):
        raise NotAcceptable(f"Unacceptable version header: {text}",
                            kind=ErrorKind.PLACEMENT_UNDEFINED_CODE, min_version=MIN_VERSION,
                            max_version=MAX_VERSION)
    response.headers["OpenStack-API-Version"] = f"placement {version}"
    response.headers["Vary"] = "openstack-api-version"
    return version
