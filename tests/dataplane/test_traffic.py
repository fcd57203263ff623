"""What traffic flows and what does not, with real packets (20.1, 20.6, 20.9 of the chapter).

Guests are network namespaces on two simulated X710 compute hosts; the VF settings are set
through the simulated VF netlink, as the agents do, and UDP echo tells what reaches what.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from ipaddress import IPv4Address, ip_interface

import pytest
from tests.dataplane.dataplane_world import PF0_VFS, World, heard_on
from tests.polling import until

from sriovstack.dataplane import Names, NsLinks, ns_exists
from sriovstack.errors import Conflict
from sriovstack.host.netlink import (LinkState, VfLinkState, VfMac, VfRate, VfSpoofCheck,
                                     VfVlan)
from sriovstack.mac import MacAddress
from sriovstack.virt import GuestSpec, VfInterface
from sriovstack.virt.netns import guest_netns, ping_from_guest


def test_two_guests_on_one_vlan_on_different_hosts_exchange_udp(world: World) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    b, _ = world.spawn(1, 0, "10.10.0.2/24")
    assert world.reaches(a, "10.10.0.2")
    assert world.reaches(b, "10.10.0.1")


def test_the_live_migration_source_tearing_down_leaves_the_targets_guest_answering(
        world: World) -> None:
    # Both ends of a live migration at once: one server's guest on each host.
    server = str(uuid.uuid4())
    moved = VfInterface(PF0_VFS[0], MacAddress("fa:16:3e:00:00:42"), 100, "port-moved",
                        ip_interface("10.10.0.5/24"))
    for driver in reversed(world.drivers):  # the target spawns before the source is gone
        driver.spawn(GuestSpec(server, "moved", 1, 512, (moved,)))
    source, target = (d.guest_netns(server) for d in world.drivers)
    assert source != target and ns_exists(source) and ns_exists(target)
    with pytest.raises(Conflict):  # two guests: which one is meant must be said
        guest_netns(server, world.prefix)
    peer, _ = world.spawn(1, 1, "10.10.0.9/24")
    world.drivers[0].destroy(server)
    assert not ns_exists(source) and ns_exists(target)
    assert guest_netns(server, world.prefix) == target
    assert guest_netns(server, world.prefix, host_root=world.roots[1]) == target
    assert ping_from_guest(server, IPv4Address("10.10.0.9"), count=3, prefix=world.prefix,
                           host_root=world.roots[1]).received == 3
    assert world.reaches(peer, "10.10.0.5")


def test_a_moved_guest_is_heard_only_from_its_new_place_and_reached_there_at_once(
        world: World) -> None:
    # An evacuation from a host cut off but not dead (or a live migration's two ends): the
    # new copy of the guest (same MAC and IP) comes up on host 1 while the old one still runs
    # on host 0. The new copy announces itself as it comes up, and the old one says nothing:
    # IPv6 duplicate address detection (run within rtr_solicit_delay = 1 s of link up) had the
    # old copy answer for their shared link-local address and so point the switches back at
    # host 0, where the guest was lost once the old copy went, until it spoke again.
    peer, _ = world.spawn(1, 1, "10.10.0.9/24")
    server, mac = str(uuid.uuid4()), "fa:16:3e:00:00:42"
    moved = VfInterface(PF0_VFS[0], MacAddress(mac), 100, "port-moved",
                        ip_interface("10.10.0.5/24"))
    world.drivers[0].spawn(GuestSpec(server, "moved", 1, 512, (moved,)))
    assert world.reaches(peer, "10.10.0.5")  # the switches learn the guest on host 0
    old, new = (Names(world.prefix).uplink_peer(str(p.root), "physnet1", 100)
                for p in world.planes)
    with heard_on(world.planes[0].info().fabric_ns, mac) as cables:
        world.drivers[1].spawn(GuestSpec(server, "moved", 1, 512, (moved,)))
        until(lambda: list(cables), lambda heard: new in heard, "the new copy to announce "
              "itself on its uplink", timeout=15, interval=0.05)
        time.sleep(1.5)  # an answer of the old copy to the new one's probes is said by now
    assert old not in cables, cables
    world.drivers[0].destroy(server)
    assert world.reaches(peer, "10.10.0.5")


def test_the_guest_sees_its_vf_with_the_ports_mac_and_fixed_ip(world: World) -> None:
    server, vf = world.spawn(0, 1, "10.10.0.7/24")
    ns, ifname = world.planes[0].vf_netdev(vf.pci_address)
    assert (ns, ifname) == (world.drivers[0].guest_netns(server), "eth0")
    shown = subprocess.run(["ip", "-n", ns, "-br", "addr", "show", "eth0"], check=True,
                           capture_output=True, text=True).stdout
    assert "10.10.0.7/24" in shown
    link = subprocess.run(["ip", "-n", ns, "-br", "link", "show", "eth0"], check=True,
                          capture_output=True, text=True).stdout
    assert str(vf.mac) in link


@pytest.mark.parametrize("same_host", [False, True], ids=["across-hosts", "one-host"])
def test_guests_on_different_vlans_cannot_reach_each_other(world: World,
                                                           same_host: bool) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24", vlan=100)
    b, _ = world.spawn(0 if same_host else 1, 1, "10.10.0.2/24", vlan=200)
    assert world.cut_off(a, "10.10.0.2")
    assert world.cut_off(b, "10.10.0.1")


def test_moving_a_vf_to_the_other_vlan_joins_that_network(world: World) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24", vlan=100)
    b, _ = world.spawn(1, 0, "10.10.0.2/24", vlan=200)
    world.hosts[1].netlink.set_vf("ens1f0", 0, VfVlan(100))
    assert world.reaches(a, "10.10.0.2")


@pytest.mark.parametrize("restore", [LinkState.ENABLE, LinkState.AUTO])
def test_link_state_disable_cuts_traffic_and_enable_or_auto_restores_it(
        world: World, restore: LinkState) -> None:
    # The SR-IOV agent turns admin_state_up false into `state disable` (20.6).
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    b, _ = world.spawn(1, 0, "10.10.0.2/24")
    world.hosts[1].netlink.set_vf("ens1f0", 0, VfLinkState(LinkState.DISABLE))
    assert world.cut_off(a, "10.10.0.2")
    world.hosts[1].netlink.set_vf("ens1f0", 0, VfLinkState(restore))
    assert world.reaches(a, "10.10.0.2")
    assert world.reaches(b, "10.10.0.1")


@pytest.mark.parametrize("spoofchk", [True, False], ids=["spoofchk-on", "spoofchk-off"])
def test_a_guest_that_changes_its_mac_is_dropped_only_with_spoof_check(
        world: World, spoofchk: bool) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    world.spawn(1, 0, "10.10.0.2/24")
    world.hosts[0].netlink.set_vf("ens1f0", 0, VfSpoofCheck(spoofchk))
    assert world.reaches(a, "10.10.0.2")  # its own MAC passes either way
    ns = world.drivers[0].guest_netns(a)
    with NsLinks(ns) as links:
        links.set_mac("eth0", "fa:16:3e:66:66:66")
    if spoofchk:
        assert world.cut_off(a, "10.10.0.2")
    else:
        assert world.reaches(a, "10.10.0.2")


def test_a_new_admin_mac_is_the_one_spoof_check_lets_through(world: World) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    world.spawn(1, 0, "10.10.0.2/24")
    world.hosts[0].netlink.set_vf("ens1f0", 0, VfMac(MacAddress("fa:16:3e:77:77:77")))
    assert world.cut_off(a, "10.10.0.2")
    with NsLinks(world.drivers[0].guest_netns(a)) as links:
        links.set_mac("eth0", "fa:16:3e:77:77:77")
    assert world.reaches(a, "10.10.0.2")


@pytest.mark.parametrize("same_host", [False, True], ids=["across-hosts", "one-host"])
def test_a_normal_port_guest_and_a_direct_port_guest_on_one_network_reach_each_other(
        world: World, same_host: bool) -> None:
    # 20.1: SR-IOV and Open vSwitch instances on the same VLAN network.
    direct, _ = world.spawn(1, 0, "10.10.0.2/24", vlan=100)
    normal = world.spawn_normal(1 if same_host else 0, "10.10.0.3/24", vlan=100)
    assert world.reaches(normal, "10.10.0.2")
    assert world.reaches(direct, "10.10.0.3")


def test_a_normal_port_on_another_vlan_or_physnet_is_cut_off(world: World) -> None:
    direct, _ = world.spawn(1, 0, "10.10.0.2/24", vlan=100)
    other_vlan = world.spawn_normal(0, "10.10.0.3/24", vlan=200)
    world.spawn_normal(0, "10.10.0.4/24", vlan=100, physnet="physnet2")
    assert world.cut_off(direct, "10.10.0.3")
    assert world.cut_off(direct, "10.10.0.4")
    assert world.cut_off(other_vlan, "10.10.0.4")


def test_unplugging_a_normal_port_cuts_it_off(world: World) -> None:
    direct, _ = world.spawn(1, 0, "10.10.0.2/24")
    normal = world.spawn_normal(0, "10.10.0.3/24")
    assert world.reaches(direct, "10.10.0.3")
    world.drivers[0].unplug_port(normal, f"port-{normal[:8]}")
    assert world.cut_off(direct, "10.10.0.3")


def test_after_guest_delete_and_vf_reset_nothing_of_the_old_guest_reaches_the_network(
        world: World) -> None:
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    b, vf = world.spawn(1, 0, "10.10.0.2/24")
    assert world.reaches(a, "10.10.0.2")
    old_ns = world.drivers[1].guest_netns(b)
    world.drivers[1].destroy(b)
    # The compute agent's reset (ARCHITECTURE §3 step 7).
    netlink = world.hosts[1].netlink
    for setting in (VfMac(MacAddress.ZERO), VfVlan(0), VfSpoofCheck(True),
                    VfLinkState(LinkState.DISABLE)):
        netlink.set_vf("ens1f0", 0, setting)
    assert not ns_exists(old_ns)
    assert world.cut_off(a, "10.10.0.2")
    plane = world.planes[1]
    ns, ifname = plane.vf_netdev(vf.pci_address)
    assert ns == plane.info().host_ns
    with NsLinks(ns) as links:
        assert not links.is_up(ifname)
    shown = subprocess.run(["ip", "-n", ns, "-br", "addr", "show", ifname], check=True,
                           capture_output=True, text=True).stdout
    assert "10.10.0.2" not in shown
    # The VF serves the next guest normally.
    netlink.set_vf("ens1f0", 0, VfLinkState(LinkState.AUTO))
    c, _ = world.spawn(1, 0, "10.10.0.3/24")
    assert world.reaches(c, "10.10.0.1")


def test_max_tx_rate_shapes_the_vf_transmit_side_with_tbf(world: World) -> None:
    _, vf = world.spawn(0, 0, "10.10.0.1/24")
    plane = world.planes[0]
    world.hosts[0].netlink.set_vf("ens1f0", 0, VfRate(0, 100))
    ns, ifname = plane.vf_netdev(vf.pci_address)
    with NsLinks(ns) as links:
        assert "tbf" in links.qdisc_kinds(ifname)
    world.hosts[0].netlink.set_vf("ens1f0", 0, VfRate(0, 0))
    with NsLinks(ns) as links:
        assert "tbf" not in links.qdisc_kinds(ifname)


def test_vf_count_changes_add_and_remove_vf_netdevs(world: World) -> None:
    plane = world.planes[0]
    sysfs = world.hosts[0].sysfs
    pf = "/sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs"
    host_ns = plane.info().host_ns
    ns, end = plane.vf_netdev(PF0_VFS[3])
    sysfs.write(pf, "0")
    with NsLinks(host_ns) as links:
        assert not links.has(end)
    sysfs.write(pf, "2")
    assert plane.vf_netdev(PF0_VFS[1])[0] == host_ns
    with pytest.raises(Exception, match="no data plane"):
        plane.vf_netdev(PF0_VFS[3])


_SRIOV_AGENT_LIKE = """
import sys
from sriovstack.allinone.machines import open_host
from sriovstack.host.netlink import LinkState, VfLinkState
open_host(sys.argv[1]).netlink.set_vf("ens1f0", 0, VfLinkState(LinkState(int(sys.argv[2]))))
"""


def test_a_process_that_opens_the_host_on_its_own_keeps_the_packets_in_step(
        world: World) -> None:
    # As `sriovstack agent sriov --root ROOT` does: it opens the simulated host itself, is
    # told nothing of the data plane, and its VF settings still act on the packets.
    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    world.spawn(1, 0, "10.10.0.2/24")
    def set_link_state(state: LinkState) -> None:
        done = subprocess.run([sys.executable, "-c", _SRIOV_AGENT_LIKE, str(world.roots[1]),
                               str(int(state))], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr

    set_link_state(LinkState.DISABLE)
    assert world.cut_off(a, "10.10.0.2")
    set_link_state(LinkState.AUTO)
    # The guest's ARP entry for .2 failed while it was cut off: allow it to resolve again.
    assert any(world.reaches(a, "10.10.0.2") for _ in range(3))


def test_a_pulled_pf_cable_cuts_its_vfs_off_and_putting_it_back_restores_them(
        world: World) -> None:
    from sriovstack.allinone import set_pf_link

    a, _ = world.spawn(0, 0, "10.10.0.1/24")
    b, _ = world.spawn(1, 0, "10.10.0.2/24")
    set_pf_link(world.roots[1], "ens1f0", up=False)
    assert world.cut_off(a, "10.10.0.2")
    set_pf_link(world.roots[1], "ens1f0", up=True)
    assert world.reaches(a, "10.10.0.2")
    assert world.reaches(b, "10.10.0.1")
