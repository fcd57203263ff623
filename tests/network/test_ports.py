"""Ports on a real database: addresses, the 20.9 rules for direct ports, security groups,
policy, binding through the drivers, device up/down, and what compute asks of a port."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.db.models import SubnetRow
from sriovstack.errors import Conflict, Forbidden, Invalid, NotFound, NotSupported
from sriovstack.mac import MacAddress
from sriovstack.network import (BindingProfile, FixedIpRequest, NetworkService, NetworkSpec,
                                PortSpec, PortUpdate, ProviderSpec, SubnetSpec, VifType)
from sriovstack.wire import PortStatus
from sriovstack.wire import VnicType
from sriovstack.pci.address import PciAddress
from sriovstack.wire import NIC_AGENT_TYPE, Heartbeat
from tests.network.conftest import ADMIN, ALICE, BOB, NOVA
from tests.statements import recorded

VF = BindingProfile(PciAddress.parse("0000:07:00.2"), "8086:10ca", "physnet1")


@pytest.fixture
def web(net: NetworkService) -> tuple[str, str]:
    """The chapter's network: VLAN 15 on physnet1 with one /24 (network id, subnet id)."""
    network = net.networks.create(ADMIN, NetworkSpec(
        name="web", shared=True, provider=ProviderSpec("vlan", "physnet1", 15)))
    subnet = net.subnets.create(ADMIN, SubnetSpec(network_id=network.id, cidr="10.0.0.0/29"))
    return network.id, subnet.id


def _sriov_agent(net: NetworkService, host: str = "compute-0",
                 physnet: str = "physnet1") -> None:
    net.record_heartbeat(host, Heartbeat(NIC_AGENT_TYPE, "neutron-sriov-nic-agent",
                                         device_mappings=((physnet, ("enp4s0f1",)),)))


def test_a_new_direct_port_is_down_unbound_with_mac_and_ip(net: NetworkService,
                                                           web: tuple[str, str]) -> None:
    port = net.ports.create(ALICE, PortSpec(network_id=web[0], name="sr-iov",
                                            vnic_type=VnicType.DIRECT))
    assert re.fullmatch(r"fa:16:3e(:[0-9a-f]{2}){3}", str(port.mac))
    assert port.status is PortStatus.DOWN and port.binding.vif_type is VifType.UNBOUND
    assert [(ip.subnet_id, ip.ip_address) for ip in port.fixed_ips] == [(web[1], "10.0.0.2")]
    assert port.vnic_type is VnicType.DIRECT  # not "normal", as the chapter's output shows
    assert port.security_group_ids == () and port.port_security_enabled is False
    assert port.project_id == ALICE.project_id


def test_normal_ports_get_the_projects_default_group(net: NetworkService,
                                                     web: tuple[str, str]) -> None:
    port = net.ports.create(ALICE, PortSpec(network_id=web[0]))
    groups = net.security_groups.list(ALICE)
    assert [g.name for g in groups] == ["default"]
    assert port.security_group_ids == (groups[0].id,) and port.port_security_enabled
    assert {(r.direction, r.ethertype, r.remote_group_id) for r in groups[0].rules} == {
        ("egress", "IPv4", None), ("egress", "IPv6", None),
        ("ingress", "IPv4", groups[0].id), ("ingress", "IPv6", groups[0].id)}
    by_name = net.ports.create(ALICE, PortSpec(network_id=web[0], security_groups=("default",)))
    assert by_name.security_group_ids == (groups[0].id,)


@pytest.mark.parametrize("vnic", [VnicType.DIRECT, VnicType.DIRECT_PHYSICAL])
def test_direct_ports_refuse_security_groups_and_port_security(
        net: NetworkService, web: tuple[str, str], vnic: VnicType) -> None:
    with pytest.raises(NotSupported, match="20.9") as err:
        net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=vnic,
                                         security_groups=("default",)))
    assert err.value.field == "security_groups"
    with pytest.raises(NotSupported, match="port_security_enabled"):
        net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=vnic,
                                         port_security_enabled=True))
    port = net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=vnic,
                                            security_groups=()))
    with pytest.raises(NotSupported):
        net.ports.update(ALICE, port.id, PortUpdate(security_groups=("default",)))


def test_macvtap_is_refused(net: NetworkService, web: tuple[str, str]) -> None:
    with pytest.raises(NotSupported, match="macvtap") as err:
        net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=VnicType.MACVTAP))
    assert err.value.field == "binding:vnic_type"


def test_tenants_may_not_set_binding_host_or_profile(net: NetworkService,
                                                     web: tuple[str, str]) -> None:
    with pytest.raises(Forbidden):
        net.ports.create(ALICE, PortSpec(network_id=web[0], profile=BindingProfile()))
    port = net.ports.create(ALICE, PortSpec(network_id=web[0]))
    with pytest.raises(Forbidden):
        net.ports.update(ALICE, port.id, PortUpdate(host="compute-0"))


def test_fixed_ips_given_taken_and_exhausted(net: NetworkService, web: tuple[str, str]) -> None:
    network_id, subnet_id = web
    mine = net.ports.create(ALICE, PortSpec(network_id=network_id, fixed_ips=(
        FixedIpRequest(subnet_id=subnet_id, ip_address="10.0.0.5"),)))
    assert mine.fixed_ips[0].ip_address == "10.0.0.5"
    with pytest.raises(Conflict) as err:
        net.ports.create(ALICE, PortSpec(network_id=network_id, fixed_ips=(
            FixedIpRequest(ip_address="10.0.0.5"),)))
    assert err.value.kind == "IpAddressAlreadyAllocated"
    with pytest.raises(Invalid) as bad:
        net.ports.create(ALICE, PortSpec(network_id=network_id, fixed_ips=(
            FixedIpRequest(ip_address="10.9.9.9"),)))
    assert bad.value.kind == "InvalidIpForNetwork"
    for _ in range(4):  # /29 without gateway and .5: .2 .3 .4 .6 left
        net.ports.create(ALICE, PortSpec(network_id=network_id))
    with pytest.raises(Conflict) as full:
        net.ports.create(ALICE, PortSpec(network_id=network_id))
    assert full.value.kind == "IpAddressGenerationFailure"
    assert net.ports.create(ALICE, PortSpec(network_id=network_id, fixed_ips=())).fixed_ips == ()


def test_addresses_go_on_after_the_last_one_given_out_and_come_back_after_a_round(
        net: NetworkService, web: tuple[str, str]) -> None:
    network_id, subnet_id = web  # a /29: .2 to .6

    def address(fixed: tuple[FixedIpRequest, ...] | None = None) -> str:
        port = net.ports.create(ALICE, PortSpec(network_id=network_id, fixed_ips=fixed))
        return port.fixed_ips[0].ip_address.rsplit(".", 1)[1]

    first = net.ports.create(ALICE, PortSpec(network_id=network_id))
    assert (first.fixed_ips[0].ip_address, address()) == ("10.0.0.2", "3")
    net.ports.delete(ALICE, first.id)
    assert address((FixedIpRequest(subnet_id=subnet_id, ip_address="10.0.0.5"),)) == "5"
    # .2 is free again but behind the cursor; .5 is held: .4, .6, then round to .2
    assert [address(), address(), address()] == ["4", "6", "2"]
    with pytest.raises(Conflict) as full:
        address()
    assert full.value.kind == "IpAddressGenerationFailure"


def test_a_port_create_reads_no_more_as_its_subnet_fills(net: NetworkService,
                                                         database: Database) -> None:
    # Each create read every address its subnet held, under the subnet's lock (132 ms at
    # 50,000 ports on PostgreSQL); it reads the few after the subnet's cursor now.
    network = net.networks.create(ADMIN, NetworkSpec(
        name="big", shared=True, provider=ProviderSpec("vlan", "physnet1", 16)))
    net.subnets.create(ADMIN, SubnetSpec(network_id=network.id, cidr="10.1.0.0/24"))
    rows = [0]

    def count(_conn: object, cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            rows[0] += max(getattr(cursor, "rowcount", 0), 0)  # PostgreSQL's; SQLite's is -1

    def one_create() -> int:
        rows[0] = 0
        event.listen(database.engine, "after_cursor_execute", count)
        try:
            net.ports.create(ALICE, PortSpec(network_id=network.id))
        finally:
            event.remove(database.engine, "after_cursor_execute", count)
        return rows[0]

    for _ in range(5):
        net.ports.create(ALICE, PortSpec(network_id=network.id))
    early = one_create()
    for _ in range(150):
        net.ports.create(ALICE, PortSpec(network_id=network.id))
    assert one_create() == early


def test_a_subnet_upgraded_without_a_cursor_gives_the_address_after_its_crowded_start(
        net: NetworkService, database: Database) -> None:
    # Migration 0026 leaves every subnet's cursor NULL: the first create walks from the
    # pools' start, past more held addresses than its few looks ahead, then reads them all.
    network = net.networks.create(ADMIN, NetworkSpec(
        name="old", shared=True, provider=ProviderSpec("vlan", "physnet1", 17)))
    subnet = net.subnets.create(ADMIN, SubnetSpec(network_id=network.id, cidr="10.2.0.0/22"))
    held = net.ports.create(ADMIN, PortSpec(network_id=network.id, fixed_ips=tuple(
        FixedIpRequest(subnet_id=subnet.id, ip_address=f"10.2.{n // 256}.{n % 256}")
        for n in range(2, 602))))
    assert len(held.fixed_ips) == 600
    with database.transaction() as s:
        s.get(SubnetRow, subnet.id).ip_cursor = None  # as the upgrade left it
    port = net.ports.create(ALICE, PortSpec(network_id=network.id))
    assert port.fixed_ips[0].ip_address == "10.2.2.90"  # the 601st of the pool: 2 + 600


def test_mac_in_use_on_the_network_is_409(net: NetworkService, web: tuple[str, str]) -> None:
    made = net.ports.create(ALICE, PortSpec(network_id=web[0],
                                            mac=MacAddress.parse("fa:16:3e:00:00:01")))
    assert made.mac == MacAddress("fa:16:3e:00:00:01")
    with pytest.raises(Conflict) as err:
        net.ports.create(ALICE, PortSpec(network_id=web[0],
                                         mac=MacAddress.parse("FA-16-3E-00-00-01")))
    assert err.value.kind == "MacAddressInUse"
    for refused in ("01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):
        with pytest.raises(Invalid, match="not a valid unicast MAC address") as bad:
            net.ports.create(ALICE, PortSpec(network_id=web[0], mac=MacAddress(refused)))
        assert bad.value.field == "mac_address"


def test_bulk_create_is_all_or_nothing(net: NetworkService, web: tuple[str, str]) -> None:
    made = net.ports.create_many(ALICE, [PortSpec(network_id=web[0]),
                                         PortSpec(network_id=web[0])])
    assert len({p.mac for p in made}) == 2
    with pytest.raises(NotFound):
        net.ports.create_many(ALICE, [PortSpec(network_id=web[0]),
                                      PortSpec(network_id="nope")])
    assert len(net.ports.list(ALICE)) == 2


def test_other_projects_ports_are_not_found(net: NetworkService, web: tuple[str, str]) -> None:
    port = net.ports.create(ALICE, PortSpec(network_id=web[0]))
    with pytest.raises(NotFound) as err:
        net.ports.get(BOB, port.id)
    assert err.value.kind == "PortNotFound"
    assert net.ports.list(BOB) == [] and len(net.ports.list(ADMIN)) == 1


def test_the_chapters_boot_binds_hw_veb_then_the_agent_makes_it_active(
        net: NetworkService, web: tuple[str, str], database: Database) -> None:
    _sriov_agent(net)
    port = net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=VnicType.DIRECT))
    request = net.port_request(NOVA, port.id)
    assert (request.physnet, request.segmentation_id, request.vnic_type) == (
        "physnet1", 15, VnicType.DIRECT)
    with database.transaction() as session:
        (asked,) = net.requested_ports(session, NOVA, [port.id])
    assert (asked.request, asked.network_id, asked.mac, asked.fixed_ips) == (
        request, port.network_id, port.mac, port.fixed_ips)
    assert net.bind_port(port.id, "compute-0", "vm-1", "compute:nova", VF) is None
    bound = net.get_port(NOVA, port.id)
    assert (bound.binding.host, bound.device_id) == ("compute-0", "vm-1")
    assert bound.binding.vif_type is VifType.HW_VEB
    assert dict(bound.binding.vif_details) == {"port_filter": False, "vlan": "15"}
    assert bound.binding.profile == VF and bound.status is PortStatus.DOWN
    with pytest.raises(Conflict) as in_use:
        net.port_request(NOVA, port.id)
    assert in_use.value.kind == "PortInUse"
    up = net.set_device_status("compute-0", port.mac, VF.pci_slot, True)
    assert up.status is PortStatus.ACTIVE
    # The agent's report answers what the port says, without rendering it: a read and an
    # UPDATE, each committed on its own on PostgreSQL (no BEGIN, no COMMIT).
    with recorded(database.engine) as ran:
        assert net.report_device("compute-0", port.mac, VF.pci_slot, False) == (
            port.id, PortStatus.DOWN)
    assert len(ran) == 2 and ran[1].statement.startswith("UPDATE net_ports"), ran
    assert [r.in_transaction for r in ran][1] is (database.dialect != "postgresql")
    assert net.get_port(ALICE, port.id).status is PortStatus.DOWN
    assert net.report_device("compute-0", port.mac, VF.pci_slot, True) == (
        port.id, PortStatus.ACTIVE)
    down = net.ports.update(ALICE, port.id, PortUpdate(admin_state_up=False))
    assert down.status is PortStatus.DOWN
    with pytest.raises(Conflict) as vnic:
        net.ports.update(ADMIN, port.id, PortUpdate(vnic_type=VnicType.NORMAL))
    assert vnic.value.kind == "PortInUse"
    freed = net.unbind_port(port.id)
    assert (freed.binding.vif_type, freed.binding.host, freed.device_id, freed.status) == (
        VifType.UNBOUND, "", "", PortStatus.DOWN)


def test_binding_fails_with_the_reason_when_the_agent_is_dead(
        net: NetworkService, web: tuple[str, str], fake_clock: FakeClock) -> None:
    _sriov_agent(net)
    fake_clock.advance(76)  # agent_down_time 75 s
    port = net.ports.create(ALICE, PortSpec(network_id=web[0], vnic_type=VnicType.DIRECT))
    with pytest.raises(Conflict) as err:
        net.bind_port(port.id, "compute-0", "vm-1", "compute:nova", VF)
    assert err.value.kind == "PortBindingFailed" and "dead" in str(err.value)
    stored = net.get_port(ALICE, port.id)
    assert stored.binding.vif_type is VifType.BINDING_FAILED
    assert stored.binding.failure is not None and "compute-0" in stored.binding.failure


def test_admin_binding_through_update_records_failure_without_raising(
        net: NetworkService, web: tuple[str, str]) -> None:
    port = net.ports.create(ADMIN, PortSpec(network_id=web[0], vnic_type=VnicType.DIRECT,
                                            host="compute-9", profile=VF))
    assert port.binding.vif_type is VifType.BINDING_FAILED
    _sriov_agent(net, "compute-9")
    again = net.ports.update(ADMIN, port.id, PortUpdate(host="compute-9"))
    assert again.binding.vif_type is VifType.HW_VEB


def test_device_reports_for_unknown_ports_are_404(net: NetworkService) -> None:
    with pytest.raises(NotFound):
        net.set_device_status("compute-0", MacAddress("fa:16:3e:00:00:09"),
                              PciAddress.parse("0000:07:00.3"), True)


def test_agents_liveness_and_admin_only_listing(net: NetworkService,
                                                fake_clock: FakeClock) -> None:
    _sriov_agent(net)
    [agent] = net.agents.list(ADMIN)
    assert agent.alive and agent.device_mappings == (("physnet1", ("enp4s0f1",)),)
    assert [a.id for a in net.live_agents("compute-0")] == [agent.id]
    fake_clock.advance(80)
    assert not net.agents.get(ADMIN, agent.id).alive and net.live_agents("compute-0") == []
    with pytest.raises(Forbidden):
        net.agents.list(ALICE)
