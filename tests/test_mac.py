"""MacAddress: one form (lower case, colons), parsed once from what people and kernels write;
multicast and zero told apart for the callers that refuse them (ports, VFs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovstack.errors import Invalid
from sriovstack.mac import MacAddress


@pytest.mark.parametrize(("text", "canonical"), [
    ("fa:16:3e:12:34:56", "fa:16:3e:12:34:56"),
    ("FA:16:3E:12:34:56", "fa:16:3e:12:34:56"),      # upper case, as some tools print it
    ("fa-16-3e-12-34-56", "fa:16:3e:12:34:56"),      # dashes (Windows, neutron accepts them)
    ("Fa-16-3E-AB-cd-Ef", "fa:16:3e:ab:cd:ef"),
    ("  52:54:00:aa:bb:cc\n", "52:54:00:aa:bb:cc"),  # surrounding blanks (a sysfs read)
    ("00:00:00:00:00:00", "00:00:00:00:00:00"),
    ("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"),
])
def test_parse_normalises(text: str, canonical: str) -> None:
    mac = MacAddress.parse(text)
    assert str(mac) == canonical and mac == MacAddress(canonical)


@pytest.mark.parametrize("text", [
    "", "fa:16:3e:12:34", "fa:16:3e:12:34:56:78", "fa:16:3e:12:34:5g", "fa163e123456",
    "fa16.3e12.3456", "fa:16:3e:12:34:5", "fa::16:3e:12:34:56", "fa:16:3e:12:34:56:",
])
def test_parse_refuses_what_is_not_six_hex_pairs_naming_the_field(text: str) -> None:
    with pytest.raises(Invalid, match="not a MAC address") as err:
        MacAddress.parse(text, field="mac_address")
    assert (err.value.field, err.value.value) == ("mac_address", text)
    assert str(err.value).startswith("mac_address: ")


def test_parse_refuses_what_is_not_text() -> None:
    with pytest.raises(Invalid, match="not a MAC address"):
        MacAddress.parse(17)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["FA:16:3E:12:34:56", "fa-16-3e-12-34-56", " fa:16:3e:12:34:56"])
def test_the_constructor_takes_only_the_one_form(text: str) -> None:
    with pytest.raises(Invalid, match="not a MAC address"):
        MacAddress(text)


@pytest.mark.parametrize(("text", "multicast", "zero", "assignable"), [
    ("fa:16:3e:12:34:56", False, False, True),   # neutron's base_mac, locally administered
    ("52:54:00:12:34:56", False, False, True),   # QEMU's prefix
    ("01:00:5e:00:00:01", True, False, False),   # IPv4 multicast
    ("33:33:00:00:00:01", True, False, False),   # IPv6 multicast
    ("ff:ff:ff:ff:ff:ff", True, False, False),   # broadcast
    ("00:00:00:00:00:00", False, True, False),   # a VF without an admin MAC
])
def test_multicast_and_zero(text: str, multicast: bool, zero: bool, assignable: bool) -> None:
    mac = MacAddress(text)
    assert (mac.is_multicast, mac.is_zero, mac.is_assignable) == (multicast, zero, assignable)


def test_zero_is_one_value() -> None:
    assert MacAddress.ZERO == MacAddress.parse("00-00-00-00-00-00") and MacAddress.ZERO.is_zero
    assert repr(MacAddress.ZERO) == "MacAddress('00:00:00:00:00:00')"


def test_values_hash_and_order_by_their_text() -> None:
    a, b = MacAddress("fa:16:3e:00:00:01"), MacAddress.parse("FA:16:3E:00:00:02")
    assert {a, MacAddress.parse("fa-16-3e-00-00-01")} == {a} and sorted([b, a]) == [a, b]


@given(st.binary(min_size=6, max_size=6), st.sampled_from([":", "-"]), st.booleans())
def test_any_six_octets_round_trip(octets: bytes, sep: str, upper: bool) -> None:
    text = sep.join(f"{b:02x}" for b in octets)
    mac = MacAddress.parse(text.upper() if upper else text)
    assert MacAddress.parse(str(mac)) == mac and bytes.fromhex(str(mac).replace(":", "")) == octets
    assert mac.is_multicast == bool(octets[0] & 1)
