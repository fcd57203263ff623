"""Property tests: the glob address grammar in every accepted shorthand, vendor/product ids,
address keys, and that parsing never fails with anything but ConfigError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sriovstack.errors import ConfigError
from sriovstack.pci import NO_HOST, DevType, PciAddress, PciDevice, parse_device_specs
from sriovstack.pci.addrspec import GlobAddress, RegexAddress, address_key, key_of, key_text

MAXIMA = (0xFFFF, 0xFF, 0x1F, 0x7)
WIDTHS = (4, 2, 2, 1)

addresses = st.tuples(*(st.integers(0, m) for m in MAXIMA))


@st.composite
def hex_text(draw: st.DrawFn, value: int, width: int) -> str:
    """``value`` in hex as a user might write it: any case, 1..width+1 digits, maybe spaces."""
    digits = f"{value:x}"
    digits = "0" * draw(st.integers(0, max(0, width + 1 - len(digits)))) + digits
    digits = "".join(c.upper() if draw(st.booleans()) else c for c in digits)
    pad = draw(st.sampled_from(["", " ", "  "]))
    return pad + digits + draw(st.sampled_from(["", " "]))


@st.composite
def glob_pattern(draw: st.DrawFn) -> tuple[str, tuple[int | None, ...]]:
    """A glob address text in one of the accepted shorthands, and the fields it means."""
    fields = tuple(draw(st.none() | st.integers(0, m)) for m in MAXIMA)
    written = [draw(st.sampled_from(["*", "", " * "])) if v is None
               else draw(hex_text(v, w)) for v, w in zip(fields, WIDTHS)]
    domain, bus, slot, func = written
    # Leading wildcard fields may be dropped: fields align from the right.
    lead: list[str] = [domain, bus]
    if fields[0] is None and draw(st.booleans()):
        lead = [bus]
        if fields[1] is None and draw(st.booleans()):
            lead = []
    dbs = ":".join([*lead, slot])
    if fields[3] is None:
        tail = draw(st.sampled_from(["", ".", ".*"]))
    else:
        tail = "." + func
    text = dbs + tail
    # A lone empty slot leaves nothing before "."; still every field is a wildcard there.
    return text, fields


def device(addr: tuple[int, int, int, int], parent: PciAddress | None = None) -> PciDevice:
    return PciDevice(PciAddress(*addr), "8086", "154c", DevType.VF, parent)


@given(glob_pattern(), addresses)
@settings(max_examples=400)
def test_any_shorthand_matches_exactly_the_devices_nova_says(pattern, addr):
    text, fields = pattern
    specs = parse_device_specs([json.dumps({"address": text})], NO_HOST)
    expected = all(f is None or f == a for f, a in zip(fields, addr))
    assert (specs.find(device(addr)) is not None) is expected
    assert (specs.match({"address": key_text(key_of(PciAddress(*addr))), "vendor_id": "8086",
                         "product_id": "154c", "parent_addr": None}) is not None) is expected


@given(glob_pattern())
def test_a_device_at_the_pattern_itself_always_matches(pattern):
    text, fields = pattern
    addr = tuple(0 if f is None else f for f in fields)
    specs = parse_device_specs([json.dumps({"address": text})], NO_HOST)
    assert specs.find(device(addr)) is not None  # type: ignore[arg-type]


@given(st.text(max_size=24))
@settings(max_examples=400)
def test_address_parsing_only_raises_config_error(text):
    try:
        parse_device_specs([json.dumps({"address": text})], NO_HOST)
    except ConfigError:
        pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
spec_entries = st.dictionaries(
    st.sampled_from(["vendor_id", "product_id", "address", "devname", "physical_network",
                     "managed", "live_migratable", "trusted", "foo"]),
    json_values, max_size=4)


@given(st.one_of(spec_entries, st.lists(spec_entries, max_size=3), json_values))
@settings(max_examples=400)
def test_spec_parsing_only_raises_config_error(doc):
    try:
        specs = parse_device_specs([json.dumps(doc)], NO_HOST)
    except ConfigError as exc:
        assert exc.value == json.dumps(doc)
        return
    # whatever parsed can be matched without errors
    specs.match({"address": "0000:0a:00.1", "vendor_id": "8086", "product_id": "154c",
                 "parent_addr": None})


@given(st.text(max_size=40))
def test_any_text_value_only_raises_config_error(text):
    try:
        parse_device_specs([text], NO_HOST)
    except ConfigError:
        pass


@given(st.integers(0, 0xFFFF), st.data())
def test_ids_normalise_to_four_lowercase_digits_and_match(value, data):
    written = data.draw(hex_text(value, 4)).strip()
    which = data.draw(st.sampled_from(["vendor_id", "product_id"]))
    specs = parse_device_specs([json.dumps({which: written})], NO_HOST)
    assert getattr(specs.specs[0], which) == f"{value:04x}"
    ids = {"vendor_id": "8086", "product_id": "154c", which: f"{value:04x}"}
    assert specs.match({"address": "0000:0a:00.1", "parent_addr": None, **ids}) is not None
    other = f"{(value + 1) % 0x10000:04x}"
    assert specs.match({"address": "0000:0a:00.1", "parent_addr": None,
                        **{**ids, which: other}}) is None


@given(st.integers(0x10000, 2**64), st.sampled_from(["vendor_id", "product_id"]))
def test_ids_above_ffff_are_rejected(value, which):
    try:
        parse_device_specs([json.dumps({which: f"{value:x}"})], NO_HOST)
    except ConfigError as exc:
        assert "greater than the maximum" in str(exc)
    else:
        raise AssertionError("accepted an id above ffff")


@given(addresses, st.data())
def test_address_keys_agree_between_text_and_typed_forms(addr, data):
    pci = PciAddress(*addr)
    assert address_key(str(pci)) == key_of(pci)
    assert key_text(key_of(pci)) == str(pci)
    written = ":".join(data.draw(hex_text(v, w)).strip() for v, w in zip(addr[:3], WIDTHS))
    written += "." + data.draw(hex_text(addr[3], 1)).strip()
    assert address_key(written) == key_of(pci)  # non-canonical spellings normalise


@given(st.integers(0x10000, 0xFFFFFFFF), st.integers(0, 0xFF))
def test_32_bit_domains_never_parse(domain, bus):
    assert address_key(f"{domain:x}:{bus:02x}:00.0") == -1


@given(addresses, addresses)
def test_exact_regex_and_glob_patterns_agree(pattern, addr):
    glob = GlobAddress(*pattern)
    regex = RegexAddress(*(f"{v:0{w}x}" for v, w in zip(pattern, WIDTHS)))
    key = key_of(PciAddress(*addr))
    assert glob.hit(key) is regex.hit(key) is (pattern == addr)
