"""Compute v2.1 request bodies and query strings (pydantic, unknown keys refused)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion
from sriovstack.compute import (FlavorQuery, NetworkRequest, ServerCreate, ServerFilter,
                                ServerUpdate)
from sriovstack.wire import ServerStatus
from sriovstack.errors import Invalid, NotSupported

__all__ = ["ServerCreateRequest", "ServerUpdateRequest", "flavor_query", "server_filter", "flag",
           "HypervisorQuery", "hypervisor_query", "instance_actions_query"]


def _unexpected(name: str, version: ApiVersion) -> Invalid:
    # Nova's schema for this microversion has no such property (additionalProperties false).
    return Invalid(f"Invalid input for field/attribute server. Value: Additional properties "
                   f"are not allowed ('{name}' was unexpected) at microversion {version}",
                   field=name)

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class NetworkItem(BaseModel):
    """One ``networks`` entry: ``{"port": id}`` or ``{"uuid": network id[, "fixed_ip"]}``."""

    model_config = _STRICT
    port: str | None = None
    uuid: str | None = None
    fixed_ip: str | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=60)

    def to_request(self, index: int, version: ApiVersion) -> NetworkRequest:
        # 2.32 added a device tag, 2.37 lost it by mistake, 2.42 restored it.
        if self.tag is not None and not (
                mv.NETWORK_TAG <= version < mv.NETWORK_TAG_DROPPED
                or version >= mv.NETWORK_TAG_RESTORED):
            raise _unexpected("tag", version)
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
    networks: list[NetworkItem] | Literal["auto", "none"] | None = None
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
    description: str | None = Field(default=None, max_length=255)
    tags: list[str] | None = None
    host: str | None = None
    hypervisor_hostname: str | None = None
    # The password nova sets in the guest and echoes in the 202; no guest agent here sets it
    adminPass: str | None = None

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
        return str(address)  # canonical (RFC 5952), as nova stores it


class ServerCreateRequest(BaseModel):
    """``{"server": {...}}``."""

    model_config = _STRICT
    server: ServerBody

    def to_spec(self, version: ApiVersion = mv.MIN_VERSION) -> ServerCreate:
        """The typed create request at ``version``; Invalid for what that version's schema
        lacks, NotSupported for what we cannot honour."""
        s = self.server
        _check_create_version(s, version)
        if s.min_count != 1 or s.max_count != 1:
            raise NotSupported("min_count/max_count above 1 are not supported: create one "
                               "server per request", field="max_count", value=s.max_count)
        image = s.imageRef or None
        for i, bdm in enumerate(s.block_device_mapping_v2 or ()):
            image = image or bdm.image_id(i)
        return ServerCreate(
            name=s.name, flavor_ref=str(s.flavorRef), image_ref=image,
            networks=tuple(n.to_request(i, version) for i, n in enumerate(
                s.networks if isinstance(s.networks, list) else ())),
            availability_zone=s.availability_zone, access_ipv4=s.accessIPv4 or "",
            access_ipv6=s.accessIPv6 or "",
            metadata=tuple(sorted((s.metadata or {}).items())), key_name=s.key_name,
            security_groups=tuple(g.name for g in s.security_groups or ()),
            description=s.description, auto_network=s.networks == "auto")


def _check_create_version(s: ServerBody, version: ApiVersion) -> None:
    if s.description is not None and version < mv.DESCRIPTION:
        raise _unexpected("description", version)
    if isinstance(s.networks, str) and version < mv.NETWORKS_REQUIRED:
        raise Invalid(f"Invalid input for field/attribute networks. Value: {s.networks}. "
                      f"'{s.networks}' is not of type 'array' (below 2.37)", field="networks",
                      value=s.networks)
    if s.networks is None and version >= mv.NETWORKS_REQUIRED:
        raise Invalid("Invalid input for field/attribute server. 'networks' is a required "
                      "property (from 2.37: a list, \"auto\" or \"none\")", field="networks")
    if s.tags is not None:
        if version < mv.TAGS_AT_CREATE:
            raise _unexpected("tags", version)
        raise NotSupported("server tags are not supported by this compute service: leave "
                           "'tags' out", field="tags", value=s.tags)
    for name in ("host", "hypervisor_hostname"):
        if getattr(s, name) is not None:
            if version < mv.CREATE_ON_HOST:
                raise _unexpected(name, version)
            raise NotSupported(f"'{name}' at create is not supported by this compute service "
                               "yet: leave it out and the scheduler places the server",
                               field=name, value=getattr(s, name))


class ServerUpdateBody(BaseModel):
    """The ``server`` object of PUT /servers/{id}."""

    model_config = _STRICT
    name: str | None = Field(default=None, min_length=1, max_length=255)
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    description: str | None = Field(default=None, max_length=255)
    disk_config: str | None = Field(default=None, alias="OS-DCF:diskConfig")


class ServerUpdateRequest(BaseModel):
    """``{"server": {...}}`` of PUT /servers/{id}."""

    model_config = _STRICT
    server: ServerUpdateBody

    def to_update(self, version: ApiVersion) -> ServerUpdate:
        """The typed update; Invalid for ``description`` below 2.19 or a blank name."""
        s = self.server
        given = s.model_fields_set
        if "description" in given and version < mv.DESCRIPTION:
            raise _unexpected("description", version)
        if s.name is not None and not s.name.strip():
            raise Invalid("Invalid input for field/attribute name: must not be blank",
                          field="name", value=s.name)
        return ServerUpdate(name=s.name, access_ipv4=s.accessIPv4, access_ipv6=s.accessIPv6,
                            set_description="description" in given,
                            description=s.description)


# oslo strutils.bool_from_string(strict=True), as nova parses is_public.
_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


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


# Nova's server list parameters (its query schema; unknown ones are a 400 from 2.75).
_APPLIED = frozenset({"name", "host", "status", "all_tenants", "deleted", "image", "flavor",
                      "changes-since", "changes-before", "locked", "limit", "marker",
                      "sort_key", "sort_dir"})
_NOVA_ONLY = frozenset({
    "reservation_id", "ip", "ip6", "node", "tenant_id", "project_id", "user_id", "vm_state",
    "task_state", "power_state", "availability_zone", "access_ip_v4", "access_ip_v6",
    "auto_disk_config", "config_drive", "created_at", "description", "display_name",
    "display_description", "hostname", "key_name", "launch_index", "launched_at",
    "terminated_at", "progress", "root_device_name", "tags",
    "tags-any", "not-tags", "not-tags-any", "uuid", "updated_at", "kernel_id", "ramdisk_id",
    "image_ref", "flavor_id", "instance_type_id", "soft_deleted", "pci_alias"})


def server_filter(params: Mapping[str, str], version: ApiVersion, *,
                  admin: bool = False) -> ServerFilter:
    """GET /servers[/detail] parameters at ``version``: ``name`` (a regex), ``host``,
    ``status``, ``all_tenants`` (admin), ``image``, ``flavor``, ``changes-since``,
    ``changes-before`` (2.66), ``locked`` (2.73), ``limit``, ``marker``, ``sort_key`` and
    ``sort_dir`` (repeatable, nova's keys); ``deleted=True`` matches nothing (deleted servers
    are not kept).

    Raises Invalid for a bad value (an unknown status only from 2.38: below it nova lists
    nothing), for an unknown parameter from 2.75 (below it nova ignores it), and NotSupported
    for a nova filter this API does not apply (rather than ignoring it and listing too much).
    """
    for key in params:
        applied = key in _APPLIED and not (
            (key == "changes-before" and version < mv.CHANGES_BEFORE)
            or (key == "locked" and version < mv.LOCKED_REASON))
        if applied:
            continue
        if key in _NOVA_ONLY:
            raise NotSupported(f"the server list filter {key!r} is not supported by this "
                               "compute service", field=key, value=params[key],
                               fix=f"filter by {', '.join(sorted(_APPLIED))}")
        if version >= mv.API_CLEANUP:
            raise Invalid(f"Invalid input for query parameters {key}. Value: {params[key]}. "
                          "Additional properties are not allowed", field=key,
                          value=params[key])
    every = flag("all_tenants", params.get("all_tenants"), default=False, bare=True)
    nothing = flag("deleted", params.get("deleted"), default=False, bare=False)
    try:
        status = _status(params.get("status"))
    except Invalid:
        if version >= mv.STATUS_FILTER_STRICT:
            raise
        status, nothing = None, True  # below 2.38 nova lists nothing for an unknown status
    return ServerFilter(
        name=params.get("name"), host=params.get("host"), status=status, all_projects=every,
        image_id=params.get("image"), flavor_id=params.get("flavor"),
        locked=None if "locked" not in params else flag("locked", params["locked"],
                                                         default=False, bare=False),
        changed_since=_time("changes-since", params.get("changes-since")),
        changed_before=_time("changes-before", params.get("changes-before")),
        limit=_int("limit", params.get("limit")), marker=params.get("marker"),
        nothing=nothing, sorts=_server_sorts(params, version, admin=admin))


def flag(name: str, text: str | None, *, default: bool, bare: bool) -> bool:
    if text is None:
        return default
    value = text.strip().lower()
    if value == "" and bare:
        return True  # nova: a bare all_tenants means true
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise Invalid(f"Invalid value {text!r} for {name}: expected a boolean", field=name,
                  value=text, fix="true or false")


def _status(text: str | None) -> ServerStatus | None:
    if text is None:
        return None
    try:
        return ServerStatus(text.upper())
    except ValueError as exc:
        raise Invalid(f"Invalid status value {text!r}", field="status", value=text,
                      fix=", ".join(s.value for s in ServerStatus)) from exc


def _time(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Invalid(f"Invalid {name} value {text!r}: expected an ISO 8601 time", field=name,
                      value=text, fix="e.g. 2026-12-01T10:00:00Z") from exc
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class HypervisorQuery:
    """os-hypervisors list parameters as the microversion reads them."""

    pattern: str | None = None
    limit: int | None = None
    marker: str | None = None


def hypervisor_query(pattern: str | None, limit: str | None, marker: str | None,
                     version: ApiVersion) -> HypervisorQuery:
    """``limit``/``marker`` from 2.33, ``hypervisor_hostname_pattern`` from 2.53 (below, nova
    ignores them); Invalid for paging together with a pattern, as nova refuses it."""
    if version < mv.HYPERVISOR_PAGING:
        return HypervisorQuery()
    if version < mv.HYPERVISOR_UUIDS:
        pattern = None
    if pattern is not None and (limit is not None or marker is not None):
        raise Invalid("Paging over hypervisors with the hypervisor_hostname_pattern query "
                      "parameter is not supported.", field="hypervisor_hostname_pattern",
                      value=pattern)
    return HypervisorQuery(pattern, _int("limit", limit), marker)


class DrainBody(BaseModel):
    """os-sriov-hosts drain: ``dry_run`` true plans only (the default)."""

    model_config = _STRICT
    dry_run: bool = True


class DrainRequest(BaseModel):
    """``{"drain": {"dry_run": true}}``."""

    model_config = _STRICT
    drain: DrainBody = Field(default_factory=DrainBody)


def instance_actions_query(params: Mapping[str, str], version: ApiVersion) -> None:
    """os-instance-actions list parameters: 2.58's paging and 2.66's changes-before are
    refused (NotSupported, 400) rather than ignored; below 2.58 nova ignores parameters."""
    for key in ("limit", "marker", "changes-since", "changes-before"):
        if key in params and version >= mv.ACTIONS_PAGING:
            raise NotSupported(f"the instance action list parameter {key!r} is not "
                               "supported by this compute service: the whole list is "
                               "returned without it", field=key, value=params[key])


# Nova's server sort keys (schemas/servers.py VALID_SORT_KEYS; ``locked`` from 2.73); the keys
# it accepts and drops (SERVER_LIST_IGNORE_SORT_KEY), and host/node, which only admins sort on.
_SORT_KEYS = frozenset({
    "access_ip_v4", "access_ip_v6", "auto_disk_config", "availability_zone", "config_drive",
    "created_at", "display_description", "display_name", "host", "hostname", "image_ref",
    "instance_type_id", "kernel_id", "key_name", "launch_index", "launched_at", "locked_by",
    "node", "power_state", "progress", "project_id", "ramdisk_id", "root_device_name",
    "task_state", "terminated_at", "updated_at", "user_id", "uuid", "vm_state"})
_IGNORED_SORT_KEYS = frozenset({
    "architecture", "cell_name", "cleaned", "default_ephemeral_device", "default_swap_device",
    "deleted", "deleted_at", "disable_terminate", "ephemeral_gb", "ephemeral_key_uuid", "id",
    "key_data", "launched_on", "locked", "memory_mb", "os_type", "reservation_id", "root_gb",
    "shutdown_terminate", "user_data", "vcpus", "vm_mode"})
_ADMIN_SORT_KEYS = frozenset({"host", "node"})


def _every(params: Mapping[str, str], key: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    values = getlist(key) if getlist is not None else (
        [params[key]] if key in params else [])
    return [v.strip() for v in values]


def _server_sorts(params: Mapping[str, str], version: ApiVersion, *,
                  admin: bool) -> tuple[tuple[str, bool], ...]:
    """nova's ``get_sort_params`` + ``remove_invalid_sort_keys`` + ``process_sort_params``:
    400 for a key or direction outside nova's enums or more directions than keys; ignored keys
    (and host/node for non-admins) dropped with their direction; a key without a direction
    takes the first one given (desc when none)."""
    given_keys, given_dirs = _every(params, "sort_key"), _every(params, "sort_dir")
    valid = _SORT_KEYS | ({"locked"} if version >= mv.LOCKED_REASON else set())
    for key in given_keys:
        if key not in valid | _IGNORED_SORT_KEYS:
            raise Invalid(f"Invalid input for query parameters sort_key. Value: {key}. "
                          f"'{key}' is not one of the server sort keys", field="sort_key",
                          value=key, fix=", ".join(sorted(valid)))
    for direction in given_dirs:
        if direction not in ("asc", "desc"):
            raise Invalid(f"Invalid input for query parameters sort_dir. Value: {direction}. "
                          f"'{direction}' is not one of ['asc', 'desc']", field="sort_dir",
                          value=direction)
    keys, dirs = given_keys or ["created_at"], given_dirs or ["desc"]
    if len(dirs) > len(keys):
        raise Invalid("Sort direction size exceeds sort key size", field="sort_dir",
                      value=",".join(dirs))
    dropped = (_IGNORED_SORT_KEYS - valid) | (set() if admin else _ADMIN_SORT_KEYS)
    kept = [(k, dirs[i] if i < len(dirs) else None) for i, k in enumerate(keys)
            if k not in dropped]
    default = next((d for _, d in kept if d is not None), "desc")
    return tuple((k, (d or default) == "asc") for k, d in kept)
