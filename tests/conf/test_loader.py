"""Loading several --config-files with oslo.config into typed settings that know their file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.compute.scheduler.model import scheduler_config
from sriovstack.conf.loader import (load_config, load_ml2_config, load_sriov_agent_config,
                                    read_config)
from sriovstack.conf.parsers import VlanRange
from sriovstack.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chapter"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


WHITELIST_NAMES = [
    ("DEFAULT", "pci_passthrough_whitelist"),   # the chapter (Juno-Newton)
    ("pci", "passthrough_whitelist"),           # Ocata
    ("pci", "device_spec"),                     # Zed
]


@pytest.mark.parametrize("section, option", WHITELIST_NAMES)
def test_each_whitelist_name_feeds_device_specs(tmp_path, section, option):
    spec = '{"devname": "enp11s0f1", "physical_network": "physnet1"}'
    path = write(tmp_path, "nova.conf", f"[{section}]\n{option} = {spec}\n")
    (line,) = load_config([path]).nova.device_specs
    assert line.text == spec
    assert (line.origin.file, line.origin.section, line.origin.option) == (
        str(path), section, option)


def test_all_three_whitelist_names_merge_in_one_list_with_their_files(tmp_path):
    a = write(tmp_path, "a.conf", '[DEFAULT]\npci_passthrough_whitelist = {"a": "1"}\n')
    b = write(tmp_path, "b.conf", '[pci]\npassthrough_whitelist = {"b": "2"}\n'
                                  'device_spec = {"c": "3"}\ndevice_spec = {"d": "4"}\n')
    lines = load_config([a, b]).nova.device_specs
    assert sorted(line.text for line in lines) == [
        '{"a": "1"}', '{"b": "2"}', '{"c": "3"}', '{"d": "4"}']
    files = {line.text: (Path(line.origin.file).name, line.origin.option) for line in lines}
    assert files['{"a": "1"}'] == ("a.conf", "pci_passthrough_whitelist")
    assert files['{"d": "4"}'] == ("b.conf", "device_spec")


def test_chapter_lists_with_spaces_after_commas_are_stripped(tmp_path):
    path = write(tmp_path, "x.ini", "[ml2]\nmechanism_drivers = openvswitch, sriovnicswitch\n"
                 "[DEFAULT]\nscheduler_default_filters=RetryFilter,CoreFilter, "
                 "PciPassthroughFilter\n")
    config = load_config([path])
    assert config.ml2.mechanism_drivers.value == ("openvswitch", "sriovnicswitch")
    assert config.nova.enabled_filters.value == (
        "RetryFilter", "CoreFilter", "PciPassthroughFilter")
    assert config.nova.enabled_filters.origin.option == "scheduler_default_filters"


def test_new_filter_names_are_read_too(tmp_path):
    path = write(tmp_path, "nova.conf", "[filter_scheduler]\nenabled_filters = "
                 "ComputeFilter,PciPassthroughFilter\navailable_filters = my.pkg.Filter\n")
    nova = load_config([path]).nova
    assert nova.enabled_filters.value == ("ComputeFilter", "PciPassthroughFilter")
    assert nova.available_filters.value == ("my.pkg.Filter",)


def test_later_file_wins_and_origin_names_it_even_if_a_later_file_has_the_section(tmp_path):
    a = write(tmp_path, "a.ini", "[ml2]\ntype_drivers = vlan\n[ml2_sriov]\nagent_required = no\n")
    b = write(tmp_path, "b.ini", "[ml2]\ntype_drivers = flat,vlan\n[ml2_sriov]\n")
    ml2 = load_config([a, b]).ml2
    assert ml2.type_drivers.value == ("flat", "vlan")
    assert ml2.type_drivers.origin.file == str(b)
    # oslo's get_location would say b.ini here: b has [ml2_sriov] but not the option.
    assert ml2.agent_required.value is False and ml2.agent_required.origin.file == str(a)


def test_unknown_sections_and_options_are_ignored(tmp_path):
    path = write(tmp_path, "neutron.conf", "[DEFAULT]\ncore_plugin = ml2\nverbose = yes\n"
                 "[database]\nconnection = mysql://x\n[ml2]\nunknown_knob = 1\n")
    config = load_config([path])
    assert config.ml2.type_drivers.is_set is False


def test_defaults_when_nothing_is_set(tmp_path):
    config = load_config([write(tmp_path, "empty.conf", "")])
    assert config.nova.device_specs == ()
    assert config.ml2.agent_required.value is True
    assert config.ml2.supported_pci_vendor_devs.value is None   # no vendor check (Newton+)
    assert config.ml2.flat_networks.value == ("*",)
    assert "PciPassthroughFilter" not in config.nova.enabled_filters.value
    assert config.sriov_agent.firewall_driver.value is None


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_boolean_names_file_section_option_value(tmp_path, value):
    path = write(tmp_path, "ml2_conf_sriov.ini", f"[ml2_sriov]\nagent_required = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    err = exc.value
    assert (err.file, err.section, err.option, err.value) == (
        str(path), "ml2_sriov", "agent_required", value)
    assert str(path) in str(err) and "[ml2_sriov] agent_required" in str(err)
    assert "True or False" in str(err)


def test_read_config_collects_bad_values_instead_of_stopping(tmp_path):
    path = write(tmp_path, "x.ini", "[ml2_sriov]\nagent_required = maybe\n[ml2]\n"
                 "type_drivers = vlan\n")
    result = read_config([path])
    assert len(result.problems) == 1
    assert result.config.ml2.type_drivers.value == ("vlan",)


def test_missing_file_is_named(tmp_path):
    present = write(tmp_path, "a.conf", "")
    missing = tmp_path / "nope.conf"
    with pytest.raises(ConfigError) as exc:
        load_config([present, missing])
    assert exc.value.file == str(missing) and "does not exist" in str(exc.value)


def test_directory_and_no_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config([tmp_path])
    with pytest.raises(ConfigError, match="no config files"):
        load_config([])


def test_not_an_ini_file_is_named(tmp_path):
    path = write(tmp_path, "bad.conf", "[ml2\ntype_drivers = vlan\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    assert exc.value.file == str(path) and "line 1" in str(exc.value)


def test_role_loaders_parse_eagerly(tmp_path):
    good = sorted(EXAMPLES.glob("*/*"))
    assert load_ml2_config(good).vlan_ranges() == {"physnet1": (VlanRange(15, 20),)}
    agent = load_sriov_agent_config(good)
    assert agent.excluded_vfs() == {}
    bad = write(tmp_path, "sriov_agent.ini", "[sriov_nic]\nphysical_device_mappings = p:eth0\n"
                "exclude_devices = eth1:0000:07:00.2\n")
    with pytest.raises(ConfigError) as exc:
        load_sriov_agent_config([bad])
    assert exc.value.file == str(bad) and exc.value.option == "exclude_devices"
    bad_ranges = write(tmp_path, "ml2.ini", "[ml2_type_vlan]\nnetwork_vlan_ranges = p:20:15\n")
    with pytest.raises(ConfigError) as exc:
        load_ml2_config([bad_ranges])
    assert exc.value.file == str(bad_ranges)


def test_chapter_examples_load_as_the_chapter_wrote_them():
    config = load_config(sorted(EXAMPLES.glob("*/*")))
    assert config.ml2.mechanism_drivers.value == ("openvswitch", "sriovnicswitch")
    assert config.ml2.network_vlan_ranges.value == ("physnet1:15:20",)
    assert config.ml2.agent_required.value is True
    assert config.ml2.supported_pci_vendor_devs.value == ("15b3:1004", "8086:10ca")
    assert config.nova.enabled_filters.value[-1] == "PciPassthroughFilter"
    assert len(config.nova.device_specs) == 2
    assert config.sriov_agent.physical_device_mappings.value == ("physnet1:enp11s0f1",)
    assert config.sriov_agent.exclude_devices.value == ()
    assert config.sriov_agent.firewall_driver.value.endswith("NoopFirewallDriver")


def test_section_names_are_read_as_oslo_reads_them(tmp_path):
    path = write(tmp_path, "x.conf", "[ML2]\ntype_drivers = flat\n"
                 "[default]\nscheduler_default_filters = PciPassthroughFilter\n")
    config = load_config([path])
    assert config.ml2.type_drivers.value == ("flat",)
    assert config.ml2.type_drivers.origin.file == str(path)
    # oslo takes only [DEFAULT] as the default group: [default] is an unknown section.
    assert config.nova.enabled_filters.is_set is False


def test_resize_confirm_window_is_read_from_nova_conf_and_reaches_the_scheduler(tmp_path):
    assert load_config([write(tmp_path, "empty.conf", "")]).nova.resize_confirm_window.value == 0
    path = write(tmp_path, "nova.conf", "[DEFAULT]\nresize_confirm_window = 3600\n")
    config = load_config([path])
    assert config.nova.resize_confirm_window.value == 3600
    assert scheduler_config(config).resize_confirm_window == 3600


@pytest.mark.parametrize("value", ["-1", "soon", "1.5"])
def test_a_bad_resize_confirm_window_names_the_option(tmp_path, value):
    path = write(tmp_path, "nova.conf", f"[DEFAULT]\nresize_confirm_window = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    err = exc.value
    assert (err.file, err.section, err.option, err.value) == (
        str(path), "DEFAULT", "resize_confirm_window", value)
    assert "whole number of seconds" in str(err)


def test_host_subset_size_is_read_under_both_names_and_reaches_the_scheduler(tmp_path):
    assert scheduler_config(load_config([write(tmp_path, "empty.conf", "")])).host_subset_size == 1
    path = write(tmp_path, "nova.conf", "[filter_scheduler]\nhost_subset_size = 4\n")
    assert scheduler_config(load_config([path])).host_subset_size == 4
    old = write(tmp_path, "old.conf", "[DEFAULT]\nscheduler_host_subset_size = 3\n")
    assert scheduler_config(load_config([old])).host_subset_size == 3


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_host_subset_size_names_the_option(tmp_path, value):
    path = write(tmp_path, "nova.conf", f"[filter_scheduler]\nhost_subset_size = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    err = exc.value
    assert (err.file, err.section, err.option, err.value) == (
        str(path), "filter_scheduler", "host_subset_size", value)
    assert "1 or more" in str(err)


def test_database_pool_options_are_read_with_oslo_db_names_and_reach_the_engine(
        tmp_path, postgres_url):
    from sriovstack.cli.api import ServeOptions, _build
    from sriovstack.db import Database
    migrated = Database(postgres_url)  # the session's database may be empty, or not
    migrated.create_schema()
    migrated.dispose()
    assert load_config([write(tmp_path, "empty.conf", "")]).database.max_pool_size.value == 20
    path = write(tmp_path, "nova.conf",
                 "[database]\nmax_pool_size = 7\nmax_overflow = 3\npool_timeout = 9\n")
    database = load_config([path]).database
    assert (database.max_pool_size.value, database.max_overflow.value,
            database.pool_timeout.value) == (7, 3, 9)
    app = _build(ServeOptions(postgres_url, "http://test", (str(path),),
                              image_dir=str(tmp_path / "images")))
    pool = app.state.services.db.engine.pool
    try:
        assert (pool.size(), pool._max_overflow, pool._timeout) == (7, 3, 9)
    finally:
        app.state.services.db.dispose()


@pytest.mark.parametrize(("option", "value", "words"), [
    ("max_pool_size", "0", "1 or more"), ("max_overflow", "-1", "0 or more"),
    ("pool_timeout", "soon", "whole number of seconds")])
def test_a_bad_database_pool_option_names_the_option(tmp_path, option, value, words):
    path = write(tmp_path, "nova.conf", f"[database]\n{option} = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load_config([path])
    err = exc.value
    assert (err.file, err.section, err.option, err.value) == (str(path), "database", option, value)
    assert words in str(err)
