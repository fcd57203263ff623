"""Request bodies and query strings of os-quota-sets, os-quota-class-sets, os-services and
os-simple-tenant-usage (nova's schemas: unknown keys refused, 400 naming the field)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion
from sriovstack.compute import COMPUTE_DEFAULTS, LEGACY_NETWORK_DEFAULTS
from sriovstack.errors import Invalid

__all__ = ["quota_resources", "class_resources", "quota_changes", "ServiceChange",
           "service_change", "legacy_service_change", "usage_time", "QUOTA_TRUE"]

_INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
_GROUPS = ("server_groups", "server_group_members")
_LIMIT_TEXT = re.compile(r"^-?[0-9]+$")
QUOTA_TRUE = ("true", "1", "yes", "on", "y", "t")
_BOOL = {**{t: True for t in QUOTA_TRUE}, **{f: False for f in ("false", "0", "no", "off",
                                                                    "n", "f")}}


def quota_resources(version: ApiVersion) -> tuple[str, ...]:
    """The resources os-quota-sets shows at ``version``: nova's list, without the
    nova-network ones from 2.36 and the injected-file ones from 2.57."""
    names = list(COMPUTE_DEFAULTS)
    if version < mv.PROXY_APIS_REMOVED:
        names += list(LEGACY_NETWORK_DEFAULTS)
    if version >= mv.PERSONALITY_REMOVED:
        names = [n for n in names if n not in _INJECTED]
    return tuple(names)


def class_resources(version: ApiVersion) -> tuple[str, ...]:
    """os-quota-class-sets' resources: no server group ones and the nova-network ones
    below 2.50; from 2.57 without the injected-file ones."""
    if version >= mv.QUOTA_CLASS_GROUPS:
        return quota_resources(max(version, mv.PROXY_APIS_REMOVED))
    return tuple(n for n in quota_resources(mv.MIN_VERSION) if n not in _GROUPS)


def _limit(name: str, value: Any) -> int:
    if isinstance(value, str) and _LIMIT_TEXT.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Invalid input for field/attribute {name}. Value: {value!r}. "
                      f"{value!r} is not of type 'integer', 'string'", field=name, value=value)
    return value


def quota_changes(body: Any, key: str, allowed: Sequence[str], *,
                  with_force: bool) -> tuple[dict[str, int], bool]:
    """``{key: {resource: limit, ["force": bool]}}`` as (changes, force); Invalid (400) for
    another shape, an unknown resource or a limit that is not an integer."""
    if not isinstance(body, Mapping) or set(body) != {key} or not isinstance(body[key], Mapping):
        raise Invalid(f"Invalid input: the body must be {{\"{key}\": {{...}}}}", field=key)
    changes: dict[str, int] = {}
    force = False
    for name, value in body[key].items():
        if name == "force" and with_force:
            force = _flag("force", value)
        elif name in allowed:
            changes[name] = _limit(name, value)
        else:
            raise Invalid(f"Invalid input for field/attribute {key}. Value: {dict(body[key])}."
                          f" Additional properties are not allowed ('{name}' was unexpected)",
                          field=name)
    return changes, force


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL:
        return _BOOL[value.lower()]
    raise Invalid(f"Invalid input for field/attribute {name}. Value: {value!r}. "
                  f"{value!r} is not a valid boolean", field=name, value=value)


@dataclass(frozen=True, slots=True)
class ServiceChange:
    """What one PUT changes of a service: its status (with reason), forced_down, or both."""

    enabled: bool | None = None
    reason: str | None = None
    forced_down: bool | None = None


def service_change(body: Any) -> ServiceChange:
    """2.53's ``PUT /os-services/{id}`` body: ``status`` enabled|disabled,
    ``disabled_reason`` (only with status disabled), ``forced_down``; 400 otherwise."""
    if not isinstance(body, Mapping) or not body:
        raise Invalid("Invalid input: give status, disabled_reason or forced_down",
                      field="status")
    unknown = set(body) - {"status", "disabled_reason", "forced_down"}
    if unknown:
        raise Invalid(f"Additional properties are not allowed ('{sorted(unknown)[0]}' was "
                      "unexpected)", field=sorted(unknown)[0])
    status = body.get("status")
    if status not in (None, "enabled", "disabled"):
        raise Invalid(f"Invalid input for field/attribute status. Value: {status!r}. "
                      "'enabled' or 'disabled'", field="status", value=status)
    reason = body.get("disabled_reason")
    if reason is not None and status != "disabled":
        raise Invalid("Specifying 'disabled_reason' with status other than 'disabled' is "
                      "invalid.", field="disabled_reason")
    forced = body.get("forced_down")
    return ServiceChange(enabled=None if status is None else status == "enabled",
                         reason=reason,
                         forced_down=None if forced is None else _flag("forced_down", forced))


def legacy_service_change(action: str, body: Any, version: ApiVersion
                          ) -> tuple[str, ServiceChange]:
    """Below 2.53: ``PUT /os-services/{enable|disable|disable-log-reason|force-down}`` with
    ``{"host", "binary"[, "disabled_reason" | "forced_down"]}``: (host, change)."""
    wanted = {"enable": {"host", "binary"}, "disable": {"host", "binary"},
              "disable-log-reason": {"host", "binary", "disabled_reason"},
              "force-down": {"host", "binary", "forced_down"}}
    if action not in wanted or (action == "force-down" and version < mv.FORCED_DOWN):
        raise Invalid(f"Unknown action {action!r}", field="action", value=action)
    if not isinstance(body, Mapping) or not wanted[action] <= set(body):
        raise Invalid(f"Invalid input: {action} needs {', '.join(sorted(wanted[action]))}",
                      field="host")
    extra = set(body) - wanted[action]
    if extra:
        raise Invalid(f"Additional properties are not allowed ('{sorted(extra)[0]}' was "
                      "unexpected)", field=sorted(extra)[0])
    if body["binary"] != "nova-compute":
        raise Invalid(f"Updating a {body['binary']} service is not supported. Only "
                      "nova-compute services can be updated.", field="binary",
                      value=body["binary"])
    host = str(body["host"])
    if action == "enable":
        return host, ServiceChange(enabled=True)
    if action == "disable":
        return host, ServiceChange(enabled=False)
    if action == "disable-log-reason":
        return host, ServiceChange(enabled=False, reason=str(body["disabled_reason"]))
    return host, ServiceChange(forced_down=_flag("forced_down", body["forced_down"]))


_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f",
                 "%Y-%m-%d %H:%M:%S")


def usage_time(name: str, value: str | None) -> datetime | None:
    """A ``start``/``end`` query value as nova parses it (UTC); Invalid (400) otherwise."""
    if value is None:
        return None
    text = value.strip().removesuffix("Z")
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise Invalid(f"Invalid {name} time. The {name} time must be like "
                  "2026-12-06T10:00:00[.000000]", field=name, value=value)
