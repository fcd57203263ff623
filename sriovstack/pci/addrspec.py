"""Address patterns of a device spec (nova's glob and regex forms) and the integer address keys
they are matched against.

A device address is matched as one integer *key* whose hex digits are the address's digits,
``domain << 20 | bus << 12 | slot << 4 | function`` (``int("00030a021", 16)`` for
``0003:0a:02.1``), so a glob pattern is a single mask-and-compare, a fully specified address an
integer equality, and a canonical address string parses with one ``int()``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sriovstack.errors import ConfigError
from sriovstack.pci.address import PciAddress

__all__ = [
    "GlobAddress",
    "RegexAddress",
    "AddressPattern",
    "AddressTest",
    "ANY_ADDRESS",
    "address_key",
    "key_of",
    "key_text",
    "parse_address_pattern",
    "json_kind",
]

# Field order, maxima and widths as nova checks them: the function first, then domain, bus, slot.
_MAX = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0x1F, "function": 0x7}
_WIDTH = {"domain": 4, "bus": 2, "slot": 2, "function": 1}
_SHIFT = {"domain": 20, "bus": 12, "slot": 4, "function": 0}
_MASK = {"domain": 0xFFFF, "bus": 0xFF, "slot": 0xFF, "function": 0xF}  # nibble-wide slots
_FIELDS = ("domain", "bus", "slot", "function")
_HEX = frozenset(string.hexdigits)
_REGEX_KEYS = frozenset(_FIELDS)
_DOMAIN_HI = {f"{v:02x}": v << 28 for v in range(0x100)}
_DOMAIN_LO = {f"{v:02x}": v << 20 for v in range(0x100)}
_BUS = {f"{v:02x}": v << 12 for v in range(0x100)}
_SLOT = {f"{v:02x}": v << 4 for v in range(0x20)}
_FUNCTION = {f"{v:x}": v for v in range(8)}


# test(key, parent_key) -> bool; parent_key is -1 for a device without a parent.
AddressTest = Callable[[int, int], bool]


def key_of(address: PciAddress) -> int:
    """The integer key of a typed address."""
    return (address.domain << 20) | (address.bus << 12) | (address.slot << 4) | address.function


def key_text(key: int) -> str:
    """``dddd:bb:ss.f`` of a key (for sysfs paths and messages)."""
    return f"{key >> 20:04x}:{(key >> 12) & 0xFF:02x}:{(key >> 4) & 0xFF:02x}.{key & 0xF:x}"


def address_key(text: str) -> int:
    """The key of a device address string as nova's strict parser reads it, or -1.

    Exactly ``domain:bus:slot.function``, each field hex within its maximum (so a 32-bit
    domain such as ``10000:00:00.0`` gives -1: such devices match nothing, bug 1897528).
    """
    if len(text) == 12 and text[4] == ":" and text[7] == ":" and text[10] == ".":
        # The canonical form, as libvirt and sysfs write it: table look-ups, which also
        # enforce lowercase hex and the slot/function maxima.
        try:
            return (_DOMAIN_HI[text[0:2]] | _DOMAIN_LO[text[2:4]] | _BUS[text[5:7]]
                    | _SLOT[text[8:10]] | _FUNCTION[text[11]])
        except KeyError:
            pass  # not canonical: the general parse below decides
    dbs, _, func = text.partition(".")
    parts = dbs.split(":")
    if len(parts) != 3:
        return -1
    key = 0
    for name, raw in zip(_FIELDS, (*parts, func)):
        try:
            value = int(raw, 16)
        except ValueError:
            return -1
        if not 0 <= value <= _MAX[name]:
            return -1
        key |= value << _SHIFT[name]
    return key


@dataclass(frozen=True, slots=True)
class GlobAddress:
    """``[[[[domain]:]bus]:][slot][.[function]]``: each field a number or ``None`` (``*``).

    A negative field (nova accepts ``-1``) is kept and never matches.
    """

    domain: int | None = None
    bus: int | None = None
    slot: int | None = None
    function: int | None = None
    _mask: int = field(init=False, repr=False, compare=False)
    _want: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        mask = want = 0
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            mask |= _MASK[name] << _SHIFT[name]
            # A negative field can never equal a device field: an impossible bit pattern.
            want |= (value << _SHIFT[name]) if value >= 0 else (1 << 40)
        object.__setattr__(self, "_mask", mask)
        object.__setattr__(self, "_want", want)

    def hit(self, key: int) -> bool:
        """Whether the device address ``key`` falls under this glob."""
        return key & self._mask == self._want

    def tester(self, pf: bool) -> AddressTest:
        """The cheapest ``test(key, parent)``; with ``pf`` (a single PF address) the parent
        may match too."""
        mask, want = self._mask, self._want
        if pf:
            return lambda key, parent: key == want or parent == want
        return lambda key, parent: key & mask == want

    @property
    def is_wildcard(self) -> bool:
        return self._mask == 0

    @property
    def single(self) -> str | None:
        """``dddd:bb:ss.f`` when all four fields are given (nova's "single address"), else None."""
        values = [getattr(self, n) for n in _FIELDS]
        if any(v is None or v < 0 for v in values):
            return None
        return key_text(self._want)


@dataclass(frozen=True, slots=True)
class RegexAddress:
    """``{"domain": re, "bus": re, "slot": re, "function": re}``, each applied with ``re.match``
    (anchored at the start only, case-sensitive) to the device's zero-padded lowercase field."""

    domain: str = ".*"
    bus: str = ".*"
    slot: str = ".*"
    function: str = ".*"
    # Bus, slot and function are few: each pattern is tried on every value once, up front,
    # and kept as a bit set (bit v set = value v matches).  Domains (65536) are memoised.
    _bits: tuple[int, int, int] = field(init=False, repr=False, compare=False)
    _domain_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _domains: dict[int, bool] = field(init=False, repr=False, compare=False)
    _hit: AddressTest = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bits = tuple(_value_bits(getattr(self, n), _MAX[n], _WIDTH[n])
                     for n in ("bus", "slot", "function"))
        domain_re = None if self.domain == ".*" else re.compile(self.domain)
        object.__setattr__(self, "_bits", bits)
        object.__setattr__(self, "_domain_re", domain_re)
        object.__setattr__(self, "_domains", {})
        object.__setattr__(self, "_hit", self.tester(False))

    def hit(self, key: int) -> bool:
        """Whether every field pattern matches the start of the device's field."""
        return self._hit(key, -1)

    def tester(self, pf: bool) -> AddressTest:
        """``test(key, parent)``; with ``pf`` (a single PF address) the parent may match too."""
        bus, slot, function = self._bits
        domain_re, domains = self._domain_re, self._domains

        def test(key: int, _parent: int = -1) -> bool:
            if not (bus >> ((key >> 12) & 0xFF)) & (slot >> ((key >> 4) & 0xFF)) & (
                    function >> (key & 0xF)) & 1:
                return False
            if domain_re is None:
                return True
            ok = domains.get(key >> 20)
            if ok is None:
                ok = domains[key >> 20] = domain_re.match(f"{key >> 20:04x}") is not None
            return ok

        if pf:
            return lambda key, parent: test(key) or (parent >= 0 and test(parent))
        return test

    @property
    def is_wildcard(self) -> bool:
        return self._domain_re is None and self._bits == _ALL_BITS

    @property
    def single(self) -> str | None:
        """The sysfs name these patterns spell when every one is plain hex digits, else None.

        Like nova, the text is used as written (``{"bus": "0A"}`` names no real device)."""
        values = [getattr(self, n) for n in _FIELDS]
        if not all(c in _HEX for v in values for c in v):
            return None
        return f"{values[0]}:{values[1]}:{values[2]}.{values[3]}"


def _value_bits(pattern: str, maximum: int, width: int) -> int:
    regex = re.compile(pattern)
    return sum(1 << v for v in range(maximum + 1) if regex.match(f"{v:0{width}x}"))


_ALL_BITS = ((1 << 0x100) - 1, (1 << 0x20) - 1, (1 << 8) - 1)

AddressPattern = GlobAddress | RegexAddress
ANY_ADDRESS = GlobAddress()


def parse_address_pattern(value: Any) -> AddressPattern:
    """The address pattern of a spec's ``address`` value; raises ConfigError saying why not.

    ``None``, ``""`` and ``{}`` mean every address, as in nova.
    """
    if value is None or value == "" or value == {}:
        return ANY_ADDRESS
    if isinstance(value, str):
        return _parse_glob(value)
    if isinstance(value, Mapping):
        return _parse_regex(value)
    raise ConfigError(
        f"address {value!r} is a JSON {json_kind(value)}, not a string or an object",
        fix='write a glob string such as "0000:0a:00.*" or an object such as '
            '{"bus": "0a", "function": "[1-7]"}')


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages ("number", "list", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def _parse_glob(text: str) -> GlobAddress:
    dbs, _, func = text.partition(".")
    parts = dbs.split(":") if dbs else []
    if len(parts) > 3:
        raise ConfigError(
            f"address {text!r} has {len(parts)} ':'-separated fields before the '.'; at most 3 "
            "(domain:bus:slot) are allowed",
            fix="use [[[[domain]:]bus]:][slot][.[function]], e.g. 0000:0a:00.1")
    # Fields align from the right: one field is the slot, two are bus:slot (nova's rule).
    fields = ["*"] * (3 - len(parts)) + parts
    raw = dict(zip(_FIELDS, (*fields, func)))
    values: dict[str, int | None] = {}
    for name in ("function", "domain", "bus", "slot"):  # nova's checking order
        values[name] = _glob_field(text, name, raw[name].strip())
    return GlobAddress(**values)


def _glob_field(text: str, name: str, raw: str) -> int | None:
    if raw in ("", "*"):
        return None
    try:
        value = int(raw, 16)
    except ValueError:
        raise ConfigError(
            f"address {text!r}: {name} {raw!r} does not parse as a hex number",
            fix=f"write the {name} in hex, or '*' for any; '*' may only stand for a whole "
                "field (no '0*' or '[1-3]': use the regex object form for ranges)") from None
    if value > _MAX[name]:
        raise ConfigError(
            f"address {text!r}: {name} {raw!r} (0x{value:x}) is greater than the maximum "
            f"allowable value 0x{_MAX[name]:x}",
            fix=f"a PCI {name} is at most {_WIDTH[name]} hex digit(s) up to "
                f"{_MAX[name]:x}; 32-bit PCI domains are not supported")
    return value


def _parse_regex(spec: Mapping[Any, Any]) -> RegexAddress:
    unknown = sorted(str(k) for k in spec if k not in _REGEX_KEYS)
    if unknown:
        raise ConfigError(
            f"address object has unknown key(s) {', '.join(unknown)}",
            fix="an address object may hold only domain, bus, slot and function")
    patterns: dict[str, str] = {}
    for name, pattern in spec.items():
        if not isinstance(pattern, str):
            raise ConfigError(
                f"address {name} pattern {pattern!r} is not a string",
                fix=f'write a regular expression string, e.g. "{name}": "0[2-9]"')
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"address {name} pattern {pattern!r} is not a valid regular expression ({exc})",
                fix="use Python regex syntax, e.g. '.*' (not '*') for any value") from None
        patterns[name] = pattern
    return RegexAddress(**patterns)
