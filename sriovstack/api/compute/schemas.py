"""Compute v2.1 request bodies and query strings (pydantic, unknown keys refused)."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from sriovstack.compute import FlavorQuery, NetworkRequest, ServerCreate, ServerFilter
from sriovstack.wire import ServerStatus
from sriovstack.errors import Invalid, NotSupported

__all__ = ["ServerCreateRequest", "ServerActionRequest", "flavor_query", "server_filter"]

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class NetworkItem(BaseModel):
    """One ``networks`` entry: ``{"port": id}`` or ``{"uuid": network id[, "fixed_ip"]}``."""

    model_config = _STRICT
    port: str | None = None
    uuid: str | None = None
    fixed_ip: str | None = None

    def to_request(self, index: int) -> NetworkRequest:
        if (self.port is None) == (self.uuid is None):
            raise Invalid(f"networks[{index}] must give exactly one of 'port' or 'uuid'",
                          field=f"networks[{index}]")
        if self.fixed_ip is not None:
            raise NotSupported(f"networks[{index}].fixed_ip is not supported: create a port "
                               "with the address and pass {\"port\": <id>}",
                               field="fixed_ip", value=self.fixed_ip)
        return NetworkRequest(port_id=self.port, network_id=self.uuid)


class BlockDeviceMapping(BaseModel):
    """The ``block_device_mapping_v2`` entry OSC sends beside imageRef (boot from image)."""

    model_config = _STRICT
    uuid: str | None = None
    boot_index: int | str | None = None
    source_type: str | None = None
    destination_type: str | None = None
    delete_on_termination: bool | None = None
    volume_size: int | None = None
    device_name: str | None = None
    disk_bus: str | None = None
    device_type: str | None = None
    guest_format: str | None = None

    def image_id(self, index: int) -> str | None:
        """The image this entry boots from; NotSupported for volumes (no block storage here)."""
        if self.source_type in (None, "image") and self.destination_type in (None, "local"):
            return self.uuid if str(self.boot_index) == "0" else None
        raise NotSupported(
            f"block_device_mapping_v2[{index}]: source_type {self.source_type!r} / "
            f"destination_type {self.destination_type!r} needs a block storage service, which "
            "this deployment has not; boot from an image (source_type image, destination_type "
            "local)", field="block_device_mapping_v2", value=self.source_type)


class SecurityGroupRef(BaseModel):
    model_config = _STRICT
    name: str


class ServerBody(BaseModel):
    """The ``server`` object of POST /servers at 2.1."""

    model_config = _STRICT
    name: str = Field(min_length=1, max_length=255)
    imageRef: str | None = None
    flavorRef: str | int
    networks: list[NetworkItem] | None = None
    block_device_mapping_v2: list[BlockDeviceMapping] | None = None
    min_count: int = Field(default=1, ge=1)
    max_count: int = Field(default=1, ge=1)
    metadata: dict[str, str] | None = None
    availability_zone: str | None = Field(default=None, min_length=1, max_length=255)
    key_name: str | None = Field(default=None, min_length=1, max_length=255)
    security_groups: list[SecurityGroupRef] | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_within_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        # nova's metadata schema: keys 1-255 characters, values at most 255.
        for key, item in (value or {}).items():
            if not 1 <= len(key) <= 255:
                raise ValueError(f"metadata keys must be 1 to 255 characters ({len(key)} given)")
            if len(item) > 255:
                raise ValueError(f"the value of metadata key {key[:40]!r} is {len(item)} "
                                 "characters long; at most 255 are allowed")
        return value

    @field_validator("accessIPv4", "accessIPv6")
    @classmethod
    def _an_address(cls, value: str | None, info: Any) -> str | None:
        # nova: format ipv4 / ipv6; an empty string means none.
        if not value:
            return value
        version = 4 if info.field_name == "accessIPv4" else 6
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            address = None
        if address is None or address.version != version:
            raise ValueError(f"{value[:64]!r} is not a valid IPv{version} address")
        return value


class ServerCreateRequest(BaseModel):
    """``{"server": {...}}``."""

    model_config = _STRICT
    server: ServerBody

    def to_spec(self) -> ServerCreate:
        """The typed create request; Invalid/NotSupported for what we cannot honour."""
        s = self.server
        if s.min_count != 1 or s.max_count != 1:
            raise NotSupported("min_count/max_count above 1 are not supported: create one "
                               "server per request", field="max_count", value=s.max_count)
        image = s.imageRef or None
        for i, bdm in enumerate(s.block_device_mapping_v2 or ()):
            image = image or bdm.image_id(i)
        return ServerCreate(
            name=s.name, flavor_ref=str(s.flavorRef), image_ref=image,
            networks=tuple(n.to_request(i) for i, n in enumerate(s.networks or ())),
            availability_zone=s.availability_zone, access_ipv4=s.accessIPv4 or "",
            access_ipv6=s.accessIPv6 or "",
            metadata=tuple(sorted((s.metadata or {}).items())), key_name=s.key_name,
            security_groups=tuple(g.name for g in s.security_groups or ()))


class ServerActionRequest(RootModel[dict[str, Any]]):
    """``{"<action>": <arguments>}``: exactly one action per request."""

    def action(self) -> str:
        if len(self.root) != 1:
            raise Invalid(f"an action body names exactly one action, not {len(self.root)} "
                          f"({', '.join(sorted(self.root)) or 'none'})", field="action")
        return next(iter(self.root))


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def flavor_query(is_public: str | None, min_disk: str | None, min_ram: str | None,
                 limit: str | None, marker: str | None, is_admin: bool) -> FlavorQuery:
    """Nova's flavor filters; ``is_public=None`` (the literal) means public and private."""
    public: bool | None = True
    if is_public is not None:
        text = is_public.strip().lower()
        if text == "none":
            public = None if is_admin else True
        elif text in _TRUE or text in _FALSE:
            public = text in _TRUE
        else:
            raise Invalid(f"Invalid is_public filter [{is_public}]", field="is_public",
                          value=is_public, fix="true, false or None")
    return FlavorQuery(is_public=public, min_disk=_int("minDisk", min_disk),
                       min_ram=_int("minRam", min_ram), limit=_int("limit", limit),
                       marker=marker)


_MAX_INT = 2**63 - 1  # the largest integer both databases compare (SQLite: OverflowError above)


def _int(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_INT:
        raise Invalid(f"Invalid {name} filter [{text}]: expected an integer of 0 or more",
                      field=name, value=text)
    return value


def server_filter(name: str | None, host: str | None, status: str | None,
                  all_tenants: str | None, limit: str | None = None,
                  marker: str | None = None) -> ServerFilter:
    """List filters: ``name`` regex, ``host``, ``status``, ``all_tenants`` (admin),
    ``limit`` (an integer of 0 or more, else 400 naming it) and ``marker``."""
    parsed: ServerStatus | None = None
    if status is not None:
        try:
            parsed = ServerStatus(status.upper())
        except ValueError as exc:
            raise Invalid(f"Invalid status value {status!r}", field="status", value=status,
                          fix=", ".join(s.value for s in ServerStatus)) from exc
    every = all_tenants is not None and all_tenants.strip().lower() not in _FALSE
    return ServerFilter(name=name, host=host, status=parsed, all_projects=every,
                        limit=_int("limit", limit), marker=marker)


class DrainBody(BaseModel):
    """os-sriov-hosts drain: ``dry_run`` true plans only (the default)."""

    model_config = _STRICT
    dry_run: bool = True


class DrainRequest(BaseModel):
    """``{"drain": {"dry_run": true}}``."""

    model_config = _STRICT
    drain: DrainBody = Field(default_factory=DrainBody)
