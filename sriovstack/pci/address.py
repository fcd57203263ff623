"""PCI addresses: the value type for ``dddd:bb:ss.f`` used everywhere in sriovstack."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sriovstack.errors import Invalid

__all__ = ["PciAddress"]

_FULL = re.compile(r"^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")
_SHORT = re.compile(r"^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")


@dataclass(frozen=True, order=True, slots=True)
class PciAddress:
    """A PCI function address. ``str()`` gives the canonical ``0000:0b:10.1`` form."""

    domain: int
    bus: int
    slot: int
    function: int

    def __post_init__(self) -> None:
        if not (0 <= self.domain <= 0xFFFF and 0 <= self.bus <= 0xFF
                and 0 <= self.slot <= 0x1F and 0 <= self.function <= 7):
            raise Invalid(f"PCI address out of range: {self.domain:x}:{self.bus:x}:"
                          f"{self.slot:x}.{self.function:x}", field="address")

    @classmethod
    def parse(cls, text: str) -> "PciAddress":
        """Parse ``dddd:bb:ss.f`` (or ``bb:ss.f``, domain 0); raises Invalid when it is not one."""
        m = _FULL.match(text.strip())
        if m:
            d, b, s, f = (int(g, 16) for g in m.groups())
            if s <= 0x1F:
                return cls(d, b, s, f)
        m = _SHORT.match(text.strip())
        if m:
            b, s, f = (int(g, 16) for g in m.groups())
            if s <= 0x1F:
                return cls(0, b, s, f)
        raise Invalid(f"not a PCI address: {text!r} (expected dddd:bb:ss.f, e.g. 0000:0b:10.0)",
                      field="address", value=text)

    @classmethod
    def from_routing_id(cls, domain: int, routing_id: int) -> "PciAddress":
        """The address of bus/devfn ``routing_id`` (bus << 8 | slot << 3 | fn) in ``domain``."""
        return cls(domain, (routing_id >> 8) & 0xFF, (routing_id >> 3) & 0x1F, routing_id & 7)

    @property
    def routing_id(self) -> int:
        return (self.bus << 8) | (self.slot << 3) | self.function

    @property
    def short(self) -> str:
        """``bb:ss.f`` as lspci prints it for domain 0."""
        return f"{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"
