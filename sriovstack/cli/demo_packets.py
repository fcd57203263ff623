"""The demo's packet steps on the netns data plane: a second server on the ``web`` VLAN on the
other compute node, UDP echo between the two guests (``sriovstack guest ping``), the port's
admin state (20.6) and what the chapter's 82576 can and cannot do with it, day 2 (reboot and
live migration of webserver01 with webserver02's traffic measured, demo_day2.py), and
delete."""

from __future__ import annotations

from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from sriovstack.allinone import live_vfs
from sriovstack.cli.cloud.servers import wait_for_gone, wait_for_status
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.demo_day2 import Day2
from sriovstack.host import LinkState
from sriovstack.virt import ping_from_guest, server_guests

if TYPE_CHECKING:
    from sriovstack.cli.demo import Demo

__all__ = ["PacketSteps"]


class PacketSteps:
    """Runs after webserver01 is ACTIVE on its VF; leaves webserver01 as it found it."""

    def __init__(self, demo: Demo, session: CloudSession, prefix: str) -> None:
        self.demo = demo
        self.s = session
        self.prefix = prefix

    def run(self, first: dict[str, Any], port: dict[str, Any], net: dict[str, Any],
            image_id: str, flavor_id: str) -> Day2 | None:
        """The packet steps and day 2 (None when webserver02 could not be booted)."""
        second, port2 = self.boot_second(first, net, image_id, flavor_id)
        if second is None:
            return None
        ip1, ip2 = _ip(port), _ip(port2)
        self.demo.check(f"webserver01 ({ip1}) reaches webserver02 ({ip2}) and back",
                        self.ping(first["id"], ip2) and self.ping(second["id"], ip1))
        self.admin_state(first["id"], second, port2)
        day2 = Day2(self.demo, self.s, self.prefix, second)
        day2.run(first, port)
        self.delete(first["id"], second["id"], ip2)
        return day2

    def boot_second(self, first: dict[str, Any], net: dict[str, Any], image_id: str,
                    flavor_id: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        self.demo.step("real packets: webserver02 on web (VLAN 15) on the other compute node")
        port = self.s.call("POST", "network", "/v2.0/ports", {"port": {
            "name": "sr-iov-2", "network_id": net["id"],
            "binding:vnic_type": "direct"}})["port"]
        made = self.s.call("POST", "compute", "/servers", {"server": {
            "name": "webserver02", "flavorRef": flavor_id, "imageRef": image_id,
            "networks": [{"port": port["id"]}]}})["server"]
        view = wait_for_status(self.s, made["id"], 60.0)
        hosts = (first.get("OS-EXT-SRV-ATTR:host"), view.get("OS-EXT-SRV-ATTR:host"))
        if not self.demo.check(f"webserver02 {view['status']} on {hosts[1]} "
                               f"(webserver01 is on {hosts[0]})",
                               view["status"] == "ACTIVE" and hosts[0] != hosts[1]):
            return None, port
        bound = self.demo.wait(lambda: self.port(port["id"]), lambda p: p["status"] == "ACTIVE")
        return view, bound

    def ping(self, server_id: str, ip: str, expect: bool = True) -> bool:
        """`sriovstack guest ping` (in process), until it answers as ``expect``ed or 15 s."""
        self.demo.out.print(f"$ sriovstack guest ping --prefix {self.prefix} {server_id} {ip}",
                            markup=False)
        result = self.demo.wait(
            lambda: ping_from_guest(server_id, ip_address(ip), count=2, prefix=self.prefix,
                                    timeout=0.5),
            lambda r: r.reachable == expect, timeout=15.0)
        self.demo.out.print(f"  UDP echo -> {ip}: {result.sent} sent, {result.received} "
                            "received", markup=False)
        return bool(result.reachable)

    def admin_state(self, first_id: str, second: dict[str, Any], port: dict[str, Any]) -> None:
        self.demo.step("20.6  admin_state_up false on webserver02's port")
        self.s.call("PUT", "network", f"/v2.0/ports/{port['id']}",
                    {"port": {"admin_state_up": False}})
        down = self.demo.wait(lambda: self.port(port["id"]), lambda p: p["status"] == "DOWN")
        self.demo.check("after the SR-IOV agent's pass the port is DOWN",
                        down["status"] == "DOWN")
        root = self.demo.host_root(str(second["OS-EXT-SRV-ATTR:host"]))
        slot = port["binding:profile"]["pci_slot"]
        link = live_vfs(root)[slot].state.link_state
        self.demo.out.print(
            "  the chapter's 82576 (igb) has no VF link-state control, so the agent cannot "
            f"take the VF's link down (link-state {link.name.lower()}): packets still flow. "
            "On a NIC with it (X710, i40e) they stop: tests/e2e/test_dataplane_e2e.py",
            markup=False)
        self.demo.check("on igb the VF link stays up and webserver01 still reaches it",
                        link is not LinkState.DISABLE and self.ping(first_id, _ip(port)))
        self.s.call("PUT", "network", f"/v2.0/ports/{port['id']}",
                    {"port": {"admin_state_up": True}})
        up = self.demo.wait(lambda: self.port(port["id"]), lambda p: p["status"] == "ACTIVE")
        self.demo.check("admin_state_up true: the port is ACTIVE again",
                        up["status"] == "ACTIVE")

    def delete(self, first_id: str, second_id: str, ip: str) -> None:
        self.demo.step("delete webserver02: its guest is gone and reaches nothing")
        self.s.call("DELETE", "compute", f"/servers/{second_id}")
        wait_for_gone(self.s, second_id, 60.0)
        gone = self.demo.wait(lambda: self.has_guest(second_id), lambda there: not there)
        self.demo.check("webserver02's emulated guest (network namespace) is gone", not gone)
        self.demo.check(f"webserver01 no longer reaches {ip}",
                        not self.ping(first_id, ip, expect=False))

    def has_guest(self, server_id: str) -> bool:
        return bool(server_guests(server_id, self.prefix))

    def port(self, port_id: str) -> dict[str, Any]:
        port: dict[str, Any] = self.s.call("GET", "network", f"/v2.0/ports/{port_id}")["port"]
        return port


def _ip(port: dict[str, Any]) -> str:
    return str(port["fixed_ips"][0]["ip_address"])
