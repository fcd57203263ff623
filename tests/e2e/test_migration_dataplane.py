"""Real packets across a move: an all-in-one with the netns data plane (as root). A guest on a
VF answers its peer's UDP echo, is live-migrated to the other compute host (its namespace torn
down on the source VF and made again on the target VF with the same MAC and fixed IP) and
answers again; the source VF is reset. The traffic gap is measured by a probe that sends one
datagram every 50 ms from the peer's guest and printed (`pytest -s` shows it). Then a cold
migration and confirm: the guest answers again from the other host. Skipped when not root."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from sriovstack.allinone import live_vfs
from sriovstack.mac import MacAddress
from sriovstack.virt import ping_from_guest
from tests.e2e.test_dataplane_e2e import Cloud, Server, cloud, until

pytestmark = pytest.mark.e2e
__all__ = ["cloud"]


class _Probe:
    """One UDP echo every ``interval`` from ``src``'s guest to ``dst``: (time, answered)."""

    def __init__(self, prefix: str, src: Server, dst: Server, interval: float = 0.05) -> None:
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(prefix, src, dst, interval),
                                        daemon=True)

    def _run(self, prefix: str, src: Server, dst: Server, interval: float) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = ping_from_guest(src.id, ip_address(dst.ip), count=1, prefix=prefix,
                                     timeout=interval).received == 1
            except Exception:  # noqa: BLE001 - a namespace mid-change is a lost probe
                ok = False
            self.samples.append((started, ok))
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    def __enter__(self) -> "_Probe":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def gap(self) -> float:
        """The longest stretch without an answer, from the last answer before it to the
        first after it (seconds)."""
        answered = [t for t, ok in self.samples if ok]
        return max((b - a for a, b in zip(answered, answered[1:])), default=float("inf"))


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
    a = cloud.boot("mover", 15)
    b = cloud.boot("peer", 15)
    yield a, b
    for server in (a, b):
        cloud.delete(server)


def test_a_live_migrated_guest_answers_again_with_the_same_mac_and_ip(
        cloud: Cloud, pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert until(lambda: cloud.ping(b, a))
    source, source_slot, mac = _slot(cloud, a)
    state = cloud.aio.options.state_dir / "hosts"
    with _Probe(cloud.prefix, b, a) as probe:
        time.sleep(0.5)
        started = time.monotonic()
        target = _move(cloud, a, {"os-migrateLive": {"host": None,
                                                     "block_migration": "auto"}}, "ACTIVE")
        active = time.monotonic() - started
        assert until(lambda: any(ok for t, ok in probe.samples if t > started), 60.0)
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
