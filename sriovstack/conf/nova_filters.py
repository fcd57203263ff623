"""The nova scheduler filter class names a filter list may name, current and historic."""

from __future__ import annotations

import difflib
import re

__all__ = ["KNOWN_FILTERS", "ALL_FILTERS", "is_filter_path", "suggest_filter"]

ALL_FILTERS = "nova.scheduler.filters.all_filters"

# Filters in nova's tree today.
_CURRENT = frozenset({
    "AggregateImagePropertiesIsolation", "AggregateInstanceExtraSpecsFilter",
    "AggregateIoOpsFilter", "AggregateMultiTenancyIsolation", "AggregateNumInstancesFilter",
    "AggregateTypeAffinityFilter", "AllHostsFilter", "AvailabilityZoneFilter",
    "ComputeCapabilitiesFilter", "ComputeFilter", "DifferentHostFilter",
    "ImagePropertiesFilter", "IoOpsFilter", "IsolatedHostsFilter", "JsonFilter",
    "MetricsFilter", "NUMATopologyFilter", "NumInstancesFilter", "PciPassthroughFilter",
    "SameHostFilter", "ServerGroupAffinityFilter", "ServerGroupAntiAffinityFilter",
    "SimpleCIDRAffinityFilter",
})

# Filters of the chapter's era (Juno–Ocata) since removed: RetryFilter (Wallaby), the
# Ram/Core/Disk filters and their Aggregate/Exact forms (Stein–Train), TrustedFilter
# (Rocky), TypeAffinityFilter (Rocky). The chapter's 20.4 list names several of them.
_HISTORIC = frozenset({
    "RetryFilter", "RamFilter", "CoreFilter", "DiskFilter", "AggregateRamFilter",
    "AggregateCoreFilter", "AggregateDiskFilter", "ExactRamFilter", "ExactCoreFilter",
    "ExactDiskFilter", "TrustedFilter", "TypeAffinityFilter",
})

KNOWN_FILTERS = _CURRENT | _HISTORIC

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def is_filter_path(text: str) -> bool:
    """True when ``text`` is a dotted Python path (``package.module.ClassName``)."""
    return bool(_DOTTED.match(text))


def suggest_filter(name: str) -> str | None:
    """The known filter name closest to ``name`` (case-insensitive), or None."""
    by_lower = {known.lower(): known for known in KNOWN_FILTERS}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None
