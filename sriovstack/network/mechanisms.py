"""The ML2 mechanism drivers: openvswitch (normal ports) and sriovnicswitch (VF/PF ports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sriovstack.network.config import Ml2Settings
from sriovstack.network.types import BindingProfile, NetworkType, Segment, VifType, VnicType
from sriovstack.wire import NIC_AGENT_TYPE

__all__ = ["AgentState", "BindRequest", "Bound", "Declined", "MechanismDriver",
           "OpenvswitchDriver", "SriovNicSwitchDriver", "drivers_for"]


@dataclass(frozen=True, slots=True)
class AgentState:
    """One agent registered on the binding host, as the drivers need to see it."""

    agent_type: str
    alive: bool
    device_mappings: tuple[str, ...]  # physnets in configurations.device_mappings


@dataclass(frozen=True, slots=True)
class BindRequest:
    vnic_type: VnicType
    host: str
    profile: BindingProfile
    segment: Segment
    agents: tuple[AgentState, ...]


@dataclass(frozen=True, slots=True)
class Bound:
    """A driver bound the port. ``device_up`` False: DOWN until the host's agent says up."""

    vif_type: VifType
    vif_details: tuple[tuple[str, str | bool], ...]
    device_up: bool


@dataclass(frozen=True, slots=True)
class Declined:
    reason: str


class MechanismDriver(Protocol):
    name: str

    def bind(self, request: BindRequest) -> Bound | Declined: ...


def _segment_ok(segment: Segment) -> bool:
    return segment.network_type in (NetworkType.FLAT, NetworkType.VLAN)


class OpenvswitchDriver:
    """Binds ``normal`` ports as ``ovs``.

    NOTE: our hosts run no Open vSwitch agent of their own; a normal port binds on any host
    with at least one live agent (the compute agent or the NIC Switch agent), so a port is
    never bound to a host nobody is running. There is no agent to report the port up, so it
    is up once bound.
    """

    name = "openvswitch"

    def bind(self, request: BindRequest) -> Bound | Declined:
        if request.vnic_type is not VnicType.NORMAL:
            return Declined(f"vnic_type {request.vnic_type} is not handled (only normal)")
        if not _segment_ok(request.segment):
            return Declined(f"network type {request.segment.network_type} is not supported")
        if not any(agent.alive for agent in request.agents):
            return Declined(f"no live agent on host {request.host!r}")
        return Bound(VifType.OVS, (("port_filter", True), ("connectivity", "l2")),
                     device_up=True)


class SriovNicSwitchDriver:
    """Binds ``direct`` (VF, ``hw_veb``) and ``direct-physical`` (PF, ``hostdev_physical``).

    Checks, in neutron's order: vnic_type; supported_pci_vendor_devs against
    ``binding:profile.pci_vendor_info`` (exact ``vvvv:pppp``); a flat or vlan segment; when
    agent_required, a live NIC Switch agent on the host mapping the segment's physnet. A PF
    handed whole to a guest has no VF for the agent to manage, so ``direct-physical`` binds
    agent-less (as neutron since Mitaka) and is up at once.
    """

    name = "sriovnicswitch"

    def __init__(self, agent_required: bool, vendor_devs: tuple[str, ...] | None) -> None:
        self._agent_required = agent_required
        self._vendor_devs = vendor_devs

    def bind(self, request: BindRequest) -> Bound | Declined:
        if not request.vnic_type.is_sriov:
            return Declined(f"vnic_type {request.vnic_type} is not handled "
                            "(only direct and direct-physical)")
        refusal = self._vendor_refusal(request.profile) or self._segment_refusal(request)
        if refusal:
            return Declined(refusal)
        segment = request.segment
        details = (("port_filter", False), ("vlan", str(segment.segmentation_id or 0)))
        if request.vnic_type is VnicType.DIRECT_PHYSICAL:
            return Bound(VifType.HOSTDEV_PHYSICAL, details, device_up=True)
        if not self._agent_required:
            return Bound(VifType.HW_VEB, details, device_up=True)
        refusal = _agent_refusal(request)
        if refusal:
            return Declined(refusal)
        return Bound(VifType.HW_VEB, details, device_up=False)

    def _vendor_refusal(self, profile: BindingProfile) -> str | None:
        if self._vendor_devs is None:
            return None
        if profile.pci_vendor_info is None:
            return "binding:profile has no pci_vendor_info to check supported_pci_vendor_devs"
        if profile.pci_vendor_info.lower() not in self._vendor_devs:
            return (f"pci_vendor_info {profile.pci_vendor_info} is not in [ml2_sriov] "
                    f"supported_pci_vendor_devs ({', '.join(self._vendor_devs)})")
        return None

    @staticmethod
    def _segment_refusal(request: BindRequest) -> str | None:
        segment = request.segment
        if not _segment_ok(segment):
            return f"network type {segment.network_type} is not flat or vlan"
        physnet = request.profile.physical_network
        if physnet is not None and physnet != segment.physnet:
            return (f"binding:profile physical_network {physnet} differs from the "
                    f"network's {segment.physnet}")
        return None


def _agent_refusal(request: BindRequest) -> str | None:
    sriov = [a for a in request.agents if a.agent_type == NIC_AGENT_TYPE]
    if not sriov:
        return f"no {NIC_AGENT_TYPE} registered on host {request.host!r}"
    live = [a for a in sriov if a.alive]
    if not live:
        return f"the {NIC_AGENT_TYPE} on host {request.host!r} is dead (no recent heartbeat)"
    physnet = request.segment.physnet
    if not any(physnet in a.device_mappings for a in live):
        mapped = sorted({p for a in live for p in a.device_mappings})
        return (f"the {NIC_AGENT_TYPE} on host {request.host!r} does not map physnet "
                f"{physnet} (device_mappings: {', '.join(mapped) or 'none'})")
    return None


def drivers_for(settings: Ml2Settings) -> tuple[MechanismDriver, ...]:
    """The drivers named by ``[ml2] mechanism_drivers``, in that order."""
    made: dict[str, MechanismDriver] = {
        "openvswitch": OpenvswitchDriver(),
        "sriovnicswitch": SriovNicSwitchDriver(settings.agent_required,
                                               settings.supported_pci_vendor_devs),
    }
    return tuple(made[name] for name in settings.mechanism_drivers)
