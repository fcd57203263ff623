"""The network API tests run the whole app on the chapter's files (20.3, 20.4): ml2_conf.ini
with physnet1:15:20 and both mechanism drivers, nova.conf with the chapter's filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.api.settings import ApiSettings
from sriovstack.conf import load_config
from sriovstack.db import Database

ML2_CONF = """\
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
mechanism_drivers = openvswitch,sriovnicswitch
[ml2_type_vlan]
network_vlan_ranges = physnet1:15:20
[ml2_type_flat]
flat_networks = physnet2
[ml2_sriov]
supported_pci_vendor_devs = 15b3:1004,8086:10ca
agent_required = True
"""

NOVA_CONF = """\
[DEFAULT]
scheduler_default_filters = RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,CoreFilter,PciPassthroughFilter
"""


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> ApiSettings:
    ml2 = tmp_path / "ml2_conf.ini"
    ml2.write_text(ML2_CONF)
    nova = tmp_path / "nova.conf"
    nova.write_text(NOVA_CONF)
    return ApiSettings(base_url="http://testserver", database_url=database.url,
                       deployment=load_config([nova, ml2]))
