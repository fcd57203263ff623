"""Cross-file checks: each one with a minimal failing deployment; the chapter's files pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.conf.check import Finding, Severity, check_files

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "chapter"

GOOD = {
    "nova-controller.conf": "[DEFAULT]\nscheduler_available_filters="
    "nova.scheduler.filters.all_filters\nscheduler_default_filters=RetryFilter,"
    "AvailabilityZoneFilter,RamFilter,ComputeFilter,ComputeCapabilitiesFilter,"
    "ImagePropertiesFilter,CoreFilter, PciPassthroughFilter\n",
    "ml2_conf.ini": "[ml2]\ntenant_network_types = vlan\ntype_drivers = vlan\n"
    "mechanism_drivers = openvswitch, sriovnicswitch\n[ml2_type_vlan]\n"
    "network_vlan_ranges = physnet1:15:20\n",
    "ml2_conf_sriov.ini": "[ml2_sriov]\nagent_required = True\n"
    "supported_pci_vendor_devs = 15b3:1004,8086:10ca\n",
    "nova-compute.conf": '[DEFAULT]\npci_passthrough_whitelist = {"devname": "enp11s0f1", '
    '"physical_network": "physnet1"}\n',
    "sriov_agent.ini": "[sriov_nic]\nphysical_device_mappings = physnet1:enp11s0f1\n"
    "exclude_devices =\n",
    "openvswitch_agent.ini": "[securitygroup]\nfirewall_driver = "
    "neutron.agent.firewall.NoopFirewallDriver\n",
}


def deploy(tmp_path: Path, **changes: str | None) -> list[Path]:
    """Write GOOD with some files replaced (name with '-'→'_' and '.'→'__') or dropped."""
    files = dict(GOOD)
    for key, text in changes.items():
        name = next(n for n in GOOD if n.replace("-", "_").replace(".", "__") == key)
        if text is None:
            del files[name]
        else:
            files[name] = text
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [tmp_path / name for name in files]


def only(findings: list[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.severity is severity]


def test_good_deployment_is_clean(tmp_path):
    assert check_files(deploy(tmp_path)) == []


def test_chapter_examples_are_clean():
    assert check_files(sorted(EXAMPLES.glob("*/*"))) == []


SPEC = '[DEFAULT]\npci_passthrough_whitelist = {}\n'
CASES = [
    # (changes, severity, file, section, option, words in the message)
    (dict(nova_compute__conf=SPEC.replace("{}", '{"devname": "enp11s0f1", '
                                                    '"physical_network": "physnet9"}')),
     "error", "nova-compute.conf", "DEFAULT", "pci_passthrough_whitelist",
     "'physnet9' is in no VLAN range"),
    (dict(nova_compute__conf=SPEC.replace("{}", '{"devname": "enp11s0f1", '
                                          '"physical_network": "physnet9"}')),
     "error", "nova-compute.conf", "DEFAULT", "pci_passthrough_whitelist",
     "'physnet9' has no PF"),
    (dict(nova_compute__conf=SPEC.replace("{}", '{"devname": "enp5s0f1", '
                                          '"physical_network": "physnet1"}')),
     "error", "nova-compute.conf", "DEFAULT", "pci_passthrough_whitelist",
     "'enp5s0f1' is not a PF the SR-IOV agent manages"),
    (dict(sriov_agent__ini="[sriov_nic]\nphysical_device_mappings = physnet1:enp11s0f1,"
          "physnet2:enp11s0f0\n", nova_compute__conf=SPEC.replace(
              "{}", '{"devname": "enp11s0f0", "physical_network": "physnet1"}')),
     "error", "nova-compute.conf", "DEFAULT", "pci_passthrough_whitelist",
     "mapped to 'physnet2'"),
    (dict(nova_compute__conf=SPEC.replace("{}", '{"vendor_id": "8086", "product_id": "10zz"}')),
     "error", "nova-compute.conf", "DEFAULT", "pci_passthrough_whitelist", "10zz"),
    (dict(nova_compute__conf="[pci]\ndevice_spec = not json\n"),
     "error", "nova-compute.conf", "pci", "device_spec", "not json"),
    (dict(nova_controller__conf="[DEFAULT]\nscheduler_default_filters=RetryFilter,"
          "ComputeFilter\n"),
     "error", "nova-controller.conf", "DEFAULT", "scheduler_default_filters",
     "PciPassthroughFilter is missing"),
    (dict(nova_controller__conf="[filter_scheduler]\nenabled_filters=ComputeFilter,"
          "PciPasthroughFilter,PciPassthroughFilter\n"),
     "error", "nova-controller.conf", "filter_scheduler", "enabled_filters",
     "'PciPasthroughFilter' is not a nova filter"),
    (dict(nova_controller__conf="[DEFAULT]\nscheduler_available_filters=my.filters.Only\n"
          "scheduler_default_filters=PciPassthroughFilter\n"),
     "error", "nova-controller.conf", "DEFAULT", "scheduler_available_filters",
     "not among the available filters"),
    (dict(nova_controller__conf="[DEFAULT]\nscheduler_available_filters=all filters\n"
          "scheduler_default_filters=PciPassthroughFilter\n"),
     "error", "nova-controller.conf", "DEFAULT", "scheduler_available_filters",
     "not a filter class path"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace(", sriovnicswitch", "")),
     "error", "ml2_conf.ini", "ml2", "mechanism_drivers", "sriovnicswitch is missing"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("type_drivers = vlan",
                                                     "type_drivers = vxlan")),
     "error", "ml2_conf.ini", "ml2", "type_drivers", "neither vlan nor flat"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("tenant_network_types = vlan",
                                                     "tenant_network_types = vxlan")),
     "error", "ml2_conf.ini", "ml2", "tenant_network_types", "'vxlan' is not in type_drivers"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("physnet1:15:20", "physnet1:20:15")),
     "error", "ml2_conf.ini", "ml2_type_vlan", "network_vlan_ranges", "less than its start"),
    (dict(sriov_agent__ini="[sriov_nic]\nphysical_device_mappings = physnet1\n"),
     "error", "sriov_agent.ini", "sriov_nic", "physical_device_mappings", "invalid mapping"),
    # 20.6's own example: eth1/eth2 are not mapped.
    (dict(sriov_agent__ini=GOOD["sriov_agent.ini"].replace(
        "exclude_devices =", "exclude_devices = eth1:0000:07:00.2; 0000:07:00.3, "
        "eth2:0000:05:00.1; 0000:05:00.2")),
     "error", "sriov_agent.ini", "sriov_nic", "exclude_devices", "'eth1' is missing"),
    (dict(sriov_agent__ini=GOOD["sriov_agent.ini"].replace(
        "exclude_devices =", "exclude_devices = enp11s0f1:0000:0b:10.9")),
     "error", "sriov_agent.ini", "sriov_nic", "exclude_devices", "is not a PCI address"),
    (dict(ml2_conf_sriov__ini="[ml2_sriov]\nagent_required = maybe\n"),
     "error", "ml2_conf_sriov.ini", "ml2_sriov", "agent_required", "'maybe'"),
    (dict(ml2_conf_sriov__ini="[ml2_sriov]\nsupported_pci_vendor_devs = 8086-10ca\n"),
     "error", "ml2_conf_sriov.ini", "ml2_sriov", "supported_pci_vendor_devs", "8086-10ca"),
    # warnings
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("physnet1:15:20",
                                                     "physnet1:15:20,physnet2:30:40")),
     "warning", "ml2_conf.ini", "ml2_type_vlan", "network_vlan_ranges",
     "no whitelist entry is tagged 'physnet2'"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("physnet1:15:20",
                                                     "physnet1:15:20,physnet2:30:40")),
     "warning", "ml2_conf.ini", "ml2_type_vlan", "network_vlan_ranges",
     "no PF is mapped to 'physnet2'"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("openvswitch, ", "")),
     "warning", "ml2_conf.ini", "ml2", "mechanism_drivers", "only mechanism driver"),
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("type_drivers = vlan",
                                                     "type_drivers = flat,vlan\n"
                                                     "[ml2_type_flat]\nflat_networks = ext")),
     "warning", "ml2_conf.ini", "ml2_type_flat", "flat_networks",
     "no whitelist entry is tagged 'ext'"),
    (dict(openvswitch_agent__ini="[securitygroup]\nfirewall_driver = iptables_hybrid\n"),
     "warning", "openvswitch_agent.ini", "securitygroup", "firewall_driver",
     "'iptables_hybrid'"),
    # 20.5's second example: product 10ac is not the VF's 10ca.
    (dict(nova_compute__conf=SPEC.replace("{}", '{"vendor_id": "8086","product_id": "10ac", '
                                          '"physical_network":"physnet1"}')),
     "warning", "ml2_conf_sriov.ini", "ml2_sriov", "supported_pci_vendor_devs",
     "names 8086:10ac"),
    (dict(nova_controller__conf=None),
     "warning", None, "filter_scheduler", "enabled_filters", "lacks PciPassthroughFilter"),
]


@pytest.mark.parametrize("changes, severity, file, section, option, words", CASES)
def test_each_check_names_file_section_option(tmp_path, changes, severity, file, section,
                                              option, words):
    findings = check_files(deploy(tmp_path, **changes))
    hits = [f for f in findings if words in f.message
            and (f.file and Path(f.file).name, f.section, f.option) == (file, section, option)]
    assert hits, "\n".join(map(str, findings))
    assert hits[0].severity.value == severity and hits[0].fix


def test_warnings_and_errors_are_all_reported_not_just_the_first(tmp_path):
    files = deploy(tmp_path, ml2_conf__ini=GOOD["ml2_conf.ini"].replace(
        ", sriovnicswitch", "").replace("tenant_network_types = vlan",
                                        "tenant_network_types = vxlan"),
        ml2_conf_sriov__ini="[ml2_sriov]\nagent_required = maybe\n",
        openvswitch_agent__ini="[securitygroup]\nfirewall_driver = iptables\n")
    findings = check_files(files)
    assert len(only(findings, Severity.ERROR)) == 3
    assert len(only(findings, Severity.WARNING)) == 1


def test_checks_only_what_was_given(tmp_path):
    # A compute node alone: nothing about ML2, only the default-filters warning.
    files = deploy(tmp_path, nova_controller__conf=None, ml2_conf__ini=None,
                   ml2_conf_sriov__ini=None)
    findings = check_files(files)
    assert [f.option for f in findings] == ["enabled_filters"]
    assert findings[0].severity is Severity.WARNING and findings[0].file is None


def test_unfixed_chapter_produces_the_expected_findings(tmp_path):
    # The chapter's files as printed (ML2 options in one file, as 20.3 says).
    texts = {
        "nova-controller.conf": GOOD["nova-controller.conf"],
        "ml2.ini": GOOD["ml2_conf.ini"] + GOOD["ml2_conf_sriov.ini"],
        "nova.conf": '[DEFAULT]\npci_passthrough_whitelist={"devname": "enp5s0f1", '
        '"physical_network":"physnet1"}\npci_passthrough_whitelist = {"vendor_id": "8086",'
        '"product_id": "10ac", "physical_network":"physnet1"}\n',
        "sriov_agent.ini": "[sriov_nic]\nphysical_device_mappings = physnet1:enp4s0f1\n"
        "exclude_devices = eth1:0000:07:00.2; 0000:07:00.3, eth2:0000:05:00.1; 0000:05:00.2\n",
        "openvswitch_agent.ini": GOOD["openvswitch_agent.ini"],
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    findings = check_files(sorted(tmp_path.iterdir()))
    summary = {(f.severity.value, Path(f.file).name, f.option) for f in findings}
    assert summary == {
        ("error", "sriov_agent.ini", "exclude_devices"),
        ("error", "nova.conf", "pci_passthrough_whitelist"),
        ("warning", "ml2.ini", "supported_pci_vendor_devs"),
    }
    assert any("enp5s0f1" in f.message for f in findings)


@pytest.mark.parametrize("changes, option", [
    (dict(ml2_conf__ini=GOOD["ml2_conf.ini"].replace("physnet1:15:20", "physnet1:15")),
     "network_vlan_ranges"),
    (dict(sriov_agent__ini="[sriov_nic]\nphysical_device_mappings = physnet1=enp11s0f1\n"),
     "physical_device_mappings"),
])
def test_a_bad_value_is_reported_once_not_again_by_the_checks_that_need_it(
        tmp_path, changes, option):
    findings = check_files(deploy(tmp_path, **changes))
    assert [f.option for f in findings] == [option]
