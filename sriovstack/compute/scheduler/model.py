"""The typed values the scheduler takes and returns: build requests, claims, its config."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sriovstack.errors import Invalid
from sriovstack.pci import DevType, PciAddress, PciAlias, PciRequest, parse_aliases

if TYPE_CHECKING:
    from sriovstack.conf import DeploymentConfig

__all__ = ["ImageProperties", "BuildRequest", "ClaimedDevice", "Claim", "SchedulerConfig",
           "CHAPTER_FILTERS", "scheduler_config"]

# The chapter's 20.4 scheduler_default_filters, in its order.
CHAPTER_FILTERS: tuple[str, ...] = (
    "RetryFilter", "AvailabilityZoneFilter", "RamFilter", "ComputeFilter",
    "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "CoreFilter", "PciPassthroughFilter",
)

# Glance property names ImagePropertiesFilter reads, the current name first.
_IMAGE_NAMES = {
    "architecture": ("hw_architecture", "architecture"),
    "hypervisor_type": ("img_hv_type", "hypervisor_type"),
    "vm_mode": ("hw_vm_mode", "vm_mode"),
    "hypervisor_version_requires": ("img_hv_requested_version", "hypervisor_version_requires"),
}


@dataclass(frozen=True, slots=True)
class ImageProperties:
    """The image properties that restrict where a server may run (None: no restriction)."""

    architecture: str | None = None
    hypervisor_type: str | None = None
    vm_mode: str | None = None
    hypervisor_version_requires: str | None = None

    @classmethod
    def from_glance(cls, properties: Iterable[tuple[str, str]]) -> "ImageProperties":
        """Read glance's property names (``hw_architecture``, ``img_hv_type``...)."""
        given = dict(properties)
        values = {}
        for attr, names in _IMAGE_NAMES.items():
            values[attr] = next((given[n] for n in names if given.get(n)), None)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class BuildRequest:
    """One server to place: its flavor's resources, where it may go and its PCI requests.

    ``retry_hosts`` are hosts already tried for this server (RetryFilter skips them);
    ``extra_specs`` are the flavor's (ComputeCapabilitiesFilter); ``numa_nodes`` are the
    guest's NUMA nodes when it has a NUMA topology (None: it has none, §2.3 does not apply);
    ``guest_numa_cells`` is the flavor's ``hw:numa_nodes`` (or 1 for another NUMA-implying
    spec) when ``numa_nodes`` is not fixed: the scheduler then tries the host's nodes.
    ``lease_token`` fences the claim: it is taken only while that build lease holds the server
    (a delete or a sweep that took the lease over makes the claim fail with NotFound).
    ``ignore_hosts`` and ``requested_host`` narrow the hosts before any filter runs.
    """

    server_id: str
    project_id: str
    vcpus: int
    memory_mb: int
    disk_gb: int = 0
    availability_zone: str | None = None
    image_properties: ImageProperties = field(default_factory=ImageProperties)
    pci_requests: tuple[PciRequest, ...] = ()
    retry_hosts: frozenset[str] = frozenset()
    extra_specs: tuple[tuple[str, str], ...] = ()
    numa_nodes: frozenset[int] | None = None
    guest_numa_cells: int | None = None
    lease_token: str | None = None
    # A move (compute/migration.py), as nova's RequestSpec: hosts never considered (the
    # source, unless allow_resize_to_same_host) and the one host asked for (migrate --host).
    ignore_hosts: frozenset[str] = frozenset()
    requested_host: str | None = None

    def __post_init__(self) -> None:
        for name in ("vcpus", "memory_mb", "disk_gb"):
            value = getattr(self, name)
            if value < 0:
                raise Invalid(f"a build request's {name} must be 0 or more, not {value}",
                              field=name, value=value)


@dataclass(frozen=True, slots=True)
class ClaimedDevice:
    """A device a claim holds; ``generation`` is its ownership fence after the claim."""

    address: PciAddress
    vendor_id: str
    product_id: str
    dev_type: DevType
    physnet: str | None
    parent_addr: PciAddress | None
    generation: int
    port_id: str | None = None

    @property
    def pci_vendor_info(self) -> str:
        """``vvvv:pppp`` as neutron's binding:profile carries it."""
        return f"{self.vendor_id}:{self.product_id}"


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``schedule_and_claim`` took: the host and the devices, in request order."""

    server_id: str
    host: str
    devices: tuple[ClaimedDevice, ...]

    def device_for(self, port_id: str) -> ClaimedDevice | None:
        """The device claimed for ``port_id``, if any."""
        return next((d for d in self.devices if d.port_id == port_id), None)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """The scheduler's options: nova's names and defaults of the chapter's era."""

    enabled_filters: tuple[str, ...] = CHAPTER_FILTERS
    ram_allocation_ratio: float = 1.5
    cpu_allocation_ratio: float = 16.0
    ram_weight_multiplier: float = 1.0
    pci_weight_multiplier: float = 1.0
    service_down_time: float = 60.0
    max_attempts: int = 5
    # nova [filter_scheduler] host_subset_size: pick at random among the best N weighed hosts
    # (1: always the best), so concurrent decisions spread instead of racing for one host
    host_subset_size: int = 1
    # Where enabled_filters came from, for the error an unknown name gets.
    filters_origin: str = "[filter_scheduler] enabled_filters"
    # [pci] alias by name: what a flavor's pci_passthrough:alias asks for.
    pci_aliases: tuple[tuple[str, PciAlias], ...] = ()
    # nova.conf [DEFAULT] allow_resize_to_same_host (a move's source is otherwise ignored)
    allow_resize_to_same_host: bool = False
    # nova.conf [DEFAULT] resize_confirm_window: seconds before a move in VERIFY_RESIZE is
    # confirmed by the periodic sweep (0: never)
    resize_confirm_window: int = 0


def scheduler_config(deployment: "DeploymentConfig | None") -> SchedulerConfig:
    """The scheduler options of a loaded deployment. The filter list is taken when a file
    sets it (either name of 20.4); otherwise the chapter's eight run, because nova's modern
    default names server-group filters sriovstack does not have."""
    if deployment is None:
        return SchedulerConfig()
    aliases = tuple(sorted(parse_aliases(  # a bad alias is a ConfigError naming the option
        (line.text, line.origin.file) for line in deployment.nova.aliases).items()))
    base = SchedulerConfig(
        pci_aliases=aliases,
        allow_resize_to_same_host=bool(deployment.nova.allow_resize_to_same_host.value),
        resize_confirm_window=int(deployment.nova.resize_confirm_window.value),
        host_subset_size=int(deployment.nova.host_subset_size.value))
    if not deployment.nova.enabled_filters.is_set:
        return base
    setting = deployment.nova.enabled_filters
    return dataclasses.replace(base, enabled_filters=tuple(setting.value),
                               filters_origin=str(setting.origin))
