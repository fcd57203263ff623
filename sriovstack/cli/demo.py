"""``sriovstack demo``: the chapter's 20.2–20.7 against a fresh all-in-one started in this
process, each step printed with its result; exit 0 only when every step's check held.

As root the cloud runs the netns data plane and the demo adds the packet steps (demo_packets.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.allinone import (AllInOne, AllInOneOptions, SimulatedHost,
                                 choose_dataplane, live_vfs)
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.cloud.network import port_fields
from sriovstack.cli.cloud.output import print_list, print_show
from sriovstack.cli.cloud.servers import wait_for_gone, wait_for_status
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.demo_day2 import Day2
from sriovstack.cli.demo_packets import PacketSteps
from sriovstack.dataplane import missing_commands
from sriovstack.mac import MacAddress

__all__ = ["register", "Demo"]


def register(subparsers: Any) -> None:
    """Add ``demo`` to the top-level parser."""
    p = subparsers.add_parser("demo", help="run the chapter's walkthrough (20.2-20.7) on a "
                              "fresh all-in-one cloud")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="where the cloud lives (default: a new temporary directory)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.state_dir is not None:
        return Demo(Console(highlight=False, width=150)).run(Path(args.state_dir).resolve())
    with tempfile.TemporaryDirectory(prefix="sriovstack-demo-") as tmp:
        return Demo(Console(highlight=False, width=150)).run(Path(tmp))


class Demo:
    """The walkthrough; ``checks`` records (step, held) for the verdict."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.checks: list[tuple[str, bool]] = []
        self._state = Path(".")
        self._prefix: str | None = None  # the netns data plane's, when it runs
        self.gap: float | None = None  # the live migration's traffic gap (s), when measured

    def check(self, what: str, held: bool) -> bool:
        self.checks.append((what, held))
        mark = "[green]✔[/]" if held else "[bold red]✘[/]"
        self.out.print(f"  {mark} {what}")
        return held

    def step(self, title: str) -> None:
        self.out.rule(f"[bold]{title}")

    def run(self, state_dir: Path) -> int:
        started = time.monotonic()
        self._state = state_dir
        self.out.print(f"starting the all-in-one cloud under {state_dir} ...")
        dataplane, note = choose_dataplane(None, None, os.geteuid(), missing_commands())
        if note:
            self.out.print(f"{note}: the packet steps are left out", markup=False,
                           soft_wrap=True)
        with AllInOne(AllInOneOptions(state_dir=state_dir, port=0,
                                      dataplane=dataplane)) as cloud:
            self.out.print(f"API at {cloud.base_url}; hosts: "
                           f"{', '.join(h.name for h in cloud.hosts)}")
            if cloud.dataplane is not None:
                self._prefix = cloud.dataplane.prefix
                self.out.print(f"netns data plane on: guests are network namespaces named "
                               f"{self._prefix}*, VFs carry real packets", markup=False)
            compute0 = next(h for h in cloud.hosts if h.is_compute)
            self.host_steps(compute0)
            self.config_step(cloud)
            with CloudSession(clouds_of(cloud)[0]) as session:
                self.boot_steps(session, compute0)
        failed = [what for what, held in self.checks if not held]
        self.out.rule()
        verdict = "[bold green]every check held[/]" if not failed else \
            f"[bold red]{len(failed)} check(s) failed[/]"
        self.out.print(f"{verdict} ({len(self.checks)} checks, "
                       f"{time.monotonic() - started:.1f} s)")
        self.out.print("live-migration traffic gap: " + (
            f"{self.gap * 1000:.0f} ms (UDP echo every 50 ms)" if self.gap is not None else
            "not measured (no netns data plane)"), markup=False)
        return 1 if failed else 0

    def host_steps(self, host: SimulatedHost) -> None:
        from sriovstack.allinone import open_host
        from sriovstack.host import discover
        from sriovstack.host import format_listing
        from sriovstack.host import Verdict, check_host

        self.step(f"20.2  the compute node {host.name}: NIC, readiness, VFs")
        seam = open_host(host.root)
        inventory = discover(seam.sysfs)
        self.out.print(f"$ lspci -nn | grep -i 82576    (on {host.name})", markup=False)
        for line in format_listing(inventory):
            self.out.print(f"  {line}", markup=False)
        report = check_host(seam)
        for item in report.items:
            self.out.print(f"  {item.verdict.name:4} {item.name}: {item.summary}", markup=False)
        self.check("host check: nothing FAILs", report.verdict is not Verdict.FAIL)
        counts = [len(pf.vfs) for pf in inventory.pfs]
        self.check(f"VFs created through sriov_numvfs: {counts} per PF (7 per 82576 port)",
                   bool(counts) and all(c == 7 for c in counts))
        units = sorted((host.root / "etc/systemd/system").glob("sriovstack-vfs@*.service"))
        self.check(f"VFs kept across reboots: {len(units)} systemd unit(s) "
                   f"({', '.join(u.name for u in units)})", len(units) == len(counts))

    def config_step(self, cloud: AllInOne) -> None:
        from sriovstack.allinone import open_host
        from sriovstack.conf import check_files
        from sriovstack.host import SysfsDeviceProbe

        self.step("20.3-20.6  the chapter's config files, checked together")
        files = [f for h in cloud.hosts for f in h.config_files
                 if h.name in ("controller", "compute0")]
        for f in files:
            self.out.print(f"  {f.relative_to(cloud.options.state_dir)}", markup=False)
        compute0 = next(h for h in cloud.hosts if h.name == "compute0")
        findings = check_files(files, host=SysfsDeviceProbe(open_host(compute0.root).sysfs))
        for finding in findings:
            self.out.print(f"  {finding}", markup=False)
        self.check(f"config check: {len(findings)} finding(s)", not findings)

    def boot_steps(self, s: CloudSession, host: SimulatedHost) -> None:
        self.step("20.7  network, subnet, direct port")
        net = s.call("POST", "network", "/v2.0/networks", {"network": {
            "name": "web", "provider:network_type": "vlan",
            "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})["network"]
        s.call("POST", "network", "/v2.0/subnets", {"subnet": {
            "name": "web-subnet", "network_id": net["id"], "cidr": "10.0.0.0/24",
            "ip_version": 4}})
        nets = s.call("GET", "network", "/v2.0/networks")["networks"]
        subnets = {x["id"]: x["cidr"] for x in s.call("GET", "network", "/v2.0/subnets")["subnets"]}
        print_list("net-list", ("id", "name", "subnets"),
                   [(n["id"], n["name"], [f"{i} {subnets[i]}" for i in n["subnets"]])
                    for n in nets])
        self.check("network web on physnet1 VLAN 15 with subnet 10.0.0.0/24",
                   net["provider:segmentation_id"] == 15 and len(subnets) == 1)
        port = s.call("POST", "network", "/v2.0/ports", {"port": {
            "name": "sr-iov", "network_id": net["id"], "binding:vnic_type": "direct"}})["port"]
        print_show("port-create web --name sr-iov --binding:vnic-type direct", port_fields(port))
        self.check(f"port DOWN, vnic_type direct, MAC {port['mac_address']}, "
                   f"fixed IP {port['fixed_ips'][0]['ip_address']}",
                   port["status"] == "DOWN" and port["binding:vnic_type"] == "direct")
        self.boot(s, port, net)

    def boot(self, s: CloudSession, port: dict[str, Any], net: dict[str, Any]) -> None:
        self.step("20.7  nova boot --flavor m1.tiny --image cirros --nic port-id=... webserver01")
        images = s.call("GET", "image", "/v2/images")["images"]
        print_list("image-list", ("id", "name", "status"),
                   [(i["id"], i["name"], i["status"]) for i in images])
        flavor = next(f for f in s.call("GET", "compute", "/flavors")["flavors"]
                      if f["name"] == "m1.tiny")
        server = s.call("POST", "compute", "/servers", {"server": {
            "name": "webserver01", "flavorRef": flavor["id"], "imageRef": images[0]["id"],
            "networks": [{"port": port["id"]}]}})["server"]
        view = wait_for_status(s, server["id"], 60.0)
        self.check(f"server webserver01 {view['status']} on {view.get('OS-EXT-SRV-ATTR:host')}",
                   view["status"] == "ACTIVE")
        bound = self.wait(lambda: _port(s, port["id"]), lambda p: p["status"] == "ACTIVE")
        print_show("port-show sr-iov", port_fields(bound))
        slot = (bound.get("binding:profile") or {}).get("pci_slot")
        self.check(f"port ACTIVE, vif_type {bound['binding:vif_type']}, bound to VF {slot}",
                   bound["status"] == "ACTIVE" and bound["binding:vif_type"] == "hw_veb"
                   and bool(slot))
        self.vf_state(s, view, bound, net)
        day2 = None
        if self._prefix is not None:
            day2 = PacketSteps(self, s, self._prefix).run(view, bound, net, images[0]["id"],
                                                          flavor["id"])
        if day2 is None:
            day2 = Day2(self, s, None)
            day2.run(view, bound)
        self.gap = day2.gap
        self.teardown(s, view["id"], day2.moved or bound)

    def vf_state(self, s: CloudSession, server: dict[str, Any], port: dict[str, Any],
                 net: dict[str, Any]) -> None:
        self.step("the VF on the compute node, as its kernel has it (ip link show PF)")
        name = server["OS-EXT-SRV-ATTR:host"]
        root = self.host_root(name)
        slot = port["binding:profile"]["pci_slot"]
        vf = self.wait(lambda: live_vfs(root).get(slot),
                       lambda v: v is not None and str(v.state.mac) == port["mac_address"])
        self.out.print(f"  {name} {vf.pf_netdev} vf {vf.state.vf} ({slot}): mac "
                       f"{vf.state.mac}, vlan {vf.state.vlan}, spoof checking "
                       f"{'on' if vf.state.spoofchk else 'off'}, link-state "
                       f"{vf.state.link_state.name.lower()}", markup=False)
        self.check("the VF has the port's MAC and the network's VLAN",
                   str(vf.state.mac) == port["mac_address"]
                   and vf.state.vlan == net["provider:segmentation_id"])
        self.vf_map(s, name, root)

    def vf_map(self, s: CloudSession, name: str, root: Path) -> None:
        host = s.call("GET", "compute", f"/os-sriov-hosts/{name}")["host"]
        live = live_vfs(root)
        print_list(f"VF map of {name}", ("address", "kind", "status", "server", "port", "mac",
                                         "vlan"),
                   [(d["address"], d["dev_type"], d["status"], d["server_name"], d["port_id"],
                     live[d["address"]].state.mac if d["address"] in live else None,
                     live[d["address"]].state.vlan if d["address"] in live else None)
                    for d in host["devices"]])

    def teardown(self, s: CloudSession, server_id: str, port: dict[str, Any]) -> None:
        self.step("delete the server: the VF goes back to its baseline")
        s.call("DELETE", "compute", f"/servers/{server_id}")
        wait_for_gone(s, server_id, 60.0)
        root = self.host_root(port["binding:host_id"])
        slot = port["binding:profile"]["pci_slot"]
        vf = self.wait(lambda: live_vfs(root)[slot],
                       lambda v: v.state.mac == MacAddress.ZERO and v.state.vlan == 0)
        self.out.print(f"  {slot}: mac {vf.state.mac}, vlan {vf.state.vlan}, spoof checking "
                       f"{'on' if vf.state.spoofchk else 'off'}", markup=False)
        self.check("VF reset: MAC zero, VLAN 0", vf.state.mac == MacAddress.ZERO
                   and vf.state.vlan == 0)
        after = _port(s, port["id"])
        self.check(f"port {after['status']} and unbound ({after['binding:vif_type']})",
                   after["status"] == "DOWN" and after["binding:vif_type"] == "unbound")

    def host_root(self, name: str) -> Path:
        return self._state / "hosts" / name

    def wait(self, read: Callable[[], Any], done: Callable[[Any], bool],
             timeout: float = 30.0) -> Any:
        """``read()`` until ``done`` holds or ``timeout`` passes; the last value either way."""
        deadline = time.monotonic() + timeout
        value = read()
        while not done(value) and time.monotonic() < deadline:
            time.sleep(0.2)
            value = read()
        return value


def _port(s: CloudSession, port_id: str) -> dict[str, Any]:
    port: dict[str, Any] = s.call("GET", "network", f"/v2.0/ports/{port_id}")["port"]
    return port
