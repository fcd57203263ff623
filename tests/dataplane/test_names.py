"""The data plane's names and records: pure, no root needed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sriovstack.errors import Invalid
from sriovstack.host.netlink import ETH_P_8021Q, LinkState, VfState
from sriovstack.dataplane.eswitch import PlaneDoc, PortWire, VfTraffic, VfWire
from sriovstack.dataplane.names import IFNAMSIZ, Names
from sriovstack.mac import MacAddress


@pytest.mark.parametrize("prefix", ["", "-ss", "SS-", "ss_", "toolong", "s s", 3])
def test_unusable_prefixes_are_refused_naming_the_prefix(prefix: object) -> None:
    with pytest.raises(Invalid) as exc:
        Names(prefix)  # type: ignore[arg-type]
    assert exc.value.field == "prefix" and "1-6 characters" in str(exc.value)


@pytest.mark.parametrize("prefix", ["s", "ss-", "t1a2b-", "abcdef"])
def test_usable_prefixes(prefix: str) -> None:
    names = Names(prefix)
    assert names.fabric_ns == f"{prefix}fabric"
    assert names.owns_ns(names.host_ns("/tmp/h")) and names.owns_ns(names.guest_ns("/tmp/h", "x"))


def test_one_servers_guests_on_two_hosts_are_two_namespaces_sharing_the_servers_stem() -> None:
    names = Names("ss-")
    source, target = names.guest_ns("/s/hosts/a", "srv"), names.guest_ns("/s/hosts/b", "srv")
    assert source != target
    assert source.startswith(names.guest_ns_stem("srv"))
    assert target.startswith(names.guest_ns_stem("srv"))
    assert not names.guest_ns("/s/hosts/a", "other").startswith(names.guest_ns_stem("srv"))


_prefixes = st.from_regex(r"[a-z][a-z0-9-]{0,5}", fullmatch=True)
_text = st.text(min_size=1, max_size=80)


@given(_prefixes, _text, _text, st.integers(0, 4094))
def test_every_link_name_fits_ifnamsiz_and_carries_the_prefix(prefix: str, root: str,
                                                              other: str, vlan: int) -> None:
    names = Names(prefix)
    links = (names.vf_end(root, other), names.vf_port(root, other),
             names.segment_bridge(other, vlan), names.uplink(root, other, vlan),
             names.uplink_peer(root, other, vlan), names.port_end(other),
             names.port_peer(other))
    for link in links:
        assert len(link) <= IFNAMSIZ and link.startswith(prefix)
    assert len(set(links)) == len(links)  # each kind has its own letter


@given(_text, _text)
def test_different_segments_get_different_bridges(physnet: str, other: str) -> None:
    names = Names()
    assert names.segment_bridge(physnet, 100) != names.segment_bridge(physnet, 200)
    if physnet != other:
        assert names.segment_bridge(physnet, 100) != names.segment_bridge(other, 100)


@pytest.mark.parametrize(("spoofchk", "expected"), [(True, True), (False, False), (None, True)])
def test_traffic_of_a_vf_state(spoofchk: bool | None, expected: bool) -> None:
    # A driver that does not report spoof checking keeps the kernel's default: on.
    state = VfState(3, MacAddress("fa:16:3e:00:00:01"), 100, 0, ETH_P_8021Q, spoofchk, False,
                    LinkState.DISABLE, 0, 500)
    assert VfTraffic.of(state) == VfTraffic("fa:16:3e:00:00:01", 100, expected,
                                            LinkState.DISABLE, 500)


def test_the_record_round_trips_through_json() -> None:
    vf = VfWire("0000:3b:02.0", "0000:3b:00.0", "ens1f0", 0, "ssvaaaaaaaa", "ssrbbbbbbbb",
                "02:00:3b:02:00:00", VfTraffic("fa:16:3e:00:00:01", 100, False,
                                               LinkState.ENABLE, 10), "ss-g-1", "eth0")
    port = PortWire("p1", "ssncccccccc", "physnet1", 100, "ss-g-2", "eth0")
    doc = PlaneDoc("/tmp/h", "ss-", False, "ss-h-1", "ss-fabric", {"ens1f0": "physnet1"},
                   {vf.address: vf}, {"p1": port})
    again = PlaneDoc.from_json(doc.to_json())
    assert again == doc


@pytest.mark.parametrize(("admin", "allowed"), [("00:00:00:00:00:00", "02:00:3b:02:00:00"),
                                                ("fa:16:3e:00:00:01", "fa:16:3e:00:00:01")])
def test_spoof_check_allows_the_admin_mac_else_the_vfs_own(admin: str, allowed: str) -> None:
    vf = VfWire("0000:3b:02.0", "0000:3b:00.0", "ens1f0", 0, "e", "p", "02:00:3b:02:00:00",
                VfTraffic(mac=admin))
    assert vf.allowed_mac == allowed
