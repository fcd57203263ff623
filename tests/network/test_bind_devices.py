"""Binding several devices' ports in one transaction (``bind_devices``, a batch of builds,
issue 14), on SQLite and PostgreSQL: each device's ports end as ``bind_port`` leaves them,
and one device's refusal stops only that device."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from sriovstack.db import Database
from sriovstack.errors import Conflict, NotFound
from sriovstack.network import (BindingProfile, BindRefused, DeviceBinding, NetworkService,
                                NetworkSpec, PortSpec, ProviderSpec, SubnetSpec, VifType)
from sriovstack.pci.address import PciAddress
from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat, VnicType
from tests.network.conftest import ADMIN, ALICE, NOVA


def _vf(function: int) -> BindingProfile:
    return BindingProfile(PciAddress.parse(f"0000:07:00.{function}"), "8086:10ca", "physnet1")


@pytest.fixture
def ports(net: NetworkService) -> list[str]:
    """Five direct ports on VLAN 15 of physnet1, and a live NIC agent on compute-0 only."""
    network = net.networks.create(ADMIN, NetworkSpec(
        name="web", shared=True, provider=ProviderSpec("vlan", "physnet1", 15)))
    net.subnets.create(ADMIN, SubnetSpec(network_id=network.id, cidr="10.0.0.0/28"))
    net.record_heartbeat("compute-0", Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                                                device_mappings=(("physnet1", ("enp4s0f1",)),)))
    return [net.ports.create(ALICE, PortSpec(network_id=network.id,
                                             vnic_type=VnicType.DIRECT)).id for _ in range(5)]


def test_each_device_ends_as_bind_port_leaves_it(net: NetworkService,
                                                 ports: list[str]) -> None:
    alone, first, second = ports[:3]
    net.bind_port(alone, "compute-0", "vm-0", "compute:nova", _vf(1))
    assert net.bind_devices([
        DeviceBinding("compute-0", "vm-1", "compute:nova", ((first, _vf(2)),)),
        DeviceBinding("compute-0", "vm-2", "compute:nova", ((second, _vf(3)),)),
    ]) == [None, None]
    expected = net.get_port(NOVA, alone).binding
    for port_id, device, vf in ((first, "vm-1", _vf(2)), (second, "vm-2", _vf(3))):
        port = net.get_port(NOVA, port_id)
        assert port.device_id == device and port.device_owner == "compute:nova"
        assert port.binding.profile == vf
        assert (port.binding.host, port.binding.vif_type, port.binding.vif_details) == (
            expected.host, expected.vif_type, expected.vif_details)


def test_one_devices_refusal_stops_only_that_device(net: NetworkService,
                                                    ports: list[str]) -> None:
    """vm-1's second port belongs to vm-9: its first port stays bound, its third is not
    tried; vm-2's host has no NIC agent: its failed binding is stored, as bind_port stores
    it; vm-3 is bound; vm-4's port does not exist."""
    taken, first, later, failing, fine = ports
    net.bind_port(taken, "compute-0", "vm-9", "compute:nova", _vf(1))
    outcomes = net.bind_devices([
        DeviceBinding("compute-0", "vm-1", "compute:nova",
                      ((first, _vf(2)), (taken, _vf(3)), (later, _vf(4)))),
        DeviceBinding("compute-5", "vm-2", "compute:nova", ((failing, _vf(5)),)),
        DeviceBinding("compute-0", "vm-3", "compute:nova", ((fine, _vf(6)),)),
        DeviceBinding("compute-0", "vm-4", "compute:nova", (("no-such-port", _vf(7)),)),
    ])
    in_use, refused, bound, missing = outcomes
    assert isinstance(in_use, BindRefused) and in_use.port_id == taken
    assert isinstance(in_use.error, Conflict) and in_use.error.kind == "PortInUse"
    assert net.get_port(NOVA, first).device_id == "vm-1"
    assert net.get_port(NOVA, taken).device_id == "vm-9"
    assert net.get_port(NOVA, later).binding.vif_type is VifType.UNBOUND
    assert isinstance(refused, BindRefused) and refused.error.kind == "PortBindingFailed"
    stored = net.get_port(NOVA, failing).binding
    assert stored.vif_type is VifType.BINDING_FAILED and stored.failure is not None
    assert stored.failure in str(refused.error)
    assert bound is None and net.get_port(NOVA, fine).binding.vif_type is VifType.HW_VEB
    assert isinstance(missing, BindRefused) and isinstance(missing.error, NotFound)


def test_the_hosts_agents_and_the_networks_are_read_once_per_call(
        net: NetworkService, database: Database) -> None:
    """Devices on two hosts, their ports on two VLANs: the reads are the same three
    (the ports locked, the hosts' agents, the networks) as for one device, and each port
    ends as ``bind_port`` leaves it on its host and network."""
    mappings = (("physnet1", ("enp4s0f1",)),)
    for host in ("compute-0", "compute-1"):
        net.record_heartbeat(host, Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                                             device_mappings=mappings))
    networks = [net.networks.create(ADMIN, NetworkSpec(
        name=f"net{n}", shared=True, provider=ProviderSpec("vlan", "physnet1", 14 + n))).id
        for n in (1, 2)]
    for network_id in networks:
        net.subnets.create(ADMIN, SubnetSpec(network_id=network_id, cidr="10.0.0.0/28"))

    def port(n: int) -> str:
        return net.ports.create(ALICE, PortSpec(network_id=networks[n % 2],
                                                vnic_type=VnicType.DIRECT)).id

    def profile(n: int) -> BindingProfile:
        return BindingProfile(PciAddress.parse(f"0000:07:00.{n}"), "8086:10ca", "physnet1")

    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    alone = port(0)
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert net.bind_devices([DeviceBinding("compute-0", "vm-0", "compute:nova",
                                               ((alone, profile(0)),))]) == [None]
        one = len(reads)
        ports = [port(n) for n in range(1, 5)]
        reads.clear()
        assert net.bind_devices([
            DeviceBinding(f"compute-{n % 2}", f"vm-{n}", "compute:nova", ((p, profile(n)),))
            for n, p in enumerate(ports, start=1)]) == [None] * 4
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert len(reads) == one == 3
    for n, port_id in enumerate(ports, start=1):
        reference = port(n)
        net.bind_port(reference, f"compute-{n % 2}", f"ref-{n}", "compute:nova", profile(n))
        got, want = net.get_port(NOVA, port_id), net.get_port(NOVA, reference)
        assert got.binding.vif_type is VifType.HW_VEB
        assert (got.binding.host, got.binding.vif_type, got.binding.vif_details) == (
            want.binding.host, want.binding.vif_type, want.binding.vif_details)

