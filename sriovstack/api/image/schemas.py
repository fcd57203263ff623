"""Glance v2 request bodies (image create, JSON patch) and the schema documents glance serves.

Glance's image is open-ended (any extra string property), so bodies are read here field by
field rather than by a closed pydantic model; every check names the field, with glance's
status (400 bad value, 403 read-only/reserved attribute, 415 wrong patch media type is a 400).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import Request

from sriovstack.compute import BASE_ATTRS, ImageAttrs, ImageCreate, PatchOp, check_attr
from sriovstack.errors import Invalid

__all__ = ["image_create", "json_patch", "PATCH_MEDIA_TYPES", "image_schema",
           "images_schema"]

PATCH_MEDIA_TYPES = ("application/openstack-images-v2.1-json-patch",
                     "application/openstack-images-v2.0-json-patch")
_OPS = ("add", "replace", "remove")


def image_create(body: Any) -> ImageCreate:
    """The create request ``{"name": ..., "disk_format": ..., "<property>": "..."}``."""
    if not isinstance(body, dict):
        raise Invalid("The image create body must be a JSON object", field="body")
    image_id = body.get("id")
    if image_id is not None:
        try:
            image_id = str(uuid.UUID(str(image_id)))
        except ValueError as exc:
            raise Invalid(f"Invalid value {image_id!r} for 'id': a UUID", field="id",
                          value=image_id) from exc
    base: list[tuple[str, Any]] = []
    props: list[tuple[str, str]] = []
    for attr, value in body.items():
        if attr == "id":
            continue
        checked = check_attr(attr, value)
        (base if attr in BASE_ATTRS else props).append((attr, checked))
    return ImageCreate(image_id, ImageAttrs(tuple(base), tuple(sorted(props))))


def _attr_of(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/") or "/" in path[1:]:
        raise Invalid(f"Invalid JSON pointer {path!r} for an image attribute: '/<name>'",
                      field="path", value=path)
    return path[1:].replace("~1", "/").replace("~0", "~")


def _op_of(item: Any) -> PatchOp:
    if not isinstance(item, dict) or item.get("op") not in _OPS:
        raise Invalid(f"Operation {item!r} is not an object with 'op' one of "
                      f"{', '.join(_OPS)}", field="op")
    op = str(item["op"])
    if op != "remove" and "value" not in item:
        raise Invalid(f"Operation '{op}' needs a 'value'", field="value")
    return PatchOp(op, _attr_of(item.get("path")), item.get("value"))


async def json_patch(request: Request) -> tuple[PatchOp, ...]:
    """FastAPI dependency: the PATCH body, a JSON list of operations in glance's media type."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip()
    if media not in PATCH_MEDIA_TYPES:
        raise Invalid(f"Content-Type {media or '(none)'!r} is not supported for PATCH",
                      field="Content-Type", fix=f"send {PATCH_MEDIA_TYPES[0]}")
    try:
        body = json.loads(await request.body())
    except ValueError as exc:
        raise Invalid(f"The PATCH body is not valid JSON: {exc}", field="body") from exc
    if not isinstance(body, list):
        raise Invalid("The PATCH body must be a JSON list of operations", field="body")
    return tuple(_op_of(item) for item in body)


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": ["null", kind], **extra}


def image_schema() -> dict[str, Any]:
    """GET /v2/schemas/image: the JSON schema every image body satisfies (glanceclient
    validates each image it reads against it); extra properties are strings."""
    statuses = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing",
                "pending_delete", "deactivated"]
    return {
        "name": "image",
        "properties": {
            "id": {"type": "string", "description": "An identifier for the image",
                   "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                              "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
            "name": _nullable("string", maxLength=255),
            "status": {"type": "string", "readOnly": True, "enum": statuses},
            "visibility": {"type": "string",
                           "enum": ["community", "public", "private", "shared"]},
            "protected": {"type": "boolean"},
            "os_hidden": {"type": "boolean"},
            "checksum": _nullable("string", readOnly=True, maxLength=32),
            "os_hash_algo": _nullable("string", readOnly=True, maxLength=64),
            "os_hash_value": _nullable("string", readOnly=True, maxLength=128),
            "owner": _nullable("string", maxLength=255),
            "size": _nullable("integer", readOnly=True),
            "virtual_size": _nullable("integer", readOnly=True),
            "container_format": {"type": ["null", "string"],
                                 "enum": [None, "ami", "ari", "aki", "bare", "ovf", "ova",
                                          "docker", "compressed"]},
            "disk_format": {"type": ["null", "string"],
                            "enum": [None, "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw",
                                     "qcow2", "vdi", "iso", "ploop"]},
            "created_at": {"type": "string", "readOnly": True},
            "updated_at": {"type": "string", "readOnly": True},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
            "min_ram": {"type": "integer"},
            "min_disk": {"type": "integer"},
            "self": {"type": "string", "readOnly": True},
            "file": {"type": "string", "readOnly": True},
            "schema": {"type": "string", "readOnly": True},
            "direct_url": {"type": "string", "readOnly": True},
            "locations": {"type": "array", "items": {"type": "object"}},
        },
        "additionalProperties": {"type": "string"},
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def images_schema() -> dict[str, Any]:
    """GET /v2/schemas/images: a page of images."""
    return {
        "name": "images",
        "properties": {"images": {"type": "array", "items": image_schema()},
                       "schema": {"type": "string"}, "first": {"type": "string"},
                       "next": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }
