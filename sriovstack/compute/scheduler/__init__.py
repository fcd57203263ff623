"""The compute scheduler: filters, weighers, the host index and atomic claims."""

from sriovstack.compute.scheduler.host_state import HostCapabilities, HostState, SupportedInstance
from sriovstack.compute.scheduler.model import (CHAPTER_FILTERS, BuildRequest, Claim,
                                                ClaimedDevice, ImageProperties,
                                                SchedulerConfig, scheduler_config)
from sriovstack.compute.scheduler.scheduler import Scheduler
from sriovstack.pci import NumaPolicy, PciRequest

__all__ = [
    "Scheduler", "SchedulerConfig", "scheduler_config", "CHAPTER_FILTERS", "BuildRequest",
    "PciRequest", "NumaPolicy", "ImageProperties", "Claim", "ClaimedDevice", "HostState",
    "HostCapabilities", "SupportedInstance",
]
