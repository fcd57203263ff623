"""The oslo.config options sriovstack reads from the chapter's files, with their old names."""

from __future__ import annotations

from dataclasses import dataclass

from oslo_config import cfg

from sriovstack.conf.nova_filters import ALL_FILTERS

__all__ = ["OptionName", "OPTIONS", "names_of", "register_options"]

DEFAULT = "DEFAULT"

# Nova's default enabled_filters (no PciPassthroughFilter: the chapter's 20.4 adds it).
NOVA_DEFAULT_FILTERS = [
    "ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter", "ServerGroupAffinityFilter",
]


@dataclass(frozen=True, slots=True)
class OptionName:
    """An option as it is written in a file: ``[section] option``."""

    section: str
    option: str

    def __str__(self) -> str:
        return f"[{self.section}] {self.option}"


def _deprecated(*names: tuple[str, str]) -> list[cfg.DeprecatedOpt]:
    return [cfg.DeprecatedOpt(option, group=section) for section, option in names]


# (group, opt). Defaults follow current nova/neutron except where the chapter needs a
# distinction: supported_pci_vendor_devs defaults to None ("no vendor check", Newton+).
OPTIONS: tuple[tuple[str, cfg.Opt], ...] = (
    # nova: [DEFAULT] pci_passthrough_whitelist -> [pci] passthrough_whitelist (Ocata)
    #       -> [pci] device_spec (Zed); all three feed one list (20.5).
    ("pci", cfg.MultiStrOpt("device_spec", default=[], deprecated_opts=_deprecated(
        ("pci", "passthrough_whitelist"), (DEFAULT, "pci_passthrough_whitelist")))),
    # nova: [DEFAULT] pci_alias -> [pci] alias (Newton): flavors' pci_passthrough:alias names.
    ("pci", cfg.MultiStrOpt("alias", default=[], deprecated_opts=_deprecated(
        (DEFAULT, "pci_alias")))),
    # nova scheduler (20.4): the [DEFAULT] scheduler_* names are the chapter's.
    ("filter_scheduler", cfg.MultiStrOpt("available_filters", default=[ALL_FILTERS],
        deprecated_opts=_deprecated((DEFAULT, "scheduler_available_filters")))),
    ("filter_scheduler", cfg.ListOpt("enabled_filters", default=NOVA_DEFAULT_FILTERS,
        deprecated_opts=_deprecated((DEFAULT, "scheduler_default_filters")))),
    # nova: choose at random among the best N weighed hosts (1: the best), so concurrent
    # decisions spread; nova's old name was [DEFAULT] scheduler_host_subset_size
    ("filter_scheduler", cfg.IntOpt("host_subset_size", default=1, min=1,
        deprecated_opts=_deprecated((DEFAULT, "scheduler_host_subset_size")))),
    # nova: may a resize (or cold migration) land on the server's own host
    (DEFAULT, cfg.BoolOpt("allow_resize_to_same_host", default=False)),
    # nova: seconds a resize/cold migration waits in VERIFY_RESIZE before the periodic task
    # confirms it (0: never)
    (DEFAULT, cfg.IntOpt("resize_confirm_window", default=0, min=0)),
    # neutron ML2 (20.3)
    ("ml2", cfg.ListOpt("type_drivers",
                        default=["local", "flat", "vlan", "gre", "vxlan", "geneve"])),
    ("ml2", cfg.ListOpt("tenant_network_types", default=["local"])),
    ("ml2", cfg.ListOpt("mechanism_drivers", default=[])),
    ("ml2_type_vlan", cfg.ListOpt("network_vlan_ranges", default=[])),
    ("ml2_type_flat", cfg.ListOpt("flat_networks", default=["*"])),
    ("ml2_sriov", cfg.BoolOpt("agent_required", default=True)),
    ("ml2_sriov", cfg.ListOpt("supported_pci_vendor_devs", default=None)),
    # neutron SR-IOV NIC agent (20.6)
    ("sriov_nic", cfg.ListOpt("physical_device_mappings", default=[])),
    ("sriov_nic", cfg.ListOpt("exclude_devices", default=[])),
    ("securitygroup", cfg.StrOpt("firewall_driver", default=None)),
    # oslo.db's [database] pool options, as nova and neutron read them.  Each API worker keeps
    # up to max_pool_size connections open between requests; up to max_overflow more are
    # opened under a burst and closed when returned, so each forks a PostgreSQL backend anew
    # (oslo.db's defaults, 5 and 50, did so for every transaction past the fifth in flight).
    # None by default: a transaction past the pool's waits up to pool_timeout for a connection.
    ("database", cfg.IntOpt("max_pool_size", default=20, min=1)),
    ("database", cfg.IntOpt("max_overflow", default=0, min=0)),
    ("database", cfg.IntOpt("pool_timeout", default=30, min=1)),
)


def names_of(section: str, option: str) -> tuple[OptionName, ...]:
    """The option's current name first, then every deprecated name that also sets it."""
    for group, opt in OPTIONS:
        if group == section and opt.name == option:
            old = tuple(OptionName(d.group or DEFAULT, d.name) for d in opt.deprecated_opts)
            return (OptionName(section, option),) + old
    raise KeyError(f"[{section}] {option}")


def register_options(conf: cfg.ConfigOpts) -> None:
    """Register every option on a fresh ConfigOpts (never the global CONF)."""
    for group, opt in OPTIONS:
        conf.register_opt(opt, group=None if group == DEFAULT else group)
