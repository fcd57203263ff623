"""The HTTP API: identity v3, network v2.0, compute v2.1, image v2, placement, internal."""

from __future__ import annotations

from sriovstack.api.services import Services, build_services
from sriovstack.api.settings import KEEP_ALIVE_SECONDS, ApiSettings
from sriovstack.api.app import create_app


__all__ = [
    "Services", "ApiSettings", "build_services", "create_app", "KEEP_ALIVE_SECONDS",
]
