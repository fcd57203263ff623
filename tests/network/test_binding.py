"""The binding loop and the two mechanism drivers, as tables drawn from the chapter (20.3)
and neutron's sriovnicswitch checks (vnic_type → vendor list → flat/vlan → live agent)."""

from __future__ import annotations

import pytest

from sriovstack.errors import ConfigError
from sriovstack.network.binding import bind
from sriovstack.network.config import Ml2Settings
from sriovstack.network.mechanisms import AgentState, BindRequest, drivers_for
from sriovstack.network.types import (BindingProfile, NetworkType, Segment, VifType, VnicType)
from sriovstack.pci.address import PciAddress
from sriovstack.wire import NIC_AGENT_TYPE

VLAN15 = Segment(NetworkType.VLAN, "physnet1", 15)
FLAT = Segment(NetworkType.FLAT, "physnet1", None)
SRIOV_AGENT = AgentState(NIC_AGENT_TYPE, True, ("physnet1",))
DEAD_SRIOV = AgentState(NIC_AGENT_TYPE, False, ("physnet1",))
OTHER_PHYSNET = AgentState(NIC_AGENT_TYPE, True, ("physnet2",))
COMPUTE = AgentState("Compute agent", True, ())
SLOT = PciAddress.parse("0000:07:00.2")
VF = BindingProfile(SLOT, "8086:10ca", "physnet1")
CHAPTER = Ml2Settings(mechanism_drivers=("openvswitch", "sriovnicswitch"),
                      vlan_ranges=(("physnet1", ((15, 20),)),),
                      supported_pci_vendor_devs=("15b3:1004", "8086:10ca"))


def _bind(vnic: VnicType, agents: tuple[AgentState, ...], *, segment: Segment = VLAN15,
          profile: BindingProfile = VF, settings: Ml2Settings = CHAPTER):
    request = BindRequest(vnic, "compute-0", profile, segment, agents)
    return bind(drivers_for(settings), request)


@pytest.mark.parametrize(("vnic", "segment", "agents", "vif_type", "vlan", "up"), [
    (VnicType.DIRECT, VLAN15, (SRIOV_AGENT,), VifType.HW_VEB, "15", False),
    (VnicType.DIRECT, FLAT, (SRIOV_AGENT,), VifType.HW_VEB, "0", False),
    (VnicType.DIRECT_PHYSICAL, VLAN15, (), VifType.HOSTDEV_PHYSICAL, "15", True),
    (VnicType.NORMAL, VLAN15, (COMPUTE,), VifType.OVS, None, True),
])
def test_what_binds(vnic: VnicType, segment: Segment, agents: tuple[AgentState, ...],
                    vif_type: VifType, vlan: str | None, up: bool) -> None:
    result = _bind(vnic, agents, segment=segment)
    assert result.vif_type is vif_type and result.failure is None
    assert result.device_up is up  # agent mode: DOWN until the agent reports the VF up
    details = dict(result.vif_details)
    if vlan is not None:
        assert details == {"port_filter": False, "vlan": vlan}


@pytest.mark.parametrize(("vnic", "agents", "profile", "reason"), [
    (VnicType.DIRECT, (), VF, "no NIC Switch agent registered on host 'compute-0'"),
    (VnicType.DIRECT, (DEAD_SRIOV,), VF, "is dead"),
    (VnicType.DIRECT, (OTHER_PHYSNET,), VF, "does not map physnet physnet1"),
    (VnicType.DIRECT, (SRIOV_AGENT,), BindingProfile(SLOT, "8086:1520", None),
     "8086:1520 is not in [ml2_sriov] supported_pci_vendor_devs"),
    (VnicType.DIRECT, (SRIOV_AGENT,), BindingProfile(SLOT, None, None),
     "no pci_vendor_info"),
    (VnicType.DIRECT, (SRIOV_AGENT,), BindingProfile(SLOT, "8086:10ca", "physnet2"),
     "differs from the network's physnet1"),
    (VnicType.NORMAL, (), BindingProfile(), "openvswitch: no live agent"),
    (VnicType.BAREMETAL, (SRIOV_AGENT,), VF, "vnic_type baremetal is not handled"),
])
def test_refusals_become_binding_failed_with_every_reason(
        vnic: VnicType, agents: tuple[AgentState, ...], profile: BindingProfile,
        reason: str) -> None:
    result = _bind(vnic, agents, profile=profile)
    assert result.vif_type is VifType.BINDING_FAILED
    assert result.failure is not None and reason in result.failure
    assert "compute-0" in result.failure and not result.device_up


def test_without_agent_required_a_vf_binds_agentless_and_up() -> None:
    settings = Ml2Settings(vlan_ranges=(("physnet1", ((15, 20),)),), agent_required=False)
    result = _bind(VnicType.DIRECT, (), settings=settings)
    assert result.vif_type is VifType.HW_VEB and result.device_up


def test_unset_vendor_list_accepts_any_vendor() -> None:
    settings = Ml2Settings(vlan_ranges=(("physnet1", ((15, 20),)),))
    result = _bind(VnicType.DIRECT, (SRIOV_AGENT,),
                   profile=BindingProfile(SLOT, "1234:5678", None), settings=settings)
    assert result.vif_type is VifType.HW_VEB


def test_drivers_run_in_configured_order_and_only_those_configured() -> None:
    only_ovs = Ml2Settings(mechanism_drivers=("openvswitch",))
    result = _bind(VnicType.DIRECT, (SRIOV_AGENT,), settings=only_ovs)
    assert result.vif_type is VifType.BINDING_FAILED
    assert result.failure is not None and "sriovnicswitch" not in result.failure
    none = Ml2Settings(mechanism_drivers=())
    assert "no mechanism drivers" in (_bind(VnicType.NORMAL, (COMPUTE,),
                                            settings=none).failure or "")


@pytest.mark.parametrize(("kwargs", "option"), [
    ({"mechanism_drivers": ("linuxbridge",)}, "mechanism_drivers"),
    ({"type_drivers": ("flat", "vlan", "bogus")}, "type_drivers"),
    ({"tenant_network_types": ("vlan",), "type_drivers": ("flat",)}, "tenant_network_types"),
    ({"agent_down_time": 0}, "agent_down_time"),
])
def test_bad_settings_stop_the_service_naming_the_option(kwargs: dict[str, object],
                                                         option: str) -> None:
    with pytest.raises(ConfigError) as err:
        Ml2Settings(**kwargs)  # type: ignore[arg-type]
    assert err.value.option == option
