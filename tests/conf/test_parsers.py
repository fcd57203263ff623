"""neutron's grammars: network_vlan_ranges, physical_device_mappings, exclude_devices, vendor ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovstack.conf.parsers import (DeviceMapping, VendorProduct, VlanRange,
                                     parse_device_mapping_table, parse_exclude_devices,
                                     parse_excluded_vf_table, parse_network_vlan_ranges,
                                     parse_physical_device_mappings,
                                     parse_supported_pci_vendor_devs)
from sriovstack.errors import ConfigError
from sriovstack.pci.address import PciAddress

# --- network_vlan_ranges ------------------------------------------------------------------

@pytest.mark.parametrize("items, expected", [
    (["physnet1:15:20"], {"physnet1": [(15, 20)]}),                      # the chapter, 20.3
    ("physnet1:15:20", {"physnet1": [(15, 20)]}),                        # raw ini string
    (" physnet1 : 15 : 20 ", {"physnet1": [(15, 20)]}),
    (["physnet1"], {"physnet1": [(1, 4094)]}),                           # bare: whole range
    (["p:1:1", "p:4094:4094"], {"p": [(1, 1), (4094, 4094)]}),
    (["p:10:20", "p:10:20"], {"p": [(10, 20), (10, 20)]}),               # duplicates kept
    (["p:10:20", "p"], {"p": [(1, 4094)]}),                              # bare replaces ...
    (["p", "p:10:20"], {"p": [(1, 4094)]}),                              # ... and wins
    (["a:1:2", "b", "a:5:6"], {"a": [(1, 2), (5, 6)], "b": [(1, 4094)]}),
    ([], {}),
    ("", {}),
    ("physnet1:15:20, physnet2:100:200", {"physnet1": [(15, 20)], "physnet2": [(100, 200)]}),
])
def test_vlan_ranges_parse(items, expected):
    assert parse_network_vlan_ranges(items) == expected


@pytest.mark.parametrize("items, says", [
    (["p:1"], "exactly two values"),
    (["p:1:2:3"], "exactly two values"),
    ([":1:4"], "empty physical network name"),
    (["p:0:10"], "not a valid VLAN tag"),
    (["p:1:4095"], "not a valid VLAN tag"),
    (["p:x:10"], "not a valid VLAN tag"),
    (["p:-1:10"], "not a valid VLAN tag"),
    (["p::10"], "not a valid VLAN tag"),
    (["p:20:15"], "less than its start"),
    ("p:1:2,,q", "empty item"),
])
def test_vlan_ranges_errors_name_option_and_item(items, says):
    with pytest.raises(ConfigError) as exc:
        parse_network_vlan_ranges(items, file="/etc/neutron/ml2_conf.ini")
    err = exc.value
    assert says in str(err)
    assert (err.section, err.option) == ("ml2_type_vlan", "network_vlan_ranges")
    assert err.file == "/etc/neutron/ml2_conf.ini"
    assert "[ml2_type_vlan] network_vlan_ranges" in str(err) and err.fix


_physnet = st.text(alphabet=st.characters(whitelist_categories=("L", "N"),
                                          whitelist_characters="_-."), min_size=1, max_size=12)
_tag = st.integers(1, 4094)


@given(st.dictionaries(_physnet, st.lists(st.tuples(_tag, _tag).map(sorted).map(tuple),
                                          min_size=1, max_size=4), max_size=5))
def test_vlan_ranges_round_trip(table):
    text = ",".join(f"{p}:{lo}:{hi}" for p, ranges in table.items() for lo, hi in ranges)
    assert parse_network_vlan_ranges(text) == {p: list(r) for p, r in table.items()}


@given(st.one_of(st.text(max_size=40), st.lists(st.text(max_size=20), max_size=5)))
def test_vlan_ranges_garbage_only_raises_config_error(garbage):
    try:
        table = parse_network_vlan_ranges(garbage)
    except ConfigError:
        return
    for ranges in table.values():
        assert all(1 <= lo <= hi <= 4094 for lo, hi in ranges)


def test_vlan_range_typed_contains():
    assert 15 in VlanRange(15, 20) and 21 not in VlanRange(15, 20)


# --- physical_device_mappings -------------------------------------------------------------

@pytest.mark.parametrize("items, expected", [
    (["physnet1:enp4s0f1"], {"physnet1": ["enp4s0f1"]}),                 # the chapter, 20.6
    ("physnet1:enp11s0f1", {"physnet1": ["enp11s0f1"]}),
    (["physnet2:eth3", "physnet2:eth4"], {"physnet2": ["eth3", "eth4"]}),  # several PFs (Newton)
    (["p:eth1", "p:eth1"], {"p": ["eth1"]}),                             # identical pairs collapse
    (["p:eth1", "", "q:eth2"], {"p": ["eth1"], "q": ["eth2"]}),          # blanks skipped
    ([" p : eth1 "], {"p": ["eth1"]}),
    ([], {}),
])
def test_device_mappings_parse(items, expected):
    assert parse_physical_device_mappings(items) == expected


@pytest.mark.parametrize("items, says", [
    (["physnet1"], "invalid mapping"),
    (["a:b:c"], "invalid mapping"),
    ([":eth1"], "missing physnet"),
    (["physnet1:"], "missing netdev"),
    (["p:eth1", "q:eth1"], "mapped to two physnets"),
    (["p:a-very-long-interface-name"], "not a valid network interface name"),
    (["p:eth 1"], "not a valid network interface name"),
    (["p:eth/1"], "not a valid network interface name"),
])
def test_device_mappings_errors(items, says):
    with pytest.raises(ConfigError) as exc:
        parse_physical_device_mappings(items, file="sriov_agent.ini")
    assert says in str(exc.value)
    assert (exc.value.section, exc.value.option) == ("sriov_nic", "physical_device_mappings")
    assert exc.value.file == "sriov_agent.ini"


def test_device_mappings_typed():
    assert parse_device_mapping_table("p:eth1,p:eth2") == (
        DeviceMapping("p", "eth1"), DeviceMapping("p", "eth2"))


# --- exclude_devices -----------------------------------------------------------------------

@pytest.mark.parametrize("items, expected", [
    # The chapter's 20.6 example, spaces after ';' and all.
    ("eth1:0000:07:00.2; 0000:07:00.3, eth2:0000:05:00.1; 0000:05:00.2",
     {"eth1": {"0000:07:00.2", "0000:07:00.3"}, "eth2": {"0000:05:00.1", "0000:05:00.2"}}),
    ([], {}),
    ("", {}),
    (["eth1:"], {"eth1": set()}),                                        # empty VF list
    (["eth1:0000:07:00.2;;0000:07:00.2"], {"eth1": {"0000:07:00.2"}}),   # dupes collapse
    (["eth1:07:00.2"], {"eth1": {"0000:07:00.2"}}),                      # canonical form
    (["eth1:0000:0B:10.1"], {"eth1": {"0000:0b:10.1"}}),
])
def test_exclude_devices_parse(items, expected):
    assert parse_exclude_devices(items) == expected


@pytest.mark.parametrize("items, mappings, says", [
    (["eth1"], None, "invalid item"),
    ([":0000:07:00.2"], None, "missing netdev"),
    (["eth1:0000:07:00.2", "eth1:0000:07:00.3"], None, "listed twice"),
    (["eth1:0000:07:00.9"], None, "is not a PCI address"),
    (["eth1:0000:07:20.1"], None, "is not a PCI address"),
    (["eth1:garbage"], None, "is not a PCI address"),
    ("a:0000:07:00.1,,b:", None, "invalid item"),                        # blanks not skipped
    # 20.6's example against 20.6's own mapping: eth1 is not mapped.
    ("eth1:0000:07:00.2; 0000:07:00.3", {"physnet1": ["enp4s0f1"]}, "missing from"),
])
def test_exclude_devices_errors(items, mappings, says):
    with pytest.raises(ConfigError) as exc:
        parse_exclude_devices(items, mappings, file="sriov_agent.ini")
    assert says in str(exc.value)
    assert (exc.value.section, exc.value.option) == ("sriov_nic", "exclude_devices")


def test_exclude_devices_accepts_mapped_netdevs_in_either_form():
    items = "enp11s0f1:0000:0b:10.1; 0000:0b:10.3"
    assert parse_exclude_devices(items, {"physnet1": ["enp11s0f1"]}) == {
        "enp11s0f1": {"0000:0b:10.1", "0000:0b:10.3"}}
    typed = parse_excluded_vf_table(items, parse_device_mapping_table("physnet1:enp11s0f1"))
    assert typed == {"enp11s0f1": frozenset({PciAddress(0, 0x0B, 0x10, 1),
                                             PciAddress(0, 0x0B, 0x10, 3)})}


# --- supported_pci_vendor_devs -------------------------------------------------------------

@pytest.mark.parametrize("items, expected", [
    ("15b3:1004,8086:10ca", (VendorProduct("15b3", "1004"), VendorProduct("8086", "10ca"))),
    ("15b3:1004, 8086:10CA", (VendorProduct("15b3", "1004"), VendorProduct("8086", "10ca"))),
    (["86:1"], (VendorProduct("0086", "0001"),)),
    (["8086:10ca", "8086:10ca"], (VendorProduct("8086", "10ca"),)),
    ([], ()),
])
def test_vendor_devs_parse(items, expected):
    assert parse_supported_pci_vendor_devs(items) == expected


@pytest.mark.parametrize("item", ["8086", "8086:", ":10ca", "8086:10ca:1", "80861:10ca",
                                  "zz86:10ca", "8086:*", ""])
def test_vendor_devs_errors(item):
    with pytest.raises(ConfigError) as exc:
        parse_supported_pci_vendor_devs([item])
    assert exc.value.option == "supported_pci_vendor_devs" and "vendor_id:product_id" in str(
        exc.value)
