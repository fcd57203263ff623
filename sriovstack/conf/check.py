"""Cross-file validation of a deployment's config: every problem, each with where and a fix."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sriovstack.conf.loader import read_config
from sriovstack.conf.model import DeploymentConfig, Origin, Setting
from sriovstack.conf.nova_filters import (ALL_FILTERS, KNOWN_FILTERS, is_filter_path,
                                          suggest_filter)
from sriovstack.conf.parsers import DeviceMapping, VendorProduct, VlanRange
from sriovstack.conf.whitelist import SpecFacts, spec_facts
from sriovstack.errors import ConfigError
from sriovstack.pci import NO_HOST, DeviceProbe, parse_device_specs

__all__ = ["Severity", "Finding", "check_files", "check_config"]

SRIOV_DRIVER = "sriovnicswitch"
SRIOV_NETWORK_TYPES = ("flat", "vlan")  # the only segments sriovnicswitch binds (20.3)
NOOP_FIREWALLS = frozenset({"noop", "neutron.agent.firewall.NoopFirewallDriver"})

T = TypeVar("T")


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: how bad, where (file, section, option), what is wrong, what would fix it.

    ``file`` is None when no given file set the option (its default is the problem).
    """

    severity: Severity
    file: str | None
    section: str
    option: str
    message: str
    fix: str

    @classmethod
    def at(cls, origin: Origin, severity: Severity, message: str, fix: str) -> "Finding":
        return cls(severity, origin.file, origin.section, origin.option, message, fix)

    @classmethod
    def from_error(cls, err: ConfigError, origin: Origin) -> "Finding":
        return cls(Severity.ERROR, err.file or origin.file, err.section or origin.section,
                   err.option or origin.option, err.message, err.fix or "")

    def __str__(self) -> str:
        where = self.file or "(no file sets it)"
        return (f"{self.severity.value}: {where}: [{self.section}] {self.option}: "
                f"{self.message} (fix: {self.fix})")


@dataclass(frozen=True, slots=True)
class _Facts:
    """The deployment with each grammar parsed once; None where parsing failed (reported)."""

    config: DeploymentConfig
    vlan_ranges: dict[str, tuple[VlanRange, ...]] | None
    mappings: tuple[DeviceMapping, ...] | None
    vendor_devs: tuple[VendorProduct, ...] | None
    specs: tuple[SpecFacts, ...]

    @property
    def ml2_given(self) -> bool:
        m = self.config.ml2
        return any(s.is_set for s in (m.type_drivers, m.tenant_network_types,
                                      m.mechanism_drivers, m.network_vlan_ranges))

    @property
    def agent_given(self) -> bool:
        """The agent's mappings were set and parsed (a parse error is reported once, not
        again as every physnet lacking a PF)."""
        return (self.config.sriov_agent.physical_device_mappings.is_set
                and self.mappings is not None)

    def mapped_physnets(self) -> set[str]:
        return {m.physnet for m in self.mappings or ()}

    def network_physnets(self) -> set[str] | None:
        """Physnets flat/VLAN networks can use; None means any (flat_networks = *)."""
        ml2 = self.config.ml2
        physnets: set[str] = set()
        if "vlan" in ml2.type_drivers.value:
            if self.vlan_ranges is None:
                return None  # unparsable ranges are reported once, not per physnet
            physnets |= set(self.vlan_ranges)
        if "flat" in ml2.type_drivers.value:
            if "*" in ml2.flat_networks.value:
                return None
            physnets |= set(ml2.flat_networks.value)
        return physnets


def _parsed(parse: Callable[[], T], origin: Origin, out: list[Finding]) -> T | None:
    try:
        return parse()
    except ConfigError as err:
        out.append(Finding.from_error(err, origin))
        return None


def _gather(config: DeploymentConfig, host: DeviceProbe, out: list[Finding]) -> _Facts:
    ml2, agent = config.ml2, config.sriov_agent
    vlan = _parsed(ml2.vlan_ranges, ml2.network_vlan_ranges.origin, out)
    vendors = _parsed(ml2.vendor_devs, ml2.supported_pci_vendor_devs.origin, out)
    mappings = _parsed(agent.device_mappings, agent.physical_device_mappings.origin, out)
    if mappings is not None:
        _parsed(agent.excluded_vfs, agent.exclude_devices.origin, out)
    _check_spec_grammar(config, host, out)
    specs = tuple(f for line in config.nova.device_specs for f in spec_facts(line))
    return _Facts(config, vlan, mappings, vendors, specs)


def _check_spec_grammar(config: DeploymentConfig, host: DeviceProbe,
                        out: list[Finding]) -> None:
    for line in config.nova.device_specs:
        origin = line.origin
        try:
            parse_device_specs([line.text], host, file=origin.file,
                               option=f"[{origin.section}] {origin.option}")
        except ConfigError as err:
            out.append(Finding.at(origin, Severity.ERROR, err.message, err.fix or
                                  'write one JSON object per line (20.5), e.g. {"devname": '
                                  '"enp11s0f1", "physical_network": "physnet1"}'))


# --- nova scheduler (20.4) -------------------------------------------------------------------

def _check_filters(facts: _Facts) -> Iterator[Finding]:
    nova = facts.config.nova
    enabled, available = nova.enabled_filters, nova.available_filters
    if not enabled.is_set:
        if facts.specs:
            yield Finding.at(enabled.origin, Severity.WARNING,
                             "no file sets the enabled filters and nova's default list lacks "
                             "PciPassthroughFilter", "set it in the controller's nova.conf "
                             "(20.4), ending the list with PciPassthroughFilter")
        return
    provided = {path.rsplit(".", 1)[-1] for path in available.value}
    open_all = ALL_FILTERS in available.value
    for name in enabled.value:
        yield from _check_filter_name(name, enabled, open_all, provided, available.origin)
    if "PciPassthroughFilter" not in enabled.value:
        yield Finding.at(enabled.origin, Severity.ERROR,
                         "PciPassthroughFilter is missing: instances would land on hosts "
                         "without free VFs", "append PciPassthroughFilter to the list (20.4)")
    for path in available.value:
        if path != ALL_FILTERS and not is_filter_path(path):
            yield Finding.at(available.origin, Severity.ERROR,
                             f"{path!r} is not a filter class path",
                             f"use {ALL_FILTERS} or package.module.FilterClass")


def _check_filter_name(name: str, enabled: Setting[tuple[str, ...]], open_all: bool,
                       provided: set[str], available: Origin) -> Iterator[Finding]:
    if not name:
        yield Finding.at(enabled.origin, Severity.ERROR, "empty filter name in the list",
                         "remove the stray comma")
    elif name not in KNOWN_FILTERS and name not in provided:
        hint = suggest_filter(name)
        yield Finding.at(enabled.origin, Severity.ERROR, f"{name!r} is not a nova filter",
                         f"did you mean {hint}?" if hint else
                         "name a filter class from nova.scheduler.filters")
    elif not open_all and name not in provided:
        yield Finding.at(available, Severity.ERROR,
                         f"enabled filter {name!r} is not among the available filters",
                         f"add {ALL_FILTERS} (20.4) or the filter's class path")


# --- ML2 (20.3) ------------------------------------------------------------------------------

def _check_ml2(facts: _Facts) -> Iterator[Finding]:
    if not facts.ml2_given:
        return
    ml2 = facts.config.ml2
    mechanisms, types = ml2.mechanism_drivers, ml2.type_drivers
    if SRIOV_DRIVER not in mechanisms.value:
        yield Finding.at(mechanisms.origin, Severity.ERROR, f"{SRIOV_DRIVER} is missing: "
                         "no port of vnic_type direct can be bound",
                         "write mechanism_drivers = openvswitch, sriovnicswitch (20.3)")
    elif len(mechanisms.value) == 1:
        yield Finding.at(mechanisms.origin, Severity.WARNING, f"{SRIOV_DRIVER} is the only "
                         "mechanism driver: DHCP ports cannot be bound (20.3 note)",
                         "add openvswitch before sriovnicswitch")
    if not any(t in types.value for t in SRIOV_NETWORK_TYPES):
        yield Finding.at(types.origin, Severity.ERROR, f"type_drivers {list(types.value)} "
                         "has neither vlan nor flat, the only types sriovnicswitch binds",
                         "add vlan (and/or flat) to type_drivers")
    for tenant_type in ml2.tenant_network_types.value:
        if tenant_type not in types.value:
            yield Finding.at(ml2.tenant_network_types.origin, Severity.ERROR,
                             f"tenant network type {tenant_type!r} is not in type_drivers "
                             f"{list(types.value)}", f"add {tenant_type} to type_drivers or "
                             "drop it from tenant_network_types")
    if ml2.network_vlan_ranges.value and "vlan" not in types.value:
        yield Finding.at(ml2.network_vlan_ranges.origin, Severity.WARNING,
                         "VLAN ranges are set but type_drivers lacks vlan, so they are unused",
                         "add vlan to [ml2] type_drivers")


# --- whitelist against the network and the agent ---------------------------------------------

def _check_spec_physnets(facts: _Facts) -> Iterator[Finding]:
    usable = facts.network_physnets() if facts.ml2_given else None
    mapped = {m.netdev: m.physnet for m in facts.mappings or ()}
    for spec in facts.specs:
        physnet, origin = spec.physical_network, spec.line.origin
        if physnet is None:
            continue
        if usable is not None and physnet not in usable:
            yield Finding.at(origin, Severity.ERROR, f"whitelist physnet {physnet!r} is in "
                             "no VLAN range and no flat_networks entry",
                             f"add {physnet} to [ml2_type_vlan] network_vlan_ranges "
                             f"(e.g. {physnet}:15:20) or correct the tag")
        if facts.agent_given and physnet not in facts.mapped_physnets():
            yield Finding.at(origin, Severity.ERROR, f"whitelist physnet {physnet!r} has no "
                             "PF in [sriov_nic] physical_device_mappings",
                             f"map a PF to it, e.g. {physnet}:enp11s0f1")
        if facts.agent_given and spec.devname is not None:
            yield from _check_devname(spec, physnet, mapped)


def _check_devname(spec: SpecFacts, physnet: str, mapped: dict[str, str]) -> Iterator[Finding]:
    devname, origin = spec.devname, spec.line.origin
    if devname not in mapped:
        yield Finding.at(origin, Severity.ERROR, f"devname {devname!r} is not a PF the SR-IOV "
                         f"agent manages (mapped: {sorted(mapped)})",
                         "use the same PF netdev in the whitelist and physical_device_mappings")
    elif mapped[devname] != physnet:
        yield Finding.at(origin, Severity.ERROR, f"devname {devname!r} is tagged {physnet!r} "
                         f"but mapped to {mapped[devname]!r} by the agent",
                         "tag the entry with the physnet the agent maps that PF to")


def _check_network_physnets(facts: _Facts) -> Iterator[Finding]:
    if not facts.ml2_given or not (facts.specs or facts.agent_given):
        return
    ml2 = facts.config.ml2
    tagged = {s.physical_network for s in facts.specs}
    served: list[tuple[str, Origin]] = []
    if "vlan" in ml2.type_drivers.value:
        served += [(p, ml2.network_vlan_ranges.origin) for p in facts.vlan_ranges or ()]
    if "flat" in ml2.type_drivers.value:
        served += [(p, ml2.flat_networks.origin) for p in ml2.flat_networks.value if p != "*"]
    for physnet, origin in served:
        if facts.specs and physnet not in tagged:
            yield Finding.at(origin, Severity.WARNING, f"no whitelist entry is tagged "
                             f"{physnet!r}: instances get no VF on its networks",
                             f'add a whitelist entry with "physical_network": "{physnet}"')
        if facts.agent_given and physnet not in facts.mapped_physnets():
            yield Finding.at(origin, Severity.WARNING, f"no PF is mapped to {physnet!r}: "
                             "sriovnicswitch cannot bind direct ports on its networks",
                             f"add {physnet}:<pf netdev> to physical_device_mappings")


# --- agent and vendor list -------------------------------------------------------------------

def _check_firewall(facts: _Facts) -> Iterator[Finding]:
    firewall = facts.config.sriov_agent.firewall_driver
    if firewall.value is not None and firewall.value not in NOOP_FIREWALLS:
        yield Finding.at(firewall.origin, Severity.WARNING, f"firewall driver "
                         f"{firewall.value!r}: security groups are not applied to SR-IOV "
                         "ports (20.9)", "set neutron.agent.firewall.NoopFirewallDriver (20.6)")


def _check_vendor_devs(facts: _Facts) -> Iterator[Finding]:
    if facts.vendor_devs is None:
        return
    setting = facts.config.ml2.supported_pci_vendor_devs
    allowed = set(facts.vendor_devs)
    for spec in facts.specs:
        if spec.vendor_id is None or spec.product_id is None:
            continue
        pair = VendorProduct(spec.vendor_id, spec.product_id)
        if pair not in allowed:
            yield Finding.at(setting.origin, Severity.WARNING, f"whitelist entry in "
                             f"{spec.line.origin} names {pair}, which this list does not allow:"
                             " sriovnicswitch will refuse to bind its VFs",
                             f"add {pair} here, or correct the whitelist's ids "
                             "(lspci -nn shows the VF's [vendor:product])")


_CHECKS = (_check_filters, _check_ml2, _check_spec_physnets, _check_network_physnets,
           _check_firewall, _check_vendor_devs)


def check_config(config: DeploymentConfig, *, host: DeviceProbe = NO_HOST) -> list[Finding]:
    """Every problem in a loaded deployment, errors and warnings, in a stable order; device
    specs resolved with ``host`` (NO_HOST: grammar only)."""
    findings: list[Finding] = []
    facts = _gather(config, host, findings)
    for check in _CHECKS:
        findings.extend(check(facts))
    return findings


def check_files(files: Sequence[str | Path], *, host: DeviceProbe = NO_HOST) -> list[Finding]:
    """Load ``files`` together and return every problem, bad option values included.

    Raises ConfigError only when a file is missing or is not an ini file.
    """
    result = read_config(files)
    findings = [Finding.from_error(err, Origin(err.file, err.section or "", err.option or ""))
                for err in result.problems]
    return findings + check_config(result.config, host=host)
