"""Glance's image attributes and its JSON-patch rules (RFC 6902 subset: add, replace, remove).

Pure: ``apply_patch`` turns an image's writable attributes and a list of operations into the
new attributes, with glance's answers: 403 for read-only, reserved or base attributes that
cannot go, 409 to replace a property that does not exist, 400 for a bad value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriovstack.errors import Conflict, Forbidden, Invalid

__all__ = ["PatchOp", "ImageAttrs", "apply_patch", "check_attr", "READ_ONLY", "RESERVED",
           "DISK_FORMATS", "CONTAINER_FORMATS", "VISIBILITIES", "BASE_ATTRS"]

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
# Attributes glance computes itself (403 "is read-only" when a client sets them).
READ_ONLY = frozenset({"id", "status", "checksum", "size", "virtual_size", "created_at",
                       "updated_at", "file", "self", "schema", "os_hash_algo",
                       "os_hash_value", "direct_url", "locations", "owner"})
RESERVED = frozenset({"location", "deleted", "deleted_at"})
# The base attributes a client may set; everything else is an extra (string) property.
BASE_ATTRS = ("name", "visibility", "disk_format", "container_format", "min_disk", "min_ram",
              "protected", "tags", "os_hidden")
_MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class PatchOp:
    """One JSON-patch operation on an image (``path`` without its leading slash)."""

    op: str
    attr: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class ImageAttrs:
    """An image's writable attributes: the base ones and its extra properties."""

    base: tuple[tuple[str, Any], ...]
    properties: tuple[tuple[str, str], ...]


def _int(attr: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"Invalid value {value!r} for '{attr}': a non-negative integer",
                      field=attr, value=value)
    return value


def _bool(attr: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"Invalid value {value!r} for '{attr}': true or false", field=attr,
                      value=value)
    return value


def _choice(attr: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise Invalid(f"Invalid value {value!r} for '{attr}': one of {', '.join(choices)}",
                      field=attr, value=value)
    return str(value)


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 255
                                              for t in value):
        raise Invalid(f"Invalid value {value!r} for 'tags': a list of strings (1-255 chars)",
                      field="tags", value=value)
    return list(dict.fromkeys(value))


def check_attr(attr: str, value: Any) -> Any:
    """``value`` checked for ``attr`` as glance's image schema does; Forbidden for read-only
    or reserved attributes, Invalid for a bad value."""
    if attr in READ_ONLY:
        raise Forbidden(f"Attribute '{attr}' is read-only.", field=attr)
    if attr in RESERVED:
        raise Forbidden(f"Attribute '{attr}' is reserved.", field=attr)
    match attr:
        case "name":
            if value is not None and (not isinstance(value, str) or len(value) > _MAX_NAME):
                raise Invalid(f"Invalid value {value!r} for 'name': a string of at most "
                              f"{_MAX_NAME} characters", field="name", value=value)
            return value
        case "visibility":
            return _choice(attr, value, VISIBILITIES)
        case "disk_format":
            return _choice(attr, value, DISK_FORMATS)
        case "container_format":
            return _choice(attr, value, CONTAINER_FORMATS)
        case "min_disk" | "min_ram":
            return _int(attr, value)
        case "protected" | "os_hidden":
            return _bool(attr, value)
        case "tags":
            return _tags(value)
    if not attr or not isinstance(value, str) or len(value) > 65535:
        raise Invalid(f"Invalid value {value!r} for property '{attr}': extra properties "
                      f"are strings", field=attr, value=value)
    return value


def apply_patch(attrs: ImageAttrs, ops: tuple[PatchOp, ...]) -> ImageAttrs:
    """The attributes after ``ops`` (in order); nothing is changed when one fails."""
    base = dict(attrs.base)
    props = dict(attrs.properties)
    for op in ops:
        if op.attr in BASE_ATTRS:
            if op.op == "remove":
                raise Forbidden(f"Attribute '{op.attr}' is a base attribute and cannot be "
                                f"removed", field=op.attr)
            base[op.attr] = check_attr(op.attr, op.value)
        elif op.op == "remove":
            check_attr(op.attr, "")
            if op.attr not in props:
                raise Conflict(f"Property {op.attr} does not exist.", field=op.attr)
            del props[op.attr]
        else:
            value = check_attr(op.attr, op.value)
            if op.op == "replace" and op.attr not in props:
                raise Conflict(f"Property {op.attr} does not exist.", field=op.attr,
                               fix="use the 'add' operation for a new property")
            props[op.attr] = value
    return ImageAttrs(tuple(base.items()), tuple(sorted(props.items())))
