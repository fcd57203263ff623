"""Nova's checks of flavor extra specs it knows (nova/api/validation/extra_specs): the value
of a registered key, and unknown keys in a namespace nova owns; 400 naming the key."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sriovstack.errors import Invalid

__all__ = ["check_extra_spec", "parse_alias_spec", "ALIAS_SPEC"]

ALIAS_SPEC = "pci_passthrough:alias"
_TRUE_FALSE = ("true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n")


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str  # "int", "bool", "enum", "pattern"
    enum: tuple[str, ...] = ()
    pattern: str = ""
    minimum: int | None = None


def _enum(*values: str) -> _Rule:
    return _Rule("enum", enum=values)


_INT1 = _Rule("int", minimum=1)
_INT0 = _Rule("int", minimum=0)
_BOOL = _Rule("bool")
_PAGE = _Rule("pattern", pattern=r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)")

# Registered names (a trailing ``.N`` or ``*`` stands for a numbered or free part).
_RULES: dict[str, _Rule] = {
    "hw:cpu_policy": _enum("dedicated", "shared", "mixed"),
    "hw:cpu_thread_policy": _enum("prefer", "isolate", "require"),
    "hw:emulator_threads_policy": _enum("share", "isolate"),
    "hw:cpu_realtime": _BOOL,
    "hw:cpu_realtime_mask": _Rule("pattern", pattern=r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
    "hw:cpu_sockets": _INT1, "hw:cpu_cores": _INT1, "hw:cpu_threads": _INT1,
    "hw:cpu_max_sockets": _INT1, "hw:cpu_max_cores": _INT1, "hw:cpu_max_threads": _INT1,
    "hw:mem_page_size": _PAGE,
    "hw:numa_nodes": _INT1,
    "hw:numa_cpus.N": _Rule("pattern", pattern=r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
    "hw:numa_mem.N": _INT0,
    "hw:pci_numa_affinity_policy": _enum("required", "preferred", "legacy", "socket"),
    "hw:vif_multiqueue_enabled": _BOOL,
    "hw:watchdog_action": _enum("none", "pause", "poweroff", "reset", "disabled"),
    "hw:hide_hypervisor_id": _BOOL,
    "hw:boot_menu": _BOOL,
    "hw:mem_encryption": _BOOL,
    "hw:pmu": _BOOL,
    "hw:serial_port_count": _INT0,
    "hw:tpm_model": _enum("tpm-tis", "tpm-crb"),
    "hw:tpm_version": _enum("1.2", "2.0"),
    "hw:cpu_mode": _enum("none", "host-model", "host-passthrough", "custom"),
    "hw:cpu_model": _Rule("pattern", pattern=r".+"),
    "hw:locked_memory": _BOOL,
    "hw:virtio_packed_ring": _BOOL,
    "hw_rng:allowed": _BOOL, "hw_rng:rate_bytes": _INT0, "hw_rng:rate_period": _INT0,
    "hw_video:ram_max_mb": _INT0,
    "os:secure_boot": _enum("required", "disabled", "optional"),
    ALIAS_SPEC: _Rule("pattern", pattern=r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
    "trait:*": _enum("required", "forbidden"),
    "resources*:*": _INT0,
    "quota:*": _INT0,
    "accel:device_profile": _Rule("pattern", pattern=r".+"),
}
# Namespaces nova owns: a key in one of them must be registered.
_OWNED = ("hw", "hw_rng", "hw_video", "os", "pci_passthrough", "trait", "quota", "accel")


def _rule_for(key: str) -> _Rule | None:
    if key in _RULES:
        return _RULES[key]
    numbered = re.fullmatch(r"(hw:numa_(?:cpus|mem))\.\d+", key)
    if numbered:
        return _RULES[f"{numbered.group(1)}.N"]
    if key.startswith("trait:") and len(key) > len("trait:"):
        return _RULES["trait:*"]
    if re.fullmatch(r"resources\d*:[A-Z0-9_]+", key):
        return _RULES["resources*:*"]
    if key.startswith("quota:") and len(key) > len("quota:"):
        return _RULES["quota:*"]
    return None


def _fail(key: str, value: str, why: str) -> Invalid:
    return Invalid(f"Validation failed; extra spec '{key}': {why}", field=key, value=value)


def check_extra_spec(key: str, value: str) -> None:
    """Invalid (400) naming ``key`` when nova knows the key and the value breaks its rule,
    or when ``key`` is in a namespace nova owns (``hw:``, ``trait:``...) but unregistered."""
    rule = _rule_for(key)
    if rule is None:
        namespace = key.split(":", 1)[0] if ":" in key else ""
        if re.sub(r"\d+$", "", namespace) in _OWNED or namespace.startswith("resources"):
            raise _fail(key, value, "this extra spec is not registered in its namespace "
                        f"'{namespace}'")
        return  # capabilities:, aggregate_instance_extra_specs: and free keys pass
    if rule.kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise _fail(key, value, f"'{value}' is not a valid integer value.") from None
        if rule.minimum is not None and number < rule.minimum:
            raise _fail(key, value, f"'{value}' is less than the minimum of {rule.minimum}")
    elif rule.kind == "bool":
        if value.strip().lower() not in _TRUE_FALSE:
            raise _fail(key, value, f"'{value}' is not a valid boolean-like value.")
    elif rule.kind == "enum":
        if value not in rule.enum:
            raise _fail(key, value, f"'{value}' is not one of {list(rule.enum)}")
    elif not re.fullmatch(rule.pattern, value):
        raise _fail(key, value, f"'{value}' is not of the format {rule.pattern}")


def parse_alias_spec(value: str) -> tuple[tuple[str, int], ...]:
    """``"name:count[,name:count]"`` as (name, count) pairs; Invalid naming the key when the
    format is wrong or a count is below 1."""
    check_extra_spec(ALIAS_SPEC, value)
    pairs: list[tuple[str, int]] = []
    for item in value.split(","):
        name, _, count = item.strip().rpartition(":")
        if int(count) < 1:
            raise _fail(ALIAS_SPEC, value, f"the count of alias '{name}' must be 1 or more")
        pairs.append((name.strip(), int(count)))
    return tuple(pairs)
