"""ML2 settings from the chapter's ml2_conf.ini through the conf loader (20.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.conf import load_config
from sriovstack.errors import ConfigError
from sriovstack.network import ml2_settings, ml2_settings_for

CHAPTER_ML2 = """\
[ml2]
type_drivers = vlan
tenant_network_types = vlan
mechanism_drivers = openvswitch, sriovnicswitch
[ml2_type_vlan]
network_vlan_ranges = physnet1:15:20
[ml2_sriov]
supported_pci_vendor_devs = 15b3:1004, 8086:10CA
agent_required = True
"""


def test_the_chapters_file_becomes_typed_settings(tmp_path: Path) -> None:
    path = tmp_path / "ml2_conf.ini"
    path.write_text(CHAPTER_ML2)
    settings = ml2_settings(load_config([path]).ml2)
    assert settings.mechanism_drivers == ("openvswitch", "sriovnicswitch")
    assert settings.vlan_ranges == (("physnet1", ((15, 20),)),)
    assert settings.supported_pci_vendor_devs == ("15b3:1004", "8086:10ca")
    assert settings.agent_required is True and settings.tenant_network_types == ("vlan",)


def test_an_unknown_mechanism_driver_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ml2_conf.ini"
    path.write_text(CHAPTER_ML2.replace("openvswitch, sriovnicswitch", "linuxbridge"))
    with pytest.raises(ConfigError) as err:
        ml2_settings(load_config([path]).ml2)
    assert err.value.file == str(path) and err.value.option == "mechanism_drivers"
    assert "linuxbridge" in str(err.value)


def test_no_deployment_means_defaults_without_vlan_ranges() -> None:
    settings = ml2_settings_for(None)
    assert settings.vlan_ranges == () and settings.tenant_network_types == ("vlan",)
