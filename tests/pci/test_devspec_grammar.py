"""The device_spec grammar (nova_pci.md §1): what parses to what, and every error."""

from __future__ import annotations

import pytest

from sriovstack.errors import ConfigError
from sriovstack.pci.addrspec import ANY_ADDRESS, GlobAddress, RegexAddress
from sriovstack.pci.devspec import NO_HOST, parse_device_specs


def one(text: str):
    specs = parse_device_specs([text], NO_HOST)
    assert len(specs) == 1
    return specs.specs[0]


@pytest.mark.parametrize("text, vendor, product", [
    ('{"vendor_id": "8086", "product_id": "154c"}', "8086", "154c"),
    ('{"vendor_id": "15B3", "product_id": "1004"}', "15b3", "1004"),   # lowercased
    ('{"vendor_id": "86", "product_id": "a"}', "0086", "000a"),          # zero-padded
    ('{"vendor_id": " 8086 ", "product_id": " 10ca "}', "8086", "10ca"),  # stripped
    ('{"vendor_id": "*", "product_id": "*"}', None, None),
    ('{"vendor_id": " * "}', None, None),
    ('{}', None, None),                                                  # missing = *
    ('{"vendor_id": "0x8086"}', "8086", None),                           # nova accepts 0x
    ('{"vendor_id": "ffff"}', "ffff", None),
    ('{"vendor_id": "-1"}', "-001", None),                               # accepted, never matches
])
def test_vendor_and_product_ids_are_normalised(text, vendor, product):
    spec = one(text)
    assert (spec.vendor_id, spec.product_id) == (vendor, product)


@pytest.mark.parametrize("address, expected", [
    ("0000:0a:00.1", GlobAddress(0, 0x0A, 0, 1)),
    ("0000:0A:00.5", GlobAddress(0, 0x0A, 0, 5)),          # case-insensitive hex
    ("0:a:0.5", GlobAddress(0, 0x0A, 0, 5)),               # short fields pad out
    ("0000:0a", GlobAddress(None, 0, 0x0A, None)),         # bus 00 slot 0a, not domain:bus
    ("5", GlobAddress(None, None, 5, None)),               # slot 05, not function 5
    ("0a:00.5", GlobAddress(None, 0x0A, 0, 5)),
    ("0000:0a:00", GlobAddress(0, 0x0A, 0, None)),
    (":0a:00.", GlobAddress(None, 0x0A, 0, None)),         # empty fields are wildcards
    (".5", GlobAddress(None, None, None, 5)),
    ("*: *: *.5", GlobAddress(None, None, None, 5)),       # spaces stripped
    ("*:0a:00.*", GlobAddress(None, 0x0A, 0, None)),
    ("*:*:*.*", ANY_ADDRESS),
    ("", ANY_ADDRESS),                                      # empty string = no address
    ("ffff:ff:1f.7", GlobAddress(0xFFFF, 0xFF, 0x1F, 7)),  # every maximum
    ("0x0a:00.1", GlobAddress(None, 0x0A, 0, 1)),          # int(x, 16) accepts 0x, as nova
])
def test_glob_addresses(address, expected):
    assert one(f'{{"address": "{address}"}}').address == expected


@pytest.mark.parametrize("text, expected", [
    ('{"address": {"bus": "0"}}', RegexAddress(bus="0")),
    ('{"address": {"domain": ".*", "bus": "02", "slot": "01", "function": "[2-7]"}}',
     RegexAddress(".*", "02", "01", "[2-7]")),
    ('{"address": {"function": "9"}}', RegexAddress(function="9")),  # no range check
    ('{"address": {}}', ANY_ADDRESS),                                   # {} = full wildcard
    ('{"address": null}', ANY_ADDRESS),
])
def test_regex_addresses(text, expected):
    assert one(text).address == expected


@pytest.mark.parametrize("text, tags", [
    ('{"physical_network": "physnet1"}', {"physical_network": "physnet1"}),
    ('{"physical_network": null}', {}),                          # null = no physnet
    ('{"trusted": "yes"}', {"trusted": "yes"}),                  # free-form, kept as given
    ('{"trusted": true}', {"trusted": "true"}),
    ('{"foo": "bar", "vendor_id": "8086"}', {"foo": "bar"}),     # unknown keys become tags
    ('{"remote_managed": "whatever"}', {"remote_managed": "whatever"}),
    ('{"numa": 1}', {"numa": "1"}),
    ('{"physical_network": "a", "physical_network": "b"}', {"physical_network": "b"}),
    ('{"devname": "", "address": "", "physical_network": "p"}', {"physical_network": "p"}),
])
def test_every_other_key_is_a_tag(text, tags):
    assert dict(one(text).tags) == tags


@pytest.mark.parametrize("value, normal", [
    ("yes", "true"), ("no", "false"), ("true", "true"), ("false", "false"),
    ("1", "true"), ("0", "false"), ("on", "true"), ("off", "false"), ("y", "true"),
    ("n", "false"), ("t", "true"), ("f", "false"), ("YES", "true"), (" Off ", "false"),
    (True, "true"), (False, "false"), (1, "true"), (0, "false"),
])
@pytest.mark.parametrize("tag", ["managed", "live_migratable", "one_time_use"])
def test_strict_boolean_tags_are_normalised(tag, value, normal):
    import json
    assert one(json.dumps({tag: value})).tags[tag] == normal


def test_physical_network_property():
    assert one('{"physical_network": "physnet1"}').physical_network == "physnet1"
    assert one('{"physical_network": null}').physical_network is None
    assert one('{}').physical_network is None


@pytest.mark.parametrize("values, count", [
    ([], 0),
    (["[]"], 0),
    (["{}"], 1),
    (['[{"vendor_id": "8086"}, {"vendor_id": "15b3"}]'], 2),
    (['{"vendor_id": "8086"}', '[{"product_id": "1"}, {}]', "[]"], 3),
])
def test_values_and_lists_flatten_in_order(values, count):
    specs = parse_device_specs(values, NO_HOST)
    assert len(specs) == count
    assert [s.text for s in specs] == [v for v in values for _ in range(_entries(v))]


def _entries(value: str) -> int:
    import json
    doc = json.loads(value)
    return len(doc) if isinstance(doc, list) else 1


def test_empty_devname_is_a_full_wildcard():
    spec = one('{"devname": ""}')
    assert spec.devname is None and spec.address == ANY_ADDRESS


@pytest.mark.parametrize("text, says", [
    ("not json", "Invalid entry"),
    ("{'vendor_id': '8086'}", "Invalid entry"),                  # single quotes
    ('"8086"', "Expecting list or dict"),
    ("5", "Expecting list or dict, got a JSON number"),
    ("null", "Expecting list or dict"),
    ('[{}, 5]', "Expecting dict"),
    ('[{}, [{}]]', "Expecting dict"),
    ('{"vendor_id": "xyz"}', "vendor_id 'xyz' does not parse as a hex number"),
    ('{"vendor_id": ""}', "does not parse as a hex number"),
    ('{"product_id": "80 86"}', "does not parse as a hex number"),
    ('{"vendor_id": "10000"}', "greater than the maximum allowable value ffff"),
    ('{"product_id": 4096}', "product_id 4096 is a JSON number, not a string"),
    ('{"vendor_id": null}', "vendor_id None is a JSON null, not a string"),
    ('{"address": "0*:0a:00.0"}', "domain '0*' does not parse as a hex number"),
    ('{"address": "0000:11:0*.*"}', "slot '0*' does not parse"),   # dev-install #222
    ('{"address": "[5-6]"}', "slot '[5-6]' does not parse"),
    ('{"address": "0000:0[3-8]:00.*"}', "bus '0[3-8]' does not parse"),
    ('{"address": "0000:0a:00.8"}', "function '8' (0x8) is greater than the maximum"),
    ('{"address": "10000:00:00.0"}', "domain '10000' (0x10000) is greater"),   # 32-bit domain
    ('{"address": "65536:00:00.0"}', "domain '65536'"),                       # always hex
    ('{"address": "0:100:00.0"}', "bus '100' (0x100) is greater"),
    ('{"address": "0:0:20.0"}', "slot '20' (0x20) is greater"),
    ('{"address": "0*:0a:00.9"}', "function '9'"),            # function checked first
    ('{"address": "0*:zz:00.1"}', "domain '0*'"),              # then domain, bus, slot
    ('{"address": "1:2:3:4.0"}', "at most 3"),
    ('{"address": ["0a"]}', "not a string or an object"),
    ('{"address": 5}', "not a string or an object"),
    ('{"address": true}', "not a string or an object"),
    ('{"address": {"bus": "*"}}', "not a valid regular expression"),
    ('{"address": {"function": "[6[-7]"}}', "not a valid regular expression"),
    ('{"address": {"bus": 10}}', "bus pattern 10 is not a string"),
    ('{"address": {"bux": "0a"}}', "unknown key(s) bux"),
    ('{"devname": "eth0", "address": "0a:00.0"}', "devname and address cannot both be given"),
    ('{"devname": 5}', "devname 5 is not a string"),
    ('{"devname": "../../etc"}', "not a network interface name"),
    ('{"managed": "maybe"}', "Cannot parse tag 'managed'"),
    ('{"live_migratable": "2"}', "Cannot parse tag 'live_migratable'"),
    ('{"one_time_use": null}', None),                                 # null: no tag, fine
    ('{"one_time_use": [true]}', "Cannot parse tag 'one_time_use'"),
    ('{"physical_network": ["a"]}', "not a scalar"),
])
def test_invalid_specs_raise_config_error_naming_the_value(text, says):
    if says is None:
        one(text)
        return
    with pytest.raises(ConfigError) as info:
        parse_device_specs([text], NO_HOST, file="/etc/nova/nova.conf")
    err = info.value
    assert says in str(err)
    assert isinstance(err, ValueError)
    assert err.file == "/etc/nova/nova.conf"
    assert (err.section, err.option, err.value) == ("pci", "device_spec", text)
    assert str(err).startswith("/etc/nova/nova.conf: [pci] device_spec: device spec ")
    assert err.fix  # says what would be right


def test_error_names_the_list_item_and_a_custom_option():
    with pytest.raises(ConfigError) as info:
        parse_device_specs(['[{}, {"address": "0*"}]'], NO_HOST,
                           option="[DEFAULT] pci_passthrough_whitelist")
    err = info.value
    assert "list item 2" in str(err)
    assert (err.section, err.option) == ("DEFAULT", "pci_passthrough_whitelist")
    assert err.file is None


def test_nothing_is_returned_when_one_value_is_bad():
    with pytest.raises(ConfigError) as info:
        parse_device_specs(['{"vendor_id": "8086"}', '{"vendor_id": "zz"}'],
                           NO_HOST)
    assert info.value.value == '{"vendor_id": "zz"}'


def test_a_value_that_is_not_text_is_a_config_error():
    with pytest.raises(ConfigError, match="Invalid entry"):
        parse_device_specs([{"vendor_id": "8086"}], NO_HOST)  # type: ignore[list-item]
