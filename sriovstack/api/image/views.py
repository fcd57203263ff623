"""Glance v2 response bodies: an image is a bare object (not wrapped), lists carry schema/first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sriovstack.compute import Image

__all__ = ["image_view", "version_view"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_view(image: Image) -> dict[str, Any]:
    """GET /v2/images/{id}: glance's fields, properties flattened in as glance does."""
    body: dict[str, Any] = {
        "id": image.id, "name": image.name, "status": image.status,
        "visibility": image.visibility, "disk_format": image.disk_format,
        "container_format": image.container_format, "min_disk": image.min_disk,
        "min_ram": image.min_ram, "size": image.size, "virtual_size": None,
        "protected": image.protected, "tags": [], "owner": image.owner, "os_hidden": False,
        "checksum": image.checksum, "os_hash_algo": None, "os_hash_value": None,
        "created_at": _iso(image.created_at), "updated_at": _iso(image.updated_at),
        "file": f"/v2/images/{image.id}/file", "self": f"/v2/images/{image.id}",
        "schema": "/v2/schemas/image",
    }
    for key, value in image.properties:
        body.setdefault(key, value)
    return body


def version_view(base: str) -> dict[str, Any]:
    """One glance version entry (we serve the v2 read-only subset)."""
    return {"id": "v2.16", "status": "CURRENT",
            "links": [{"rel": "self", "href": f"{base}/v2/"}]}
