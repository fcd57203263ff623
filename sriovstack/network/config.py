"""The ML2 settings the network service runs with, checked once at start (20.3)."""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.conf import DeploymentConfig, Ml2Config
from sriovstack.errors import ConfigError

__all__ = ["Ml2Settings", "MECHANISM_DRIVERS", "ml2_settings", "ml2_settings_for"]

MECHANISM_DRIVERS = ("openvswitch", "sriovnicswitch")
_TYPE_DRIVERS = ("flat", "vlan")
# Listed by neutron's default type_drivers; accepted in the list, never usable here.
_KNOWN_UNIMPLEMENTED = ("local", "gre", "vxlan", "geneve")
AGENT_DOWN_TIME = 75  # seconds: neutron's [DEFAULT] agent_down_time default


@dataclass(frozen=True, slots=True)
class Ml2Settings:
    """ML2 options as typed values. ``vlan_ranges`` keeps configuration order (physnet first
    seen first); a physnet with an empty range tuple is usable by provider networks only.

    ``tenant_network_types`` may name upstream types we do not implement (``local``, the
    oslo default): the service starts, and a project network request then gets a 503 that
    names the option, rather than the whole API refusing to start."""

    type_drivers: tuple[str, ...] = ("flat", "vlan")
    tenant_network_types: tuple[str, ...] = ("vlan",)
    mechanism_drivers: tuple[str, ...] = ("openvswitch", "sriovnicswitch")
    vlan_ranges: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()
    flat_networks: tuple[str, ...] = ("*",)
    agent_required: bool = True
    supported_pci_vendor_devs: tuple[str, ...] | None = None
    agent_down_time: int = AGENT_DOWN_TIME
    mtu: int = 1500

    def __post_init__(self) -> None:
        _check(self)

    @property
    def vlan_physnets(self) -> tuple[str, ...]:
        return tuple(physnet for physnet, _ in self.vlan_ranges)

    def ranges_of(self, physnet: str) -> tuple[tuple[int, int], ...]:
        return dict(self.vlan_ranges).get(physnet, ())

    def flat_allowed(self, physnet: str) -> bool:
        return "*" in self.flat_networks or physnet in self.flat_networks


def _fail(option: str, section: str, value: str, message: str, fix: str) -> ConfigError:
    return ConfigError(message, fix=fix, section=section, option=option, value=value)


def _check(s: Ml2Settings) -> None:
    for name in s.type_drivers:
        if name not in _TYPE_DRIVERS + _KNOWN_UNIMPLEMENTED:
            raise _fail("type_drivers", "ml2", name, f"unknown type driver {name!r}",
                        "use flat and/or vlan")
    for name in s.tenant_network_types:
        if name not in _TYPE_DRIVERS + _KNOWN_UNIMPLEMENTED:
            raise _fail("tenant_network_types", "ml2", name, f"unknown network type {name!r}",
                        "use vlan")
        if name not in s.type_drivers:
            raise _fail("tenant_network_types", "ml2", name,
                        f"{name!r} is not in [ml2] type_drivers", f"add {name} to type_drivers")
    for name in s.mechanism_drivers:
        if name not in MECHANISM_DRIVERS:
            raise _fail("mechanism_drivers", "ml2", name, f"unknown mechanism driver {name!r}",
                        "use openvswitch and/or sriovnicswitch")
    if s.agent_down_time <= 0:
        raise _fail("agent_down_time", "DEFAULT", str(s.agent_down_time),
                    "agent_down_time must be positive", "use e.g. 75 (seconds)")


def ml2_settings(conf: Ml2Config, *, agent_down_time: int = AGENT_DOWN_TIME) -> Ml2Settings:
    """Typed settings from the loaded ml2 files; raises ConfigError naming the file/option.

    The loader's bare physnet means 1–4094; we keep that (neutron since Wallaby).
    """
    ranges = tuple((physnet, tuple(r.as_tuple() for r in rs))
                   for physnet, rs in conf.vlan_ranges().items())
    vendors = conf.vendor_devs()
    try:
        return Ml2Settings(
            type_drivers=tuple(conf.type_drivers.value),
            tenant_network_types=tuple(conf.tenant_network_types.value),
            mechanism_drivers=tuple(conf.mechanism_drivers.value),
            vlan_ranges=ranges,
            flat_networks=tuple(conf.flat_networks.value),
            agent_required=bool(conf.agent_required.value),
            supported_pci_vendor_devs=None if vendors is None else tuple(map(str, vendors)),
            agent_down_time=agent_down_time)
    except ConfigError as err:
        raise ConfigError(err.message, fix=err.fix, file=_file_of(conf, err.option),
                          section=err.section, option=err.option, value=err.value) from err


def _file_of(conf: Ml2Config, option: str | None) -> str | None:
    setting = getattr(conf, option or "", None)
    return None if setting is None else setting.origin.file


def ml2_settings_for(deployment: DeploymentConfig | None) -> Ml2Settings:
    """The settings of a loaded deployment, or the defaults (no VLAN ranges) without one."""
    return Ml2Settings() if deployment is None else ml2_settings(deployment.ml2)
