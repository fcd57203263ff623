"""The words both sides of the agent contract use: vnic types, statuses, agent types."""

from __future__ import annotations

import enum

__all__ = ["VnicType", "ServerStatus", "PortStatus", "ServerOutcome", "UplinkPropagation",
           "COMPUTE_AGENT_TYPE",
           "COMPUTE_BINARY", "NIC_AGENT_TYPE", "NIC_BINARY"]

# The compute agent's agent_type (nova's service "nova-compute"); its heartbeat is what marks
# the host up for ComputeFilter and os-hypervisors.
COMPUTE_AGENT_TYPE = "Compute agent"
COMPUTE_BINARY = "sriovstack-compute"
# neutron's names: the sriovnicswitch mechanism driver looks for a live agent of this type.
NIC_AGENT_TYPE = "NIC Switch agent"
NIC_BINARY = "neutron-sriov-nic-agent"


class VnicType(enum.StrEnum):
    """``binding:vnic_type``: every value neutron accepts; we bind normal, direct, direct-physical."""

    NORMAL = "normal"
    DIRECT = "direct"
    MACVTAP = "macvtap"
    DIRECT_PHYSICAL = "direct-physical"
    BAREMETAL = "baremetal"
    VIRTIO_FORWARDER = "virtio-forwarder"
    SMART_NIC = "smart-nic"
    VDPA = "vdpa"
    ACCELERATOR_DIRECT = "accelerator-direct"
    ACCELERATOR_DIRECT_PHYSICAL = "accelerator-direct-physical"
    REMOTE_MANAGED = "remote-managed"

    @property
    def is_sriov(self) -> bool:
        """True for the PCI passthrough kinds (a VF or a PF handed to the guest)."""
        return self in (VnicType.DIRECT, VnicType.DIRECT_PHYSICAL)


class ServerStatus(enum.Enum):
    """Nova's server status as the API shows it (only the states we reach)."""

    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"
    SHUTOFF = "SHUTOFF"
    PAUSED = "PAUSED"
    SUSPENDED = "SUSPENDED"
    REBOOT = "REBOOT"
    HARD_REBOOT = "HARD_REBOOT"
    REBUILD = "REBUILD"
    SHELVED_OFFLOADED = "SHELVED_OFFLOADED"  # no host: never in an agent's desired state
    RESIZE = "RESIZE"                # resize or cold migration under way
    VERIFY_RESIZE = "VERIFY_RESIZE"  # moved: waiting for confirmResize or revertResize
    REVERT_RESIZE = "REVERT_RESIZE"  # going back to the source host
    MIGRATING = "MIGRATING"          # live migration under way

    @property
    def is_runnable(self) -> bool:
        """A server whose host converges its guest to the server's ``target`` (every status
        but ERROR and DELETED: a failed server's guest is left as it is)."""
        return self not in (ServerStatus.ERROR, ServerStatus.DELETED)


class PortStatus(enum.StrEnum):
    """A neutron port's ``status``."""

    ACTIVE = "ACTIVE"
    DOWN = "DOWN"
    BUILD = "BUILD"
    ERROR = "ERROR"


class ServerOutcome(enum.Enum):
    """What the compute agent says of a server (its guest runs, is paused, is stopped, or the
    agent could not do what was asked); also what the desired state asks the guest to be."""

    RUNNING = "running"
    ERROR = "error"
    PAUSED = "paused"
    STOPPED = "stopped"


class UplinkPropagation(enum.StrEnum):
    """What became of a port's ``propagate_uplink_status`` on its VF, as the NIC agent says:
    not asked (link state ``enable``), ``following`` (link state ``auto``: the VF's link
    follows the PF's), or ``unsupported`` (the PF's driver has no VF link-state control,
    EOPNOTSUPP: igb; neutron's agent only logs a warning then)."""

    OFF = "off"
    FOLLOWING = "following"
    UNSUPPORTED = "unsupported"
