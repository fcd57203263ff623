"""Glance v2 response bodies: an image is a bare object (not wrapped), lists carry schema/first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sriovstack.compute import Image

__all__ = ["image_view", "versions_view"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_view(image: Image) -> dict[str, Any]:
    """GET /v2/images/{id}: glance's fields, properties flattened in as glance does."""
    body: dict[str, Any] = {
        "id": image.id, "name": image.name, "status": image.status,
        "visibility": image.visibility, "disk_format": image.disk_format,
        "container_format": image.container_format, "min_disk": image.min_disk,
        "min_ram": image.min_ram, "size": image.size, "virtual_size": None,
        "protected": image.protected, "tags": list(image.tags), "owner": image.owner,
        "os_hidden": image.os_hidden, "checksum": image.checksum,
        "os_hash_algo": "sha512" if image.os_hash_value else None,
        "os_hash_value": image.os_hash_value,
        "created_at": _iso(image.created_at), "updated_at": _iso(image.updated_at),
        "file": f"/v2/images/{image.id}/file", "self": f"/v2/images/{image.id}",
        "schema": "/v2/schemas/image",
    }
    for key, value in image.properties:
        body.setdefault(key, value)
    return body


# Glance's API versions, newest first: v2.16 is current, the older v2 minors are supported.
_VERSIONS = tuple(f"v2.{minor}" for minor in range(16, -1, -1))


def versions_view(base: str) -> dict[str, Any]:
    """GET /image and /image/versions: glance's version list (all served by /v2/)."""
    return {"versions": [{"id": v, "status": "CURRENT" if i == 0 else "SUPPORTED",
                          "links": [{"rel": "self", "href": f"{base}/v2/"}]}
                         for i, v in enumerate(_VERSIONS)]}
