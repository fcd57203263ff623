"""The chapter's eight scheduler filters (20.4) with nova's semantics, and building the list.

Each filter has ``check(host, request)``: None when the host passes, otherwise a plural verb
phrase saying why not ("have less than 512 MB of RAM free"), which the scheduler groups into
the NoValidHost message. ``prepare(request)`` gives the same check bound to one decision (the
request's values and the clock read once), or None when the filter cannot remove any host for
that request, so a decision over thousands of hosts skips it.
"""

from __future__ import annotations

import difflib
import itertools
import operator
from collections.abc import Callable
from typing import Protocol

from sriovstack.clock import Clock

from sriovstack.compute.scheduler.host_state import HostState
from sriovstack.compute.scheduler.model import BuildRequest, SchedulerConfig
from sriovstack.errors import ConfigError
from sriovstack.pci import Fit, NumaContext, Shortfall, fit_prepared, shortfall_of

__all__ = ["HostFilter", "RetryFilter", "AvailabilityZoneFilter", "RamFilter", "CoreFilter",
           "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
           "PciPassthroughFilter", "FILTER_NAMES", "build_filters", "match_extra_spec",
           "fit_on_host", "shortfall_on_host"]

HostCheck = Callable[[HostState], "str | None"]


class HostFilter(Protocol):
    """One filter: ``check`` returns None (pass) or why the host fails; ``prepare`` binds it
    to one request (None: it passes every host for that request)."""

    name: str

    def check(self, host: HostState, request: BuildRequest) -> str | None: ...

    def prepare(self, request: BuildRequest) -> HostCheck | None: ...


def _bound(flt: HostFilter, request: BuildRequest) -> HostCheck:
    return lambda host: flt.check(host, request)


class RetryFilter:
    """Skip hosts already tried for this server (a lost claim or a failed port binding)."""

    name = "RetryFilter"

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        return "were already tried for this server" if host.name in request.retry_hosts else None

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        return _bound(self, request) if request.retry_hosts else None


class AvailabilityZoneFilter:
    """Keep hosts in the requested availability zone (any host when none is requested)."""

    name = "AvailabilityZoneFilter"

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        zone = request.availability_zone
        if zone is None or host.availability_zone == zone:
            return None
        return f"are not in availability zone {zone}"

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        return None if request.availability_zone is None else _bound(self, request)


class RamFilter:
    """Keep hosts whose RAM under ``ram_allocation_ratio`` still holds the flavor's RAM."""

    name = "RamFilter"

    def __init__(self, ratio: float) -> None:
        self._ratio = ratio

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        return None if host.free_ram_mb(self._ratio) >= request.memory_mb else self._why(request)

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        ratio, wanted, why = self._ratio, request.memory_mb, self._why(request)
        return lambda h: None if h.memory_mb * ratio - h.memory_mb_used >= wanted else why

    def _why(self, request: BuildRequest) -> str:
        return (f"have less than {request.memory_mb} MB of RAM free "
                f"(ram_allocation_ratio {self._ratio:g})")


class CoreFilter:
    """Keep hosts whose vCPUs under ``cpu_allocation_ratio`` still hold the flavor's vCPUs."""

    name = "CoreFilter"

    def __init__(self, ratio: float) -> None:
        self._ratio = ratio

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        return None if host.free_vcpus(self._ratio) >= request.vcpus else self._why(request)

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        ratio, wanted, why = self._ratio, request.vcpus, self._why(request)
        return lambda h: None if h.vcpus * ratio - h.vcpus_used >= wanted else why

    def _why(self, request: BuildRequest) -> str:
        return (f"have fewer than {request.vcpus} vCPUs free "
                f"(cpu_allocation_ratio {self._ratio:g})")


class ComputeFilter:
    """Keep hosts that are enabled and up (a heartbeat within ``service_down_time``, and not
    forced down)."""

    name = "ComputeFilter"

    def __init__(self, clock: Clock, down_time: float) -> None:
        self._clock = clock
        self._down_time = down_time

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        return self._verdict(host, self._clock.now().timestamp())

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        now = self._clock.now().timestamp()
        return lambda host: self._verdict(host, now)

    def _verdict(self, host: HostState, now: float) -> str | None:
        if not host.enabled:
            return "are disabled"
        if host.forced_down:
            return "are forced down (os-services)"
        if host.heartbeat_at is None or now - host.heartbeat_at > self._down_time:
            return f"are down (no heartbeat in {self._down_time:g} s)"
        return None


def _num(op: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    return lambda value, wanted: op(float(value), float(wanted))


def _str(op: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    return lambda value, wanted: op(value, wanted)


_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": _num(operator.ge), "==": _num(operator.eq), "!=": _num(operator.ne),
    ">=": _num(operator.ge), "<=": _num(operator.le),
    "s==": _str(operator.eq), "s!=": _str(operator.ne), "s<": _str(operator.lt),
    "s<=": _str(operator.le), "s>": _str(operator.gt), "s>=": _str(operator.ge),
    "<in>": lambda value, wanted: wanted in value,
}


def match_extra_spec(value: str | None, wanted: str) -> bool:
    """nova's extra-spec operators: ``= 4`` (at least), ``s== x``, ``<in> x``,
    ``<all-in> a b``, ``<or> a <or> b``; a bare value must be equal."""
    words = wanted.split()
    op = words[0] if words else ""
    if op not in _OPS and op not in ("<or>", "<all-in>"):
        return value == wanted
    if value is None or len(words) < 2:
        return False
    if op == "<or>":
        return value in words[1::2]
    if op == "<all-in>":
        return all(word in value for word in words[1:])
    try:
        return _OPS[op](value, words[1])
    except ValueError:  # "= 4" against a capability that is not a number
        return False


class ComputeCapabilitiesFilter:
    """Keep hosts whose capabilities satisfy the flavor's extra specs (``capabilities:`` scope
    or unscoped keys; keys of other scopes belong to other filters)."""

    name = "ComputeCapabilitiesFilter"

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        for key, wanted in request.extra_specs:
            scope, _, rest = key.partition(":")
            if rest and scope != "capabilities":
                continue
            path = rest if rest else key
            if not match_extra_spec(_capability(host, path), wanted):
                return f"do not satisfy extra spec {key}={wanted!r}"
        return None

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        return _bound(self, request) if request.extra_specs else None


def _capability(host: HostState, path: str) -> str | None:
    derived = {"hypervisor_type": host.capabilities.hypervisor_type,
               "hypervisor_version": host.capabilities.hypervisor_version,
               "vcpus": host.vcpus, "memory_mb": host.memory_mb,
               "free_ram_mb": host.memory_mb - host.memory_mb_used, "disk_gb": host.disk_gb}
    if path in derived:
        value = derived[path]
        return None if value is None else str(value)
    return host.capabilities.lookup(path)


_VERSION_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt,
                "<": operator.lt, "!=": operator.ne}


def _version_ok(host_version: int | None, required: str | None) -> bool:
    """``img_hv_requested_version`` like ``>=6.0`` against nova's integer version (6000000)."""
    if not required or host_version is None:
        return True
    text = required.strip()
    op = next((o for o in sorted(_VERSION_OPS, key=len, reverse=True) if text.startswith(o)),
              ">=")
    number = text[len(op):].strip() if text.startswith(op) else text
    parts = [int(p) for p in number.split(".") if p.isdigit()]
    wanted = parts[0] if len(parts) == 1 and "." not in number else \
        sum(p * 1000 ** (2 - i) for i, p in enumerate(parts[:3]))
    return _VERSION_OPS[op](host_version, wanted)


class ImagePropertiesFilter:
    """Keep hosts that can run the image's architecture, hypervisor type, vm mode and
    hypervisor version (``hw_architecture``, ``img_hv_type``, ``hw_vm_mode``,
    ``img_hv_requested_version``)."""

    name = "ImagePropertiesFilter"

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        props = request.image_properties
        wanted = (props.architecture, props.hypervisor_type, props.vm_mode)
        if not any(wanted) and not props.hypervisor_version_requires:
            return None
        caps = host.capabilities
        if not _version_ok(caps.hypervisor_version, props.hypervisor_version_requires):
            return f"have a hypervisor version outside {props.hypervisor_version_requires}"
        if not any(wanted):
            return None
        if not caps.supported_instances:
            return "report no supported instance types"
        arch, hv, mode = (w.lower() if w else None for w in wanted)
        for s in caps.supported_instances:
            if ((arch is None or s.architecture == arch) and (hv is None or s.hypervisor_type == hv)
                    and (mode is None or s.vm_mode == mode)):
                return None
        shown = "/".join(w for w in wanted if w)
        return f"cannot run images of {shown}"

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        props = request.image_properties
        wanted = (props.architecture, props.hypervisor_type, props.vm_mode,
                  props.hypervisor_version_requires)
        return _bound(self, request) if any(wanted) else None


class PciPassthroughFilter:
    """Keep hosts whose free device pools hold every PCI request (nova §2.2, §3.3)."""

    name = "PciPassthroughFilter"

    def check(self, host: HostState, request: BuildRequest) -> str | None:
        if not request.pci_requests:
            return None
        if _quick_pass(host, request):
            return None
        short = shortfall_on_host(host, request)
        if short is None:
            return None
        return short.reason + _unhealthy_note(host, request)

    def prepare(self, request: BuildRequest) -> HostCheck | None:
        return _bound(self, request) if request.pci_requests else None


def _numa_contexts(host: HostState, request: BuildRequest) -> tuple[NumaContext | None, ...]:
    """The NUMA placements to try: none when the guest has no NUMA topology; the request's
    nodes when given; for ``hw:numa_nodes`` = N, every choice of N of the host's nodes
    (made once per host state and request shape)."""
    if request.numa_nodes is None and request.guest_numa_cells is None:
        return (None,)
    shape = request.numa_nodes if request.numa_nodes is not None else request.guest_numa_cells
    known = host.numa_choices.get(shape)
    if known is not None:
        return known  # type: ignore[return-value]
    sockets = dict(host.numa_sockets) if host.numa_sockets is not None else None
    if request.numa_nodes is not None:
        made: tuple[NumaContext | None, ...] = (NumaContext(request.numa_nodes, sockets),)
    else:
        nodes = sorted(set(sockets or ()) | host.pool_set.numa_nodes)
        made = tuple(NumaContext(frozenset(chosen), sockets) for chosen in
                     itertools.combinations(nodes, request.guest_numa_cells or 0))
    if len(host.numa_choices) < 16:
        host.numa_choices[shape] = made
    return made


def fit_on_host(host: HostState, request: BuildRequest) -> Fit | Shortfall:
    """Fit the request's PCI requests on the host's pools, trying each NUMA placement of
    the guest (``hw:numa_nodes``) in turn; the first fit, or the first placement's shortfall."""
    first: Shortfall | None = None
    for numa in _numa_contexts(host, request):
        fit = fit_prepared(host.pool_set, request.pci_requests, numa)
        if isinstance(fit, Fit):
            return fit
        first = first or fit
    return first or _too_few_nodes(request)


def shortfall_on_host(host: HostState, request: BuildRequest) -> Shortfall | None:
    """``fit_on_host``'s shortfall, or None when it would fit (no plan is made)."""
    first: Shortfall | None = None
    for numa in _numa_contexts(host, request):
        short = shortfall_of(host.pool_set, request.pci_requests, numa)
        if short is None:
            return None
        first = first or short
    return first or _too_few_nodes(request)


def _too_few_nodes(request: BuildRequest) -> Shortfall:
    return Shortfall(request.pci_requests[0],
                     f"have fewer than {request.guest_numa_cells} NUMA nodes (hw:numa_nodes)")


def _unhealthy_note(host: HostState, request: BuildRequest) -> str:
    """" (7 more are unhealthy: their PF's link is down)" when devices the request could use
    are held back as unhealthy; "" otherwise."""
    physnets = {r.physnet.lower() if r.physnet else None for r in request.pci_requests}
    held = sum(n for physnet, n in host.unhealthy if physnet in physnets)
    if not held:
        return ""
    return f" ({held} more {'is' if held == 1 else 'are'} unhealthy: their PF's link is down)"


def _quick_pass(host: HostState, request: BuildRequest) -> bool:
    """One request for any vendor, no NUMA: the index's per-physnet totals decide. VFs of
    one physnet never exclude each other and a PF with a held VF is not counted free."""
    if host.pci_totals is None or request.numa_nodes is not None or len(request.pci_requests) != 1:
        return False
    if request.guest_numa_cells is not None:
        return False
    (wanted,) = request.pci_requests
    if wanted.vendor_id or wanted.product_id or wanted.any_physnet:
        return False
    physnet = wanted.physnet.lower() if wanted.physnet else None
    return host.pci_totals.get((wanted.dev_type, physnet), 0) >= wanted.count


_BUILDERS: dict[str, Callable[[SchedulerConfig, Clock], HostFilter]] = {
    "RetryFilter": lambda c, k: RetryFilter(),
    "AvailabilityZoneFilter": lambda c, k: AvailabilityZoneFilter(),
    "RamFilter": lambda c, k: RamFilter(c.ram_allocation_ratio),
    "ComputeFilter": lambda c, k: ComputeFilter(k, c.service_down_time),
    "ComputeCapabilitiesFilter": lambda c, k: ComputeCapabilitiesFilter(),
    "ImagePropertiesFilter": lambda c, k: ImagePropertiesFilter(),
    "CoreFilter": lambda c, k: CoreFilter(c.cpu_allocation_ratio),
    "PciPassthroughFilter": lambda c, k: PciPassthroughFilter(),
}

FILTER_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_filters(config: SchedulerConfig, clock: Clock) -> tuple[HostFilter, ...]:
    """The configured filters, in order. Names may be bare (``RamFilter``) or nova's dotted
    paths (``nova.scheduler.filters.ram_filter.RamFilter``).

    Raises ConfigError naming the option, the unknown name and the names we know.
    """
    filters: list[HostFilter] = []
    for raw in config.enabled_filters:
        name = raw.strip().rsplit(".", 1)[-1]
        builder = _BUILDERS.get(name)
        if builder is None:
            close = difflib.get_close_matches(name, FILTER_NAMES, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(f"unknown scheduler filter {raw.strip()!r}",
                              option=config.filters_origin, value=raw,
                              fix=f"{hint}known filters: {', '.join(FILTER_NAMES)}")
        filters.append(builder(config, clock))
    return tuple(filters)
