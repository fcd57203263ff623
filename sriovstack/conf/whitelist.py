"""What cross-file checks need to know of each whitelist line: physnets, devnames, ids."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sriovstack.conf.model import SpecLine

__all__ = ["SpecFacts", "spec_facts"]


@dataclass(frozen=True, slots=True)
class SpecFacts:
    """The keys of one whitelist entry that other files must agree with.

    ``vendor_id``/``product_id`` are 4 lowercase hex digits, or None for ``*`` or missing.
    """

    line: SpecLine
    physical_network: str | None
    devname: str | None
    vendor_id: str | None
    product_id: str | None


def _hex_id(value: object) -> str | None:
    if not isinstance(value, str) or value.strip() in ("", "*"):
        return None
    try:
        number = int(value.strip(), 16)
    except ValueError:
        return None
    return f"{number:04x}" if 0 <= number <= 0xFFFF else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def spec_facts(line: SpecLine) -> tuple[SpecFacts, ...]:
    """The entries of one whitelist value (a JSON object or a list of them).

    Text that is not such JSON gives no entries: validating the grammar is the job of
    ``sriovstack.pci.devspec``; this only reads what valid entries say.
    """
    try:
        data = json.loads(line.text)
    except ValueError:
        return ()
    entries = data if isinstance(data, list) else [data]
    return tuple(
        SpecFacts(line, _text(entry.get("physical_network")), _text(entry.get("devname")),
                  _hex_id(entry.get("vendor_id")), _hex_id(entry.get("product_id")))
        for entry in entries if isinstance(entry, dict))
