"""[pci] alias: nova's JSON grammar, errors naming the option, and flavor requests."""

from __future__ import annotations

import pytest

from sriovstack.errors import ConfigError, Invalid
from sriovstack.pci import DevType, NumaPolicy, alias_requests, parse_aliases

VF = '{"name": "igb-vf", "vendor_id": "8086", "product_id": "10CA", "device_type": "type-VF"}'


def test_an_alias_line_or_a_list_of_them() -> None:
    pf = ('[{"name": "igb-pf", "vendor_id": "8086", "product_id": "10c9", '
          '"device_type": "type-PF", "numa_policy": "required"}]')
    aliases = parse_aliases([(VF, "nova.conf"), (pf, "nova.conf")])
    assert aliases["igb-vf"].product_id == "10ca" and aliases["igb-vf"].dev_type is DevType.VF
    assert aliases["igb-pf"].numa_policy is NumaPolicy.REQUIRED


@pytest.mark.parametrize("text, words", [
    ("{name: x}", "not JSON"),
    ('{"name": "a", "device_type": "type-VF", "colour": "red"}', "unknown key 'colour'"),
    ('{"name": "a", "vendor_id": "80861", "device_type": "type-VF"}', "'vendor_id'"),
    ('{"name": "a", "device_type": "type-XX"}', "'device_type'"),
    ('{"name": "a"}', "sriovstack needs it given"),
    ('{"name": "a", "device_type": "type-VF", "numa_policy": "always"}', "'numa_policy'"),
    ('{"name": "a:b", "device_type": "type-VF"}', "'name'"),
    ('"just text"', "JSON object"),
])
def test_bad_aliases_are_config_errors_naming_the_option(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_aliases([(text, "/etc/nova/nova.conf")])
    assert words in str(caught.value) and "[pci] alias" in str(caught.value)
    assert caught.value.file == "/etc/nova/nova.conf"


def test_a_name_defined_twice_is_refused() -> None:
    with pytest.raises(ConfigError, match="defined twice"):
        parse_aliases([(VF, None), (VF, None)])


def test_requests_take_the_flavor_policy_over_the_alias_one() -> None:
    aliases = parse_aliases([(VF.replace('"type-VF"', '"type-VF", "numa_policy": "legacy"'),
                              None)])
    (req,) = alias_requests([("igb-vf", 2)], aliases, NumaPolicy.PREFERRED)
    assert (req.count, req.numa_policy, req.any_physnet, req.vendor_id) == \
        (2, NumaPolicy.PREFERRED, True, "8086")
    (own,) = alias_requests([("igb-vf", 1)], aliases)
    assert own.numa_policy is NumaPolicy.LEGACY
    with pytest.raises(Invalid, match="PCI alias nope is not defined"):
        alias_requests([("nope", 1)], aliases)
