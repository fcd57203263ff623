"""A hot-plugged direct port carries real packets (root, `--dataplane netns`): a server on
VLAN 16 gets a direct port on VLAN 15 attached (os-interface) and its emulated guest answers
UDP echo on that port's fixed IP from a VLAN 15 server on another host, and reaches it back;
after detach the address answers no more and the VF is at its baseline again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sriovstack.allinone import live_vfs
from sriovstack.mac import MacAddress
from tests.e2e.netns_cloud import Cloud, Server, until

pytestmark = pytest.mark.e2e


@pytest.fixture
def two(cloud: Cloud) -> Iterator[tuple[Server, Server]]:
    with cloud.booted(("hp-a", 15), ("hp-b", 16)) as (a, b):
        yield a, b


def test_a_hot_plugged_direct_port_answers_udp_and_stops_after_detach(
        cloud: Cloud, two: tuple[Server, Server]) -> None:
    a, b = two
    port = cloud.port(15)
    att = cloud.s.call("POST", "compute", f"/servers/{b.id}/os-interface",
                       {"interfaceAttachment": {"port_id": port["id"]}})["interfaceAttachment"]
    assert att["mac_addr"] == port["mac_address"]
    plugged = Server(b.id, b.host, port["id"], port["fixed_ips"][0]["ip_address"])
    slot = cloud.s.call("GET", "network", f"/v2.0/ports/{port['id']}")["port"][
        "binding:profile"]["pci_slot"]
    assert until(lambda: cloud.ping(a, plugged)), "the hot-plugged VF never answered"
    assert until(lambda: cloud.ping(b, a))  # b now reaches VLAN 15 through its new VF

    cloud.s.call("DELETE", "compute", f"/servers/{b.id}/os-interface/{port['id']}")
    assert until(lambda: not cloud.ping(a, plugged, count=1))
    root = cloud.aio.options.state_dir / "hosts" / b.host
    assert until(lambda: live_vfs(root)[slot].state.mac == MacAddress.ZERO)
    assert not cloud.ping(b, a)  # VLAN 16 alone again
