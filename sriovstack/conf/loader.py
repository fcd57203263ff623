"""Loading the chapter's config files with oslo.config into a typed DeploymentConfig."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oslo_config import cfg

from sriovstack.conf.model import (DatabaseConfig, DeploymentConfig, Ml2Config, NovaConfig,
                                   Origin, Setting, SpecLine, SriovAgentConfig)
from sriovstack.conf.options import OPTIONS, OptionName, names_of, register_options
from sriovstack.errors import ConfigError

__all__ = ["LoadResult", "load_config", "read_config", "load_nova_config", "load_ml2_config",
           "load_sriov_agent_config"]

PathLike = str | Path


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded configuration and every bad value met (each replaced by its default)."""

    config: DeploymentConfig
    problems: tuple[ConfigError, ...]


class _RawIndex:
    """Each file's raw ``{section: {option: [values]}}``, to say which file set what.

    oslo's ConfigOpts.get_location names the last file holding the *section*, even when
    that file does not set the option, so we locate values ourselves from the same parse.
    """

    def __init__(self, files: Sequence[str]) -> None:
        self._parsed: list[tuple[str, dict[str, dict[str, list[str]]]]] = []
        for name in files:
            sections: dict[str, dict[str, list[str]]] = {}
            try:
                cfg.ConfigParser(name, sections).parse()
            except cfg.ParseError as exc:
                raise ConfigError(f"not a valid ini file: {exc.msg} at line {exc.lineno}",
                                  file=name, fix="fix the line (section headers are "
                                  "[name], options are name = value)") from None
            except UnicodeDecodeError as exc:
                raise ConfigError(f"not a text file: byte {exc.start} is not UTF-8",
                                  file=name, fix="pass the ini file itself (UTF-8 text), "
                                  "not a binary or archive") from None
            self._parsed.append((name, sections))

    def _values(self, sections: dict[str, dict[str, list[str]]], name: OptionName
                ) -> list[str] | None:
        for section, options in sections.items():
            if _group(section) == name.section and name.option in options:
                return options[name.option]
        return None

    def locate(self, names: Sequence[OptionName]) -> tuple[Origin, str] | None:
        """The origin and raw text of the value that wins: the last file setting any name."""
        for file, sections in reversed(self._parsed):
            for name in names:
                values = self._values(sections, name)
                if values is not None:
                    return Origin(file, name.section, name.option), values[-1]
        return None

    def origin_of_line(self, names: Sequence[OptionName], text: str) -> Origin:
        """The first file line (under any of ``names``) whose value is ``text``."""
        for file, sections in self._parsed:
            for name in names:
                if text in (self._values(sections, name) or []):
                    return Origin(file, name.section, name.option)
        return Origin(None, names[0].section, names[0].option)


def _group(section: str) -> str:
    # As oslo reads them: group names ignore case, but only "[DEFAULT]" is the default group.
    return section if section == "DEFAULT" else section.lower()


@contextlib.contextmanager
def _quiet_oslo() -> Iterator[None]:
    # oslo logs each deprecated option name it meets; the chapter uses old names on purpose.
    logger = logging.getLogger("oslo_config.cfg")
    previous, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = previous


def _checked_files(files: Sequence[PathLike]) -> list[str]:
    if not files:
        raise ConfigError("no config files given", option="--config-file",
                          fix="name at least one file, e.g. /etc/nova/nova.conf")
    names = [str(Path(f)) for f in files]
    for name in names:
        if not Path(name).is_file():
            what = "is a directory" if Path(name).is_dir() else "does not exist"
            raise ConfigError(f"config file {what}", file=name,
                              fix="give the path of a readable ini file")
    return names


class _Reader:
    """Reads typed options off one ConfigOpts, collecting bad values instead of stopping."""

    def __init__(self, conf: cfg.ConfigOpts, index: _RawIndex) -> None:
        self._conf, self._index = conf, index
        self.problems: list[ConfigError] = []

    def setting(self, section: str, option: str) -> Setting[Any]:
        names = names_of(section, option)
        located = self._index.locate(names)
        origin = located[0] if located else Origin(None, section, option)
        group = self._conf if section == "DEFAULT" else getattr(self._conf, section)
        try:
            value = getattr(group, option)
        except cfg.ConfigFileValueError as exc:
            raw = located[1] if located else ""
            self.problems.append(ConfigError(
                f"bad value {raw!r}: {_reason(exc)}", file=origin.file, section=origin.section,
                option=origin.option, value=raw, fix=_fix_for(section, option)))
            value = _default(section, option)
        if isinstance(value, list):
            value = tuple(value)
        return Setting(value, origin)

    def spec_lines(self, option: str = "device_spec") -> tuple[SpecLine, ...]:
        names = names_of("pci", option)
        return tuple(SpecLine(text, self._index.origin_of_line(names, text))
                     for text in getattr(self._conf.pci, option))


def _reason(exc: cfg.ConfigFileValueError) -> str:
    return str(exc).rsplit("is not valid: ", 1)[-1]


def _default(section: str, option: str) -> Any:
    return next(opt.default for group, opt in OPTIONS if (group, opt.name) == (section, option))


def _fix_for(section: str, option: str) -> str:
    if (section, option) == ("ml2_sriov", "agent_required"):
        return "write True or False"
    if (section, option) == ("DEFAULT", "resize_confirm_window"):
        return "write a whole number of seconds, 0 or more (0: moves wait for the user)"
    if section == "database":
        return {"max_pool_size": "write a whole number of connections, 1 or more",
                "max_overflow": "write a whole number of connections, 0 or more",
                "pool_timeout": "write a whole number of seconds, 1 or more"}[option]
    if (section, option) == ("filter_scheduler", "host_subset_size"):
        return "write a whole number of hosts, 1 or more (1: always the best weighed host)"
    return f"see the documentation of [{section}] {option}"


def _build(reader: _Reader, files: Sequence[str]) -> DeploymentConfig:
    s = reader.setting
    nova = NovaConfig(reader.spec_lines(), s("filter_scheduler", "available_filters"),
                      s("filter_scheduler", "enabled_filters"),
                      s("DEFAULT", "allow_resize_to_same_host"),
                      s("DEFAULT", "resize_confirm_window"),
                      s("filter_scheduler", "host_subset_size"), reader.spec_lines("alias"))
    ml2 = Ml2Config(s("ml2", "type_drivers"), s("ml2", "tenant_network_types"),
                    s("ml2", "mechanism_drivers"), s("ml2_type_vlan", "network_vlan_ranges"),
                    s("ml2_type_flat", "flat_networks"), s("ml2_sriov", "agent_required"),
                    s("ml2_sriov", "supported_pci_vendor_devs"))
    agent = SriovAgentConfig(s("sriov_nic", "physical_device_mappings"),
                             s("sriov_nic", "exclude_devices"),
                             s("securitygroup", "firewall_driver"))
    database = DatabaseConfig(s("database", "max_pool_size"), s("database", "max_overflow"),
                              s("database", "pool_timeout"))
    return DeploymentConfig(tuple(files), nova, ml2, agent, database)


def read_config(files: Sequence[PathLike]) -> LoadResult:
    """Load ``files`` together (like several ``--config-file``s, later ones winning).

    Unknown sections and options are ignored. Bad option values are collected in
    ``problems`` (their defaults stand in); a missing or unparsable file raises ConfigError.
    """
    names = _checked_files(files)
    index = _RawIndex(names)
    conf = cfg.ConfigOpts()
    register_options(conf)
    args = [arg for name in names for arg in ("--config-file", name)]
    with _quiet_oslo():
        conf(args=args, project="sriovstack", default_config_files=[],
             default_config_dirs=[], use_env=False)
        reader = _Reader(conf, index)
        config = _build(reader, names)
    return LoadResult(config, tuple(reader.problems))


def load_config(files: Sequence[PathLike]) -> DeploymentConfig:
    """Load ``files`` into a DeploymentConfig; raises ConfigError for the first bad value."""
    result = read_config(files)
    if result.problems:
        raise result.problems[0]
    return result.config


def load_nova_config(files: Sequence[PathLike]) -> NovaConfig:
    """nova.conf options for nova-compute / the scheduler; raises ConfigError."""
    return load_config(files).nova


def load_ml2_config(files: Sequence[PathLike]) -> Ml2Config:
    """ML2 options for the network service; VLAN ranges and vendor pairs are parsed eagerly
    so a bad value stops the service at start. Raises ConfigError."""
    ml2 = load_config(files).ml2
    ml2.vlan_ranges()
    ml2.vendor_devs()
    return ml2


def load_sriov_agent_config(files: Sequence[PathLike]) -> SriovAgentConfig:
    """The SR-IOV NIC agent's options, mappings and exclusions parsed eagerly. Raises ConfigError."""
    agent = load_config(files).sriov_agent
    agent.excluded_vfs()
    return agent
