"""PCI aliases: nova's ``[pci] alias`` JSON grammar, and turning a flavor's
``pci_passthrough:alias`` ("name:count[,name:count]") into PCI requests (nova_pci.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sriovstack.errors import ConfigError, Invalid
from sriovstack.pci.device import DevType
from sriovstack.pci.pools import NumaPolicy, PciRequest

__all__ = ["PciAlias", "parse_aliases", "alias_requests"]

_ID = re.compile(r"^[0-9a-fA-F]{4}$")
_KEYS = frozenset({"name", "vendor_id", "product_id", "device_type", "numa_policy"})


@dataclass(frozen=True, slots=True)
class PciAlias:
    """One alias: the devices a flavor asks for by ``name``."""

    name: str
    vendor_id: str | None
    product_id: str | None
    dev_type: DevType
    numa_policy: NumaPolicy | None = None

    def request(self, count: int, policy: NumaPolicy | None = None) -> PciRequest:
        """``count`` devices of this alias; the flavor's ``policy`` wins over the alias's."""
        return PciRequest(count=count, dev_type=self.dev_type, vendor_id=self.vendor_id,
                          product_id=self.product_id, any_physnet=True, alias=self.name,
                          numa_policy=policy or self.numa_policy or NumaPolicy.LEGACY)


def _bad(text: str, why: str, option: str, file: str | None, fix: str) -> ConfigError:
    return ConfigError(f"bad PCI alias {text!r}: {why}", file=file, option=option, value=text,
                       fix=fix)


def _one(spec: Any, text: str, option: str, file: str | None) -> PciAlias:
    example = ('{"name": "igb-vf", "vendor_id": "8086", "product_id": "10ca", '
               '"device_type": "type-VF"}')
    if not isinstance(spec, dict):
        raise _bad(text, "an alias is a JSON object", option, file, f"e.g. {example}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise _bad(text, f"unknown key {unknown[0]!r}", option, file,
                   f"keys are {', '.join(sorted(_KEYS))}")
    name = spec.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 256 or ":" in name \
            or "," in name:
        raise _bad(text, "'name' must be 1-256 characters without ':' or ','", option, file,
                   f"e.g. {example}")
    ids = {}
    for key in ("vendor_id", "product_id"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not _ID.match(value)):
            raise _bad(text, f"'{key}' must be four hex digits", option, file,
                       f"e.g. {example}")
        ids[key] = value.lower() if isinstance(value, str) else None
    kinds = {t.value: t for t in DevType}
    kind = spec.get("device_type")
    if kind not in kinds:
        # nova matches any type when device_type is missing; our pools hold only devices of
        # one type each, so the alias must say which (a departure, named in the fix).
        raise _bad(text, f"'device_type' must be one of {', '.join(kinds)}"
                   + (" (sriovstack needs it given)" if kind is None else ""), option, file,
                   'add "device_type": "type-VF" (or "type-PF" for a whole NIC port)')
    policy = spec.get("numa_policy")
    policies = {p.value: p for p in NumaPolicy}
    if policy is not None and policy not in policies:
        raise _bad(text, f"'numa_policy' must be one of {', '.join(policies)}", option, file,
                   "e.g. \"numa_policy\": \"preferred\"")
    return PciAlias(name, ids["vendor_id"], ids["product_id"], kinds[kind],
                    policies[policy] if policy is not None else None)


def parse_aliases(lines: Iterable[tuple[str, str | None]],
                  option: str = "[pci] alias") -> dict[str, PciAlias]:
    """Each ``(text, file)`` value of ``[pci] alias``: a JSON object or a list of them.

    Raises ConfigError naming the option, the file and the value: not JSON, an unknown key,
    a bad id, type or policy, or a name given twice (nova allows several specs per name when
    their type and policy agree; sriovstack fits one spec per alias)."""
    aliases: dict[str, PciAlias] = {}
    for text, file in lines:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise _bad(text, f"not JSON ({exc.msg})", option, file,
                       "write one JSON object per alias line") from exc
        for spec in parsed if isinstance(parsed, list) else [parsed]:
            alias = _one(spec, text, option, file)
            if alias.name in aliases:
                raise _bad(text, f"alias {alias.name!r} is defined twice", option, file,
                           "give each alias one spec")
            aliases[alias.name] = alias
    return aliases


def alias_requests(pairs: Iterable[tuple[str, int]], aliases: Mapping[str, PciAlias],
                   policy: NumaPolicy | None = None) -> tuple[PciRequest, ...]:
    """The PCI requests of a flavor's ``pci_passthrough:alias`` pairs; Invalid (nova's 400
    "PCI alias X is not defined") for a name no ``[pci] alias`` defines."""
    requests = []
    for name, count in pairs:
        alias = aliases.get(name)
        if alias is None:
            raise Invalid(f"PCI alias {name} is not defined", field="pci_passthrough:alias",
                          value=name, fix="define it in [pci] alias of the controller's "
                          "nova.conf, or use one of: " + (", ".join(sorted(aliases)) or
                                                          "(none defined)"))
        requests.append(alias.request(count, policy))
    return tuple(requests)
