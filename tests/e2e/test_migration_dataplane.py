"""Real packets across a move: an all-in-one with the netns data plane (as root). A guest on a
VF answers its peer's UDP echo, is live-migrated to the other compute host (its namespace torn
down on the source VF and made again on the target VF with the same MAC and fixed IP) and
answers again; the source VF is reset. The traffic gap is measured by a probe that sends one
datagram every 50 ms from the peer's guest (the demo's GapProbe) and printed (`pytest -s`
shows it). Then a cold migration and confirm: the guest answers again from the other host. Skipped when not root."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sriovstack.allinone import live_vfs
from sriovstack.cli.demo_day2 import GapProbe
from sriovstack.mac import MacAddress
from tests.e2e.netns_cloud import Cloud, Server, until

pytestmark = pytest.mark.e2e


def _move(cloud: Cloud, server: Server, body: dict[str, object], final: str) -> str:
    cloud.s.call("POST", "compute", f"/servers/{server.id}/action", body,
                 microversion="2.79")
    assert until(lambda: (v := cloud.s.call("GET", "compute", f"/servers/{server.id}")[
        "server"])["status"] == final and not v["OS-EXT-STS:task_state"], 60.0)
    return str(cloud.s.call("GET", "compute", f"/servers/{server.id}")["server"][
        "OS-EXT-SRV-ATTR:host"])


def _slot(cloud: Cloud, server: Server) -> tuple[str, str, str]:
    port = cloud.s.call("GET", "network", f"/v2.0/ports/{server.port_id}")["port"]
    return (port["binding:host_id"], port["binding:profile"]["pci_slot"],
            port["mac_address"])


@pytest.fixture
def pair(cloud: Cloud) -> Iterator[tuple[Server, Server]]:
    with cloud.booted(("mover", 15), ("peer", 15)) as (a, b):
        yield a, b


def test_a_live_migrated_guest_answers_again_with_the_same_mac_and_ip(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert until(lambda: cloud.ping(b, a))
    source, source_slot, mac = _slot(cloud, a)
    state = cloud.aio.options.state_dir / "hosts"
    with GapProbe(cloud.prefix, b.id, a.ip) as probe:
        time.sleep(0.5)
        started = time.monotonic()
        target = _move(cloud, a, {"os-migrateLive": {"host": None,
                                                     "block_migration": "auto"}}, "ACTIVE")
        active = time.monotonic() - started
        assert until(lambda: probe.answered_after(started), 60.0)
        answered = next(t for t, ok in probe.samples if ok and t > started) - started
        time.sleep(0.5)
    assert target != source
    host, slot, same_mac = _slot(cloud, a)
    assert (host, same_mac) == (target, mac)
    vf = live_vfs(state / target)[slot].state
    assert str(vf.mac) == mac and vf.vlan == 15
    assert until(lambda: live_vfs(state / source)[source_slot].state.mac == MacAddress.ZERO)
    moved = Server(a.id, target, a.port_id, a.ip)
    assert until(lambda: cloud.ping(b, moved) and cloud.ping(moved, b))
    gap = probe.gap()
    print(f"\nlive-migration traffic gap (netns data plane, 50 ms probes): {gap * 1000:.0f} ms"
          f" (ACTIVE on the target {active:.1f} s after the request, first answer after "
          f"{answered:.1f} s)")
    assert gap < 30.0

    back = _move(cloud, moved, {"migrate": None}, "VERIFY_RESIZE")
    assert back == source
    cloud.s.call("POST", "compute", f"/servers/{a.id}/action", {"confirmResize": None},
                 microversion="2.79")
    assert until(lambda: cloud.ping(b, Server(a.id, back, a.port_id, a.ip)))
