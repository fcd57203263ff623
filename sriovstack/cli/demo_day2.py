"""The demo's "day 2": after the chapter's walkthrough, webserver01 is hard-rebooted and then
live-migrated to the other compute node (os-migrateLive, scheduler's choice).  On the netns
data plane webserver02 sends UDP echo to webserver01 every 50 ms throughout the migration
(``GapProbe``), and the demo prints the longest stretch without an answer: the traffic gap
the move cost.  Without the data plane the moves are still made and checked; the demo says
which traffic checks it leaves out."""

from __future__ import annotations

import threading
import time
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from sriovstack.cli.cloud.session import CloudSession
from sriovstack.virt import ping_from_guest

if TYPE_CHECKING:
    from sriovstack.cli.demo import Demo

__all__ = ["Day2", "GapProbe"]

_MOVE_TIMEOUT = 60.0  # seconds a reboot or a live migration may take to settle


class GapProbe:
    """One UDP echo every ``interval`` seconds from ``src``'s guest to ``ip``, on a thread;
    ``samples`` are (monotonic time sent, answered).  A context manager: started on entry,
    stopped (and joined, with a timeout) on exit."""

    def __init__(self, prefix: str, src: str, ip: str, interval: float = 0.05) -> None:
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(prefix, src, ip, interval),
                                        name="gap-probe", daemon=True)

    def _run(self, prefix: str, src: str, ip: str, interval: float) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = ping_from_guest(src, ip_address(ip), count=1, prefix=prefix,
                                     timeout=interval).received == 1
            except Exception:  # noqa: BLE001 - a namespace mid-change is a lost probe
                ok = False
            self.samples.append((started, ok))
            self._stop.wait(max(0.0, interval - (time.monotonic() - started)))

    def __enter__(self) -> "GapProbe":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def answered_after(self, moment: float) -> bool:
        """Whether a probe sent after ``moment`` was answered."""
        return any(ok for t, ok in self.samples if t > moment)

    def gap(self) -> float:
        """The longest stretch without an answer, from the last answer before it to the first
        after it (seconds; infinite with fewer than two answers)."""
        answered = [t for t, ok in self.samples if ok]
        return max((b - a for a, b in zip(answered, answered[1:])), default=float("inf"))


class Day2:
    """Reboot (hard) and live migration of webserver01; ``peer`` (webserver02) and the
    data plane's ``prefix`` when packets can be sent, else None."""

    def __init__(self, demo: Demo, session: CloudSession, prefix: str | None,
                 peer: dict[str, Any] | None = None) -> None:
        self.demo = demo
        self.s = session
        self.prefix = prefix
        self.peer = peer
        self.gap: float | None = None  # seconds, once measured
        self.moved: dict[str, Any] | None = None  # webserver01's port after the moves

    def run(self, server: dict[str, Any], port: dict[str, Any]) -> dict[str, Any]:
        """Both moves; returns webserver01's port as bound after them."""
        if self.prefix is None or self.peer is None:
            self.demo.out.print("day 2 without the netns data plane: the reboot and the live "
                                "migration are made and checked, the traffic checks (UDP "
                                "echo, the migration's traffic gap) are left out", markup=False)
        self.reboot(server, port)
        self.moved = self.live_migrate(server, port)
        return self.moved

    def reboot(self, server: dict[str, Any], port: dict[str, Any]) -> None:
        self.demo.step("day 2  nova reboot --hard webserver01")
        self.s.call("POST", "compute", f"/servers/{server['id']}/action",
                    {"reboot": {"type": "HARD"}})
        view = self.settled(server["id"])
        self.demo.check(f"webserver01 {view['status']} again on "
                        f"{view.get('OS-EXT-SRV-ATTR:host')} after the hard reboot",
                        view["status"] == "ACTIVE")
        if self.prefix is not None and self.peer is not None:
            self.demo.check("webserver02 reaches webserver01 after the reboot",
                            self.reaches(port))

    def live_migrate(self, server: dict[str, Any], port: dict[str, Any]) -> dict[str, Any]:
        self.demo.step("day 2  nova live-migration webserver01 (to the other compute node)")
        source = server.get("OS-EXT-SRV-ATTR:host")
        body = {"os-migrateLive": {"host": None, "block_migration": "auto"}}
        if self.prefix is None or self.peer is None:
            self.s.call("POST", "compute", f"/servers/{server['id']}/action", body,
                        microversion="2.79")
            view = self.settled(server["id"])
        else:
            with GapProbe(self.prefix, self.peer["id"], _ip(port)) as probe:
                time.sleep(0.3)  # a few answers before the move
                started = time.monotonic()
                self.s.call("POST", "compute", f"/servers/{server['id']}/action", body,
                            microversion="2.79")
                view = self.settled(server["id"])
                self.demo.wait(lambda: probe.answered_after(started), bool)
                time.sleep(0.2)
            self.gap = probe.gap()
        target = view.get("OS-EXT-SRV-ATTR:host")
        self.demo.check(f"webserver01 {view['status']} on {target} (was on {source})",
                        view["status"] == "ACTIVE" and target != source)
        moved = self.demo.wait(lambda: self.port(port["id"]),
                               lambda p: p["binding:host_id"] == target
                               and p["status"] == "ACTIVE")
        slot = (moved.get("binding:profile") or {}).get("pci_slot")
        self.demo.check(f"port bound on {moved['binding:host_id']} to VF {slot}, same MAC "
                        f"{moved['mac_address']} and fixed IP {_ip(moved)}",
                        moved["binding:host_id"] == target and bool(slot)
                        and moved["mac_address"] == port["mac_address"]
                        and _ip(moved) == _ip(port))
        if self.gap is not None:
            self.demo.check(f"webserver02 reaches webserver01 on {target}: traffic gap of the "
                            f"live migration {self.gap * 1000:.0f} ms (50 ms UDP probes)",
                            self.gap != float("inf") and self.reaches(moved))
        return moved

    def settled(self, server_id: str) -> dict[str, Any]:
        """The server once its task is over (ACTIVE or ERROR with no task state)."""
        return self.demo.wait(
            lambda: self.s.call("GET", "compute", f"/servers/{server_id}")["server"],
            lambda v: v["status"] in ("ACTIVE", "ERROR") and not v["OS-EXT-STS:task_state"],
            timeout=_MOVE_TIMEOUT)

    def reaches(self, port: dict[str, Any]) -> bool:
        """Whether webserver02 gets a UDP echo back from ``port``'s IP (within 15 s)."""
        assert self.prefix is not None and self.peer is not None
        peer, prefix, ip = str(self.peer["id"]), self.prefix, ip_address(_ip(port))
        return bool(self.demo.wait(
            lambda: ping_from_guest(peer, ip, count=1, prefix=prefix, timeout=0.5).reachable,
            bool, timeout=15.0))

    def port(self, port_id: str) -> dict[str, Any]:
        port: dict[str, Any] = self.s.call("GET", "network", f"/v2.0/ports/{port_id}")["port"]
        return port


def _ip(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])
