"""Device specs (``[pci] device_spec``, formerly ``passthrough_whitelist``): nova's grammar,
compiled once into cheap matchers, and the first-match-wins lookup of a device's tags.

A spec naming a PF address or devname covers the PF's VFs (chapter 20.5), so parsing needs
two host facts, asked of the ``DeviceProbe`` the caller hands in (this package does no I/O;
``sriovstack.host.SysfsDeviceProbe`` answers through the sysfs seam, ``NO_HOST`` for a
grammar check without a host).  PF status of an address is asked once, when the specs are
parsed (as nova does); a devname is resolved on first use and cached until
``DeviceSpecs.refresh()`` (nova re-reads sysfs on every match; call ``refresh()`` at the
start of a discovery pass).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from sriovstack.errors import ConfigError, Invalid
from sriovstack.pci.addrspec import (
    AddressPattern, AddressTest, address_key, json_kind, key_of, key_text,
    parse_address_pattern,
)
from sriovstack.pci.address import PciAddress
from sriovstack.pci.device import PciDevice

__all__ = ["DeviceProbe", "NO_HOST", "DeviceSpec", "DeviceSpecs", "parse_device_specs"]

_MATCH_KEYS = frozenset(("vendor_id", "product_id", "address", "devname"))
# Tags nova parses as strict booleans (oslo bool_from_string strict=True) and stores as text.
_BOOL_TAGS = frozenset(("managed", "live_migratable", "one_time_use"))
_TRUE = frozenset(("1", "t", "true", "on", "y", "yes"))
_FALSE = frozenset(("0", "f", "false", "off", "n", "no"))
_CACHE_LIMIT = 1 << 12  # (vendor, product) pairs remembered before that cache starts over


@runtime_checkable
class DeviceProbe(Protocol):
    """The host facts a device spec needs; names are sysfs names, used exactly as written."""

    def is_pf(self, function: str) -> bool:
        """Whether the PCI function named ``function`` (``0000:0b:00.1``) is an SR-IOV PF here."""
        ...

    def function_of(self, devname: str) -> str | None:
        """The sysfs name of the device behind network interface ``devname``; None when there
        is no such interface or no device behind it."""
        ...


class _NoHost:
    """No host to ask: no function is a PF and no interface exists (a grammar-only check)."""

    def is_pf(self, function: str) -> bool:
        return False

    def function_of(self, devname: str) -> str | None:
        return None


NO_HOST: DeviceProbe = _NoHost()


class _Devnames:
    """A probe's answers about devnames, remembered until ``forget`` (``DeviceSpecs.refresh``)."""

    def __init__(self, probe: DeviceProbe) -> None:
        self.probe = probe
        self._names: dict[str, tuple[int, bool] | None] = {}

    def resolve(self, name: str) -> tuple[int, bool] | None:
        """(address key, is PF) of interface ``name``; None when it is missing or not PCI."""
        if name in self._names:
            return self._names[name]
        function = self.probe.function_of(name)
        key = -1 if function is None else address_key(function)
        found = None if key < 0 else (key, self.probe.is_pf(key_text(key)))
        self._names[name] = found
        return found

    def forget(self) -> None:
        self._names.clear()


@dataclass(frozen=True, slots=True, eq=False)
class DeviceSpec:
    """One compiled device spec: ids (None = ``*``), an address pattern or a devname, and tags.

    ``pf`` is set when the address is a single address that is an SR-IOV PF on this host: the
    spec then also covers devices whose ``parent_addr`` is that address (its VFs).
    """

    vendor_id: str | None
    product_id: str | None
    address: AddressPattern
    devname: str | None
    pf: bool
    tags: Mapping[str, str]
    text: str
    _probe: _Devnames = field(repr=False)
    _tag_dict: dict[str, str] = field(repr=False)
    # test(key, parent) of the address part; None when any address will do.
    _test: AddressTest | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        test: AddressTest | None
        if self.devname is not None:
            test = self._devname_test
        elif self.pf or not self.address.is_wildcard:
            test = self.address.tester(self.pf)
        else:
            test = None
        object.__setattr__(self, "_test", test)

    @property
    def physical_network(self) -> str | None:
        """The neutron physnet devices of this spec serve (None: no physnet tag)."""
        return self.tags.get("physical_network")

    def matches(self, device: PciDevice) -> bool:
        """Whether ``device`` falls under this spec (ids, then address or devname)."""
        if self.vendor_id is not None and self.vendor_id != device.vendor_id:
            return False
        if self.product_id is not None and self.product_id != device.product_id:
            return False
        parent = -1 if device.parent_addr is None else key_of(device.parent_addr)
        return self._test is None or self._test(key_of(device.address), parent)

    def _devname_test(self, key: int, parent: int) -> bool:
        found = self._probe.resolve(self.devname or "")
        if found is None:
            return False  # missing interface, or not a PCI device: matches nothing (nova)
        # A PF also covers its VFs; the parent is only tried when there is one (nova bug
        # 1613434: a PF reported without a parent still matches on its own address).
        return key == found[0] or (found[1] and parent == found[0])


class DeviceSpecs:
    """All device specs of a host, in order; the first spec that matches a device wins."""

    def __init__(self, specs: Sequence[DeviceSpec], probe: _Devnames) -> None:
        self.specs: tuple[DeviceSpec, ...] = tuple(specs)
        self._probe = probe
        self._uses_parent = any(s.pf or s.devname is not None for s in self.specs)
        self._cands: dict[str, dict[str, tuple[DeviceSpec, ...]]] = {}

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self) -> Iterator[DeviceSpec]:
        return iter(self.specs)

    def refresh(self) -> None:
        """Forget resolved devnames, so the next match reads sysfs again."""
        self._probe.forget()

    def match(self, device: Mapping[str, Any]) -> dict[str, str] | None:
        """Tags of the first spec matching a nova-style device dict, or None.

        ``device`` holds ``address``, ``vendor_id``, ``product_id``, ``dev_type`` and
        ``parent_addr`` (or None).  An address that does not parse matches nothing.
        Raises Invalid when a required key is missing.
        """
        try:
            addr = device["address"]
            vendor = device["vendor_id"]
            product = device["product_id"]
        except KeyError as exc:
            raise Invalid(f"device record lacks {exc.args[0]!r}", field=str(exc.args[0]),
                          fix="give address, vendor_id and product_id") from None
        by_product = self._cands.get(vendor)
        cands = by_product.get(product) if by_product is not None else None
        if cands is None:
            cands = self._candidates(vendor, product)
        if not cands:
            return None
        key = address_key(addr) if addr.__class__ is str else _other_key(addr)
        if key < 0:
            return None
        parent = -1
        if self._uses_parent:
            text = device.get("parent_addr")
            if text:
                parent = address_key(text) if text.__class__ is str else _other_key(text)
        for spec in cands:
            test = spec._test
            if test is None or test(key, parent):
                return spec._tag_dict.copy()
        return None

    def find(self, device: PciDevice) -> DeviceSpec | None:
        """The first spec matching ``device``, or None."""
        by_product = self._cands.get(device.vendor_id)
        cands = by_product.get(device.product_id) if by_product is not None else None
        if cands is None:
            cands = self._candidates(device.vendor_id, device.product_id)
        if not cands:
            return None
        a = device.address
        key = (a.domain << 20) | (a.bus << 12) | (a.slot << 4) | a.function
        parent = -1
        if self._uses_parent and device.parent_addr is not None:
            parent = key_of(device.parent_addr)
        for spec in cands:
            test = spec._test
            if test is None or test(key, parent):
                return spec
        return None

    def match_device(self, device: PciDevice) -> Mapping[str, str] | None:
        """Tags (read-only) of the first spec matching ``device``, or None."""
        spec = self.find(device)
        return None if spec is None else spec.tags

    def _candidates(self, vendor: Any, product: Any) -> tuple[DeviceSpec, ...]:
        """Specs whose ids accept (vendor, product), in order; remembered per pair."""
        cands = tuple(s for s in self.specs
                      if s.vendor_id in (None, vendor) and s.product_id in (None, product))
        if not isinstance(vendor, str) or not isinstance(product, str):
            return cands
        if sum(len(p) for p in self._cands.values()) >= _CACHE_LIMIT:
            self._cands.clear()
        self._cands.setdefault(vendor, {})[product] = cands
        return cands


def _other_key(addr: Any) -> int:
    """The key of a non-text address in a device dict: a PciAddress works, anything else is -1."""
    return key_of(addr) if isinstance(addr, PciAddress) else -1


def parse_device_specs(values: Sequence[str], host: DeviceProbe, *,
                       file: str | os.PathLike[str] | None = None,
                       option: str = "[pci] device_spec") -> DeviceSpecs:
    """Parse every value of a ``device_spec`` option (one JSON object or list per value), with
    ``host`` answering which functions are PFs and which device a devname is.

    Raises ConfigError naming ``file``, ``option`` and the bad value, and saying what is wrong
    and what would be right; nothing is returned unless every value is valid.  Raises
    TypeError when ``host`` is not a DeviceProbe (a root path was given: that is
    ``sriovstack.host.device_probe(root)``).
    """
    if not isinstance(host, DeviceProbe):
        raise TypeError(f"parse_device_specs takes a DeviceProbe, not {host!r}; for the files "
                        "under a root use sriovstack.host.device_probe(root)")
    probe = _Devnames(host)
    specs: list[DeviceSpec] = []
    for text in values:
        try:
            specs.extend(_parse_value(text, probe))
        except ConfigError as exc:
            raise _located(exc, text, file, option) from None
    return DeviceSpecs(specs, probe)


def _located(exc: ConfigError, text: Any, file: Any, option: str) -> ConfigError:
    section, _, name = option.partition("] ")
    where = ({"section": section.lstrip("["), "option": name} if name
             else {"option": option})
    return ConfigError(f"device spec {text!r}: {exc.message}", fix=exc.fix,
                       file=None if file is None else str(file), value=text, **where)


def _parse_value(text: Any, probe: _Devnames) -> list[DeviceSpec]:
    if not isinstance(text, str):
        raise ConfigError(f"Invalid entry: {text!r} is not text",
                          fix="give each device_spec value as a JSON string")
    try:
        doc = json.loads(text)
    except ValueError:
        raise ConfigError(f"Invalid entry: {text!r} is not JSON",
                          fix='write a JSON object such as {"vendor_id": "8086", '
                              '"physical_network": "physnet1"}, with double quotes') from None
    if isinstance(doc, dict):
        doc = [doc]
    elif not isinstance(doc, list):
        raise ConfigError(f"Expecting list or dict, got a JSON {json_kind(doc)}",
                          fix="give one JSON object, or a list of objects")
    specs = []
    for n, entry in enumerate(doc, 1):
        if not isinstance(entry, dict):
            raise ConfigError(f"Expecting dict: list item {n} is {entry!r}",
                              fix="every item of the list must be a JSON object")
        try:
            specs.append(_compile(entry, text, probe))
        except ConfigError as exc:
            if len(doc) > 1:
                exc = ConfigError(f"list item {n}: {exc.message}", fix=exc.fix)
            raise exc from None
    return specs


def _compile(entry: dict[str, Any], text: str, probe: _Devnames) -> DeviceSpec:
    address_value = entry.get("address")
    devname = entry.get("devname")
    if devname is not None and not isinstance(devname, str):
        raise ConfigError(f"devname {devname!r} is not a string",
                          fix='write the interface name as a string, e.g. "ens1f0"')
    if devname and ("/" in devname or devname in (".", "..") or "\0" in devname):
        raise ConfigError(f"devname {devname!r} is not a network interface name",
                          fix="give a name as `ip link` shows it, e.g. ens1f0")
    if devname and address_value:
        raise ConfigError("devname and address cannot both be given",
                          fix="keep one: the PF's PCI address is the stable choice")
    address = parse_address_pattern(None if devname else address_value)
    single = None if devname else address.single
    tags = _parse_tags(entry)
    return DeviceSpec(
        vendor_id=_parse_id("vendor_id", entry.get("vendor_id", "*")),
        product_id=_parse_id("product_id", entry.get("product_id", "*")),
        address=address,
        devname=devname or None,
        pf=single is not None and probe.probe.is_pf(single),
        tags=MappingProxyType(tags),
        text=text,
        _probe=probe,
        _tag_dict=tags,
    )


def _parse_id(name: str, value: Any) -> str | None:
    """A vendor/product id as 4 lowercase hex digits, or None for ``*``."""
    if not isinstance(value, str):
        raise ConfigError(f"{name} {value!r} is a JSON {json_kind(value)}, not a string",
                          fix=f'quote it: "{name}": "8086"')
    raw = value.strip()
    if raw == "*":
        return None
    try:
        number = int(raw, 16)
    except ValueError:
        raise ConfigError(f"{name} {value!r} does not parse as a hex number",
                          fix=f"give {name} as hex up to ffff (e.g. 15b3), or '*'") from None
    if number > 0xFFFF:
        raise ConfigError(f"{name} {value!r} is greater than the maximum allowable value ffff",
                          fix=f"a PCI {name} has 4 hex digits")
    return f"{number:04x}"  # nova's normalisation (a negative value never matches)


def _parse_tags(entry: Mapping[str, Any]) -> dict[str, str]:
    """Every non-matching key is a tag (as in nova); null values are left out."""
    tags: dict[str, str] = {}
    for key, value in entry.items():
        if key in _MATCH_KEYS or value is None:
            continue
        if key in _BOOL_TAGS:
            tags[key] = _strict_bool(key, value)
        elif isinstance(value, bool):
            tags[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            tags[key] = str(value)
        else:
            raise ConfigError(f"tag {key!r} has the value {value!r}, which is not a scalar",
                              fix=f'give {key} a string, e.g. "{key}": "value"')
    return tags


def _strict_bool(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        text = str(value).strip().lower()
        if text in _TRUE:
            return "true"
        if text in _FALSE:
            return "false"
    raise ConfigError(f"Cannot parse tag {key!r}: {value!r} is not a boolean",
                      fix="use true or false (also yes/no, on/off, y/n, t/f, 1/0)")
