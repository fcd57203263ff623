"""Neutron's grammars for network_vlan_ranges, physical_device_mappings, exclude_devices and
supported_pci_vendor_devs, as typed values and as the plain dicts neutron's callers expect."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriovstack.errors import ConfigError, Invalid
from sriovstack.pci import PciAddress

__all__ = [
    "VLAN_MIN",
    "VLAN_MAX",
    "VlanRange",
    "DeviceMapping",
    "VendorProduct",
    "parse_network_vlan_ranges",
    "parse_physical_device_mappings",
    "parse_exclude_devices",
    "parse_supported_pci_vendor_devs",
    "parse_vlan_range_table",
    "parse_device_mapping_table",
    "parse_excluded_vf_table",
]

VLAN_MIN = 1
VLAN_MAX = 4094  # 802.1Q: 0 and 4095 are reserved

_TAG = re.compile(r"^[0-9]+$")
_HEX4 = re.compile(r"^[0-9a-fA-F]{1,4}$")
_IFNAME_MAX = 15  # IFNAMSIZ - 1: the kernel's limit on a netdev name

Items = Sequence[str] | str


@dataclass(frozen=True, slots=True)
class VlanRange:
    """An inclusive range of VLAN tags, ``first`` ≤ ``last``, both within 1–4094."""

    first: int
    last: int

    def __contains__(self, tag: object) -> bool:
        return isinstance(tag, int) and self.first <= tag <= self.last

    def as_tuple(self) -> tuple[int, int]:
        return (self.first, self.last)


@dataclass(frozen=True, slots=True)
class DeviceMapping:
    """One ``physnet:netdev`` item of physical_device_mappings."""

    physnet: str
    netdev: str


@dataclass(frozen=True, slots=True)
class VendorProduct:
    """A ``vvvv:pppp`` pair as 4 lowercase hex digits each (nova's pci_vendor_info form)."""

    vendor_id: str
    product_id: str

    def __str__(self) -> str:
        return f"{self.vendor_id}:{self.product_id}"


@dataclass(frozen=True, slots=True)
class _Where:
    """Where the items came from, so every error names file, section and option."""

    section: str
    option: str
    file: str | None

    def error(self, message: str, value: str, fix: str) -> ConfigError:
        return ConfigError(message, fix=fix, file=self.file, section=self.section,
                           option=self.option, value=value)


def _items(items: Items) -> list[str]:
    """The stripped list items: a raw ini string is split on ``,`` as oslo's ListOpt does."""
    if isinstance(items, str):
        return [] if not items.strip() else [part.strip() for part in items.split(",")]
    return [str(item).strip() for item in items]


# --- network_vlan_ranges ---------------------------------------------------------------------

def _vlan_tag(text: str, item: str, where: _Where) -> int:
    text = text.strip()
    if not _TAG.match(text) or not VLAN_MIN <= int(text) <= VLAN_MAX:
        raise where.error(f"{text!r} in {item!r} is not a valid VLAN tag", item,
                          f"use a whole number from {VLAN_MIN} to {VLAN_MAX}")
    return int(text)


def _vlan_item(item: str, where: _Where) -> tuple[str, VlanRange | None]:
    if not item:
        raise where.error("empty item in the list", item,
                          "remove the stray comma; items are physnet or physnet:min:max")
    parts = item.split(":")
    if len(parts) == 1:
        return item, None
    if len(parts) != 3:
        raise where.error(f"{item!r} needs exactly two values for a VLAN range", item,
                          "write physnet:min:max (e.g. physnet1:15:20) or a bare physnet")
    physnet = parts[0].strip()
    if not physnet:
        raise where.error(f"{item!r} has an empty physical network name", item,
                          "name the physnet before the first ':' (e.g. physnet1:15:20)")
    first, last = _vlan_tag(parts[1], item, where), _vlan_tag(parts[2], item, where)
    if last < first:
        raise where.error(f"{item!r}: end of VLAN range is less than its start", item,
                          f"write the smaller tag first: {physnet}:{last}:{first}")
    return physnet, VlanRange(first, last)


def parse_vlan_range_table(items: Items, *, file: str | None = None,
                           section: str = "ml2_type_vlan",
                           option: str = "network_vlan_ranges") -> dict[str, tuple[VlanRange, ...]]:
    """Parse network_vlan_ranges into ``{physnet: (VlanRange, ...)}`` in configuration order.

    A bare physnet means the whole range 1–4094 (neutron since Wallaby) and overrides any
    other range given for it. Raises ConfigError naming the option and the bad item.
    """
    where = _Where(section, option, file)
    table: dict[str, list[VlanRange]] = {}
    whole: set[str] = set()
    for item in _items(items):
        physnet, vlan_range = _vlan_item(item, where)
        if vlan_range is None:
            whole.add(physnet)
            table[physnet] = [VlanRange(VLAN_MIN, VLAN_MAX)]
        elif physnet not in whole:
            table.setdefault(physnet, []).append(vlan_range)
    return {physnet: tuple(ranges) for physnet, ranges in table.items()}


def parse_network_vlan_ranges(items: Items, *, file: str | None = None
                              ) -> dict[str, list[tuple[int, int]]]:
    """Parse network_vlan_ranges into ``{physnet: [(min, max), ...]}`` (neutron's shape).

    Raises ConfigError naming ``[ml2_type_vlan] network_vlan_ranges`` and the bad item.
    """
    table = parse_vlan_range_table(items, file=file)
    return {physnet: [r.as_tuple() for r in ranges] for physnet, ranges in table.items()}


# --- physical_device_mappings ----------------------------------------------------------------

def _check_netdev(name: str, item: str, where: _Where) -> None:
    bad = len(name.encode()) > _IFNAME_MAX or name in (".", "..") or any(
        ch.isspace() or ch in "/:" for ch in name)
    if bad:
        raise where.error(f"{name!r} in {item!r} is not a valid network interface name", item,
                          f"use the PF's netdev name as `ip link` shows it (at most "
                          f"{_IFNAME_MAX} characters, no '/', ':' or spaces)")


def parse_device_mapping_table(items: Items, *, file: str | None = None,
                               section: str = "sriov_nic",
                               option: str = "physical_device_mappings"
                               ) -> tuple[DeviceMapping, ...]:
    """Parse ``physnet:netdev`` items, in order, identical pairs collapsed, blanks skipped.

    Several PFs per physnet are allowed (neutron since Newton). One netdev on two physnets is
    rejected, as Kilo–Mitaka did (current neutron lets it through and the agent then serves it
    for whichever physnet it meets last). Raises ConfigError naming the option and the item.
    """
    where = _Where(section, option, file)
    mappings: dict[DeviceMapping, None] = {}
    physnet_of: dict[str, str] = {}
    for item in _items(items):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) != 2:
            raise where.error(f"invalid mapping {item!r}", item,
                              "write physnet:netdev with exactly one ':' (e.g. physnet1:enp11s0f1)")
        physnet, netdev = parts[0].strip(), parts[1].strip()
        if not physnet:
            raise where.error(f"missing physnet (key) in mapping {item!r}", item,
                              "name the physnet before the ':'")
        if not netdev:
            raise where.error(f"missing netdev (value) in mapping {item!r}", item,
                              "name the PF's netdev after the ':'")
        _check_netdev(netdev, item, where)
        if physnet_of.setdefault(netdev, physnet) != physnet:
            raise where.error(f"netdev {netdev!r} is mapped to two physnets "
                              f"({physnet_of[netdev]!r} and {physnet!r})", item,
                              "map each PF to exactly one physnet")
        mappings[DeviceMapping(physnet, netdev)] = None
    return tuple(mappings)


def parse_physical_device_mappings(items: Items, *, file: str | None = None
                                   ) -> dict[str, list[str]]:
    """Parse physical_device_mappings into ``{physnet: [pf_netdev, ...]}``.

    Raises ConfigError naming ``[sriov_nic] physical_device_mappings`` and the bad item.
    """
    table: dict[str, list[str]] = {}
    for mapping in parse_device_mapping_table(items, file=file):
        table.setdefault(mapping.physnet, []).append(mapping.netdev)
    return table


# --- exclude_devices -------------------------------------------------------------------------

def _mapped_netdevs(device_mappings: Mapping[str, Iterable[str]] | Iterable[DeviceMapping]
                    ) -> set[str]:
    if isinstance(device_mappings, Mapping):
        return {netdev for netdevs in device_mappings.values() for netdev in netdevs}
    return {mapping.netdev for mapping in device_mappings}


def _vf_addresses(netdev: str, vf_list: str, item: str, where: _Where) -> frozenset[PciAddress]:
    addresses: set[PciAddress] = set()
    for text in (part.strip() for part in vf_list.split(";")):
        if not text:
            continue
        try:
            addresses.add(PciAddress.parse(text))
        except Invalid:
            raise where.error(f"{text!r} (excluded from {netdev!r}) is not a PCI address", item,
                              "write the VF's full address, e.g. 0000:0b:10.2; separate VFs "
                              "with ';' and NICs with ','") from None
    return frozenset(addresses)


def parse_excluded_vf_table(
        items: Items,
        device_mappings: Mapping[str, Iterable[str]] | Iterable[DeviceMapping] | None = None,
        *, file: str | None = None, section: str = "sriov_nic",
        option: str = "exclude_devices") -> dict[str, frozenset[PciAddress]]:
    """Parse ``netdev:vf;vf,...`` items into ``{netdev: frozenset(PciAddress)}``.

    Each item is split on its first ':' (PCI addresses hold colons), the VF list on ';'.
    With ``device_mappings`` every netdev named must be one of the mapped PFs.
    Raises ConfigError naming the option and the bad item.
    """
    where = _Where(section, option, file)
    mapped = None if device_mappings is None else _mapped_netdevs(device_mappings)
    table: dict[str, frozenset[PciAddress]] = {}
    for item in _items(items):
        netdev, colon, vf_list = item.partition(":")
        netdev = netdev.strip()
        if not colon:
            raise where.error(f"invalid item {item!r}", item,
                              "write netdev:vf_address;vf_address (e.g. enp11s0f1:0000:0b:10.1)")
        if not netdev:
            raise where.error(f"missing netdev before ':' in {item!r}", item,
                              "name the PF whose VFs are excluded")
        if netdev in table:
            raise where.error(f"netdev {netdev!r} is listed twice", item,
                              "list all of its VFs in one item, separated by ';'")
        if mapped is not None and netdev not in mapped:
            raise where.error(f"netdev {netdev!r} is missing from physical_device_mappings",
                              item, f"exclude VFs only of mapped PFs: {sorted(mapped)}")
        table[netdev] = _vf_addresses(netdev, vf_list, item, where)
    return table


def parse_exclude_devices(
        items: Items,
        device_mappings: Mapping[str, Iterable[str]] | Iterable[DeviceMapping] | None = None,
        *, file: str | None = None) -> dict[str, set[str]]:
    """Parse exclude_devices into ``{pf_netdev: {"dddd:bb:ss.f", ...}}`` (canonical addresses).

    Raises ConfigError naming ``[sriov_nic] exclude_devices`` and the bad item.
    """
    table = parse_excluded_vf_table(items, device_mappings, file=file)
    return {netdev: {str(address) for address in vfs} for netdev, vfs in table.items()}


# --- supported_pci_vendor_devs ---------------------------------------------------------------

def parse_supported_pci_vendor_devs(items: Items, *, file: str | None = None,
                                    section: str = "ml2_sriov",
                                    option: str = "supported_pci_vendor_devs"
                                    ) -> tuple[VendorProduct, ...]:
    """Parse ``vvvv:pppp`` hex items (duplicates collapse, order kept).

    Raises ConfigError naming the option and the bad item.
    """
    where = _Where(section, option, file)
    pairs: dict[VendorProduct, None] = {}
    for item in _items(items):
        parts = [part.strip() for part in item.split(":")]
        if len(parts) != 2 or not all(_HEX4.match(part) for part in parts):
            raise where.error(f"{item!r} is not a vendor_id:product_id pair", item,
                              "write two hex ids of up to 4 digits, e.g. 8086:10ca")
        vendor, product = (f"{int(part, 16):04x}" for part in parts)
        pairs[VendorProduct(vendor, product)] = None
    return tuple(pairs)
