"""The compute agent: reports one host's whitelisted PCI inventory and converges its guests and
VFs with the desired state the API holds for the host (ARCHITECTURE.md §3 step 5 and 7).

Each pass: re-discover and report the inventory when it changed; fetch the desired state;
tear down guests and interfaces no longer wanted and reset their VFs; configure the VFs of
wanted servers (MAC, VLAN — 0 on flat —, spoof check) and have the virt driver spawn or attach
(a driver with a data plane for them, netns, also plugs normal ports onto their segment);
report servers running or failed; then sweep VFs configured for no one.  What the virt driver
did to each guest (boot, VF plug/unplug with MAC and VLAN, shutdown) is the emulated guest's
console: its lines are reported after the pass (wire ConsoleReport, os-getConsoleOutput).  A reset is fenced:
it happens only while the releasing owner (server, port, generation) still holds the VF —
never when the desired state or the ledger shows a newer owner, or the VF carries another
MAC (sriov-cni #219).  The ledger in the state dir records what was configured for whom, so a
restarted agent converges without leaking (sriov-network-device-plugin #685).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path

from sriovstack.agents.client import ControlPlaneClient
from sriovstack.agents.config import ComputeAgentSettings, VirtKind, host_resources_from
from sriovstack.agents.inventory import inventory_report
from sriovstack.agents.loop import AgentLoop
from sriovstack.agents.records import VfAssignment, VfLedger
from sriovstack.agents.vfconfig import VfConfigurator
from sriovstack.agents.watch import DesiredStateWatch
from sriovstack.crashpoints import crash_point
from sriovstack.dataplane import DEFAULT_PREFIX, HostDataplane
from sriovstack.errors import (Conflict, HostError, NotFound, NotSupported, SriovstackError,
                               Unreachable)
from sriovstack.host import Host, Inventory, VfMac, VfSpoofCheck, VfVlan, discover
from sriovstack.mac import MacAddress
from sriovstack.pci import DeviceSpecs, PciAddress
from sriovstack.virt import (FakeVirtDriver, GuestSpec, LibvirtDriver, NetnsVirtDriver,
                             NormalPort, PortPlugger, VfInterface, VirtDriver)
from sriovstack.wire import (COMPUTE_AGENT_TYPE, COMPUTE_BINARY, MAX_CONSOLE_LINE,
                             ConsoleReport, DesiredPort, DesiredServer, DesiredState, Heartbeat,
                             InventoryReport, ServerOutcome, ServerReport, ServerStatus,
                             VnicType)

__all__ = ["ComputeAgent", "ComputePass", "open_virt"]

_LOG = logging.getLogger(__name__)


def open_virt(kind: VirtKind, host: Host, state_dir: Path, *, prefix: str = DEFAULT_PREFIX,
              plane: HostDataplane | None = None) -> VirtDriver:
    """The virt driver ``kind`` for ``host`` (fake and netns keep their guests under
    ``state_dir``; netns drives ``plane``, the simulated host's netns data plane, and names
    what it makes with the plane's ``prefix``).

    Raises NotSupported for netns on a real host, or without a plane.
    """
    if kind is VirtKind.LIBVIRT:
        return LibvirtDriver(host.sysfs)
    if kind is VirtKind.NETNS:
        if plane is None:
            raise NotSupported(f"the netns virt driver emulates guests on a simulated host "
                               f"with its netns data plane; {host.root} has none (a real host "
                               "never has one)", fix="use the libvirt driver on a real host",
                               path=str(host.root))
        return NetnsVirtDriver(host, plane, state_dir, prefix=prefix)
    return FakeVirtDriver(state_dir, host.sysfs)


@dataclass(slots=True)
class ComputePass:
    """What one reconcile pass did (for logs and tests)."""

    revision: int = 0
    spawned: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    configured: list[PciAddress] = field(default_factory=list)
    reset: list[PciAddress] = field(default_factory=list)
    fenced: list[PciAddress] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class ComputeAgent:
    """One compute host's agent: inventory, heartbeats and guest/VF reconciliation."""

    def __init__(self, settings: ComputeAgentSettings, client: ControlPlaneClient, host: Host,
                 virt: VirtDriver, whitelist: DeviceSpecs) -> None:
        self.settings = settings
        self._client = client
        self._host = host
        self._virt = virt
        self._whitelist = whitelist
        self._ledger = VfLedger(settings.state_dir)
        self._vfs = VfConfigurator(host.netlink)
        self._lock = threading.Lock()
        self._reported: InventoryReport | None = None
        self._revision: int | None = None
        self._watch = DesiredStateWatch(client, settings.host)
        self._started = False

    @property
    def host_name(self) -> str:
        return self.settings.host

    # -- inventory and heartbeat -------------------------------------------------------------

    def sync_inventory(self, force: bool = False) -> Inventory:
        """Discover the host and report the whitelisted inventory when it changed."""
        with self._lock:
            inventory = discover(self._host.sysfs)
            vcpus, memory, disk = host_resources_from(self._host.sysfs, self.settings)
            report = inventory_report(inventory, self._whitelist, vcpus, memory, disk)
            if force or report != self._reported:
                counts = self._client.report_inventory(self.host_name, report)
                _LOG.info("%s: inventory of %d devices reported (%s)", self.host_name,
                          len(report.devices), counts)
                self._reported = report
            return inventory

    def heartbeat(self) -> None:
        """Report the agent alive; a host the API does not know is registered first."""
        beat = Heartbeat(COMPUTE_AGENT_TYPE, COMPUTE_BINARY, start_flag=not self._started)
        try:
            self._client.heartbeat(self.host_name, beat)
        except NotFound:
            self.sync_inventory(force=True)
            self._client.heartbeat(self.host_name, beat)
        self._started = True

    # -- reconciliation ----------------------------------------------------------------------

    def reconcile_once(self, wait: float = 0.0) -> ComputePass:
        """One pass; with ``wait`` > 0, first waits up to that long for a newer desired state
        (a revision long-poll; the last desired state is reused when nothing changed)."""
        inventory = self.sync_inventory()
        desired = self._watch.next(wait)
        result = ComputePass(revision=desired.revision)
        try:
            _Pass(self, inventory, desired, result).run()
        except BaseException:
            self._watch.refresh()  # the next pass starts from a fresh read
            raise
        self._revision = desired.revision
        return result

    def run(self, stop: threading.Event) -> None:
        """Reconcile and heartbeat until ``stop`` is set."""
        AgentLoop(f"compute-agent {self.host_name}",
                  lambda: self.reconcile_once(self.settings.poll_wait), self.heartbeat,
                  report_interval=self.settings.report_interval).run(stop)


class _Pass:
    """The work of one reconcile pass over one snapshot of the host and the desired state."""

    def __init__(self, agent: ComputeAgent, inventory: Inventory, desired: DesiredState,
                 result: ComputePass) -> None:
        self.a = agent
        self.inventory = inventory
        self.desired = desired
        self.holders = desired.vf_ports()
        self.result = result
        self.console: dict[str, list[str]] = {}

    def run(self) -> None:
        guests = {g.server_id: g for g in self.a._virt.list_guests()}
        wanted = {s.server_id: s for s in self.desired.servers if s.status.is_runnable}
        for server_id, guest in guests.items():
            if server_id not in {s.server_id for s in self.desired.servers}:
                self._destroy(server_id)
            elif server_id in wanted:
                self._detach_unwanted(wanted[server_id], guest.interfaces)
        for server in wanted.values():
            has_guest = server.server_id in guests
            if server.target is not ServerOutcome.RUNNING or server.replug:
                has_guest = self._power_off(server, has_guest)
            if server.target is ServerOutcome.RUNNING:
                self._converge(server, has_guest)
        self._sweep()
        self._report_console()

    def _say(self, server_id: str, text: str) -> None:
        """One line on the guest's console (what the virt driver did to it)."""
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.console.setdefault(server_id, []).append(
            f"[{stamp}] {text}".replace("\n", " ")[:MAX_CONSOLE_LINE])

    def _report_console(self) -> None:
        for server_id, lines in self.console.items():
            try:
                self.a._client.report_console(self.a.host_name, server_id,
                                              ConsoleReport(tuple(lines)))
            except (NotFound, Conflict) as exc:  # deleted or moved meanwhile
                _LOG.info("%s: console of %s: %s", self.a.host_name, server_id, exc)

    def _power_off(self, server: DesiredServer, has_guest: bool) -> bool:
        """Stop the guest, its VFs kept as configured (still the server's: not reset); report
        a stopped or paused target the server awaits. Returns False (no guest left).

        A replug (hard reboot, start, rebuild) passes here first: the guest is destroyed and
        spawned again by ``_converge``, which re-applies MAC, VLAN and spoof check to its VFs.
        Pause stops the emulated guest too: the virt seam has no pause of its own yet.
        """
        if has_guest:
            self.a._virt.destroy(server.server_id)
            self.result.destroyed.append(server.server_id)
            self._say(server.server_id, f"guest shut down ({server.target.value}"
                      f"{', to be booted again' if server.replug else ''})")
            _LOG.info("%s: guest of server %s stopped (%s%s)", self.a.host_name,
                      server.server_id, server.target.value, ", replug" if server.replug else "")
        if server.target is not ServerOutcome.RUNNING and server.awaiting:
            self._report(server, ServerReport(server.target))
        return False

    # -- teardown ----------------------------------------------------------------------------

    def _destroy(self, server_id: str) -> None:
        released = self.a._virt.destroy(server_id)
        self.result.destroyed.append(server_id)
        _LOG.info("%s: destroyed guest of deleted server %s", self.a.host_name, server_id)
        for vf in released:
            self._release(server_id, vf.port_id, vf.pci_address)

    def _detach_unwanted(self, server: DesiredServer, attached: tuple[VfInterface, ...]) -> None:
        wanted = {p.port_id: p for p in server.ports if p.is_vf}
        for vf in attached:
            port = wanted.get(vf.port_id)
            if port is None or _interface(port) != vf:
                self.a._virt.detach_vf(server.server_id, vf.port_id)
                crash_point("agent.unplugged")
                self._say(server.server_id, f"VF {vf.pci_address} unplugged (port "
                          f"{vf.port_id}, MAC {vf.mac}, VLAN {vf.vlan})")
                self._release(server.server_id, vf.port_id, vf.pci_address)

    def _release(self, server_id: str, port_id: str, address: PciAddress) -> None:
        """Reset the VF unless a newer owner holds it; forget the assignment either way."""
        mine = [a for a in self.a._ledger.holders(address)
                if (a.server_id, a.port_id) == (server_id, port_id)]
        generation = mine[0].generation if mine else -1
        if self._fenced(server_id, port_id, generation, address, mine[0].mac if mine else None):
            self.result.fenced.append(address)
            _LOG.info("%s: %s not reset: a newer owner holds it", self.a.host_name, address)
        else:
            self._reset(address)
        for assignment in mine:
            self.a._ledger.forget(assignment)

    def _fenced(self, server_id: str, port_id: str, generation: int, address: PciAddress,
                our_mac: MacAddress | None) -> bool:
        holder = self.holders.get(address)
        if holder is not None and (holder[0].server_id, holder[1].port_id) != (server_id,
                                                                                port_id):
            return True  # the desired state gives this VF to another server or port
        if any(a.generation > generation and (a.server_id, a.port_id) != (server_id, port_id)
               for a in self.a._ledger.holders(address)):
            return True  # this agent already configured it for a newer owner
        located = self._locate(address)
        if located is None or our_mac is None:
            return False
        state = self.a._vfs.state(*located)
        return state is not None and state.mac not in (our_mac, MacAddress.ZERO)

    def _reset(self, address: PciAddress) -> None:
        located = self._locate(address)
        if located is None:
            return  # the VF is gone from the host (VFs disabled): nothing to reset
        self.a._vfs.reset(*located)
        crash_point("agent.reset")
        self.result.reset.append(address)

    def _locate(self, address: PciAddress) -> tuple[str, int] | None:
        """(PF netdev, VF index) of a VF on this host, or None."""
        try:
            pf, vf = self.inventory.find_vf(address)
        except NotFound:
            return None
        return (pf.netdev, vf.index) if pf.netdev else None

    # -- converge ----------------------------------------------------------------------------

    def _converge(self, server: DesiredServer, has_guest: bool) -> None:
        spawned = False
        try:
            interfaces = self._configure(server)
            if not has_guest:
                self.a._virt.spawn(GuestSpec(server.server_id, server.name,
                                             max(1, server.vcpus), max(1, server.memory_mb),
                                             interfaces, hostdevs=server.hostdevs,
                                             authorized_keys=server.authorized_keys))
                spawned = True
                crash_point("agent.plugged")
                self.result.spawned.append(server.server_id)
                self._say(server.server_id, f"boot: guest {server.name} started with "
                          f"{server.vcpus} vCPU and {server.memory_mb} MB")
                for vf in interfaces:
                    self._say(server.server_id, f"VF {vf.pci_address} plugged: MAC {vf.mac} "
                              f"VLAN {vf.vlan} (port {vf.port_id})")
            else:
                self._attach_missing(server, interfaces)
            self._plug_normal(server)
        except Unreachable:  # the API did not answer: end this pass (the loop retries);
            raise               # only a refusal on the host fails the server
        except SriovstackError as exc:
            self._fail(server, has_guest or spawned, exc)
            return
        if server.awaiting or server.status is ServerStatus.BUILD:
            self._report(server, ServerReport(ServerOutcome.RUNNING))

    def _configure(self, server: DesiredServer) -> tuple[VfInterface, ...]:
        """Set MAC, VLAN and spoof check on each VF of the server; record each first."""
        interfaces = []
        for port in server.ports:
            if port.vnic_type is VnicType.DIRECT_PHYSICAL:
                raise NotSupported(f"port {port.port_id} is direct-physical (a whole PF); "
                                   "this agent passes through VFs only", field="vnic_type")
            if not port.is_vf:
                continue
            vf = _interface(port)
            located = self._locate(vf.pci_address)
            if located is None:
                raise HostError(f"VF {vf.pci_address} of port {port.port_id} is not on "
                                f"this host (or its PF has no netdev)",
                                fix="check sriov_numvfs of the PF", path=str(vf.pci_address))
            self.a._ledger.record(VfAssignment(server.server_id, port.port_id, vf.pci_address,
                                               vf.mac, vf.vlan, port.generation or 0))
            settings = (VfMac(vf.mac), VfVlan(vf.vlan), VfSpoofCheck(True))
            if self.a._vfs.apply(*located, settings) != ():
                _LOG.info("%s: %s: spoof check unsupported by the driver", self.a.host_name,
                          vf.pci_address)
            crash_point("agent.configured")
            self.result.configured.append(vf.pci_address)
            interfaces.append(vf)
        return tuple(interfaces)

    def _attach_missing(self, server: DesiredServer, interfaces: tuple[VfInterface, ...]) -> None:
        attached = {vf.port_id for vf in self.a._virt.get_guest(server.server_id).interfaces}
        for vf in interfaces:
            if vf.port_id not in attached:
                self.a._virt.attach_vf(server.server_id, vf)
                crash_point("agent.hot_plugged")
                self._say(server.server_id, f"VF {vf.pci_address} hot-plugged: MAC {vf.mac} "
                          f"VLAN {vf.vlan} (port {vf.port_id})")

    def _plug_normal(self, server: DesiredServer) -> None:
        """Plug the server's normal (Open vSwitch) ports onto their physnet/VLAN segment and
        unplug those it no longer has — with a driver that has a data plane for them (netns),
        so SR-IOV and normal ports on one network reach each other (20.1)."""
        virt = self.a._virt
        if not isinstance(virt, PortPlugger):
            return  # libvirt/fake: the Open vSwitch agent's job, not ours
        wanted = {p.port_id: p for p in server.ports if p.is_normal}
        plugged = set(virt.plugged_ports(server.server_id))
        for port_id in sorted(plugged - wanted.keys()):
            virt.unplug_port(server.server_id, port_id)
            self._say(server.server_id, f"port {port_id} unplugged")
        for port_id, port in wanted.items():
            if port_id not in plugged:
                assert port.mac is not None and port.physnet is not None
                virt.plug_port(server.server_id, NormalPort(port_id, port.mac, port.physnet,
                                                            port.vlan, port.fixed_ip))
                self._say(server.server_id, f"port {port_id} plugged: MAC {port.mac} on "
                          f"{port.physnet} VLAN {port.vlan}")

    def _fail(self, server: DesiredServer, has_guest: bool, exc: SriovstackError) -> None:
        """Undo this server's VF settings when it has no guest, then report it ERROR."""
        _LOG.warning("%s: server %s failed: %s", self.a.host_name, server.server_id, exc)
        self.result.failed[server.server_id] = str(exc)
        self._say(server.server_id, f"error: {exc}")
        if not has_guest:
            for port in server.ports:
                if port.is_vf and port.pci_address is not None:
                    self._release(server.server_id, port.port_id, port.pci_address)
        self._report(server, ServerReport(ServerOutcome.ERROR, str(exc)))

    def _report(self, server: DesiredServer, report: ServerReport) -> None:
        self.a._watch.refresh()  # the report changes the server (no revision bump): re-read
        try:
            self.a._client.report_server(self.a.host_name, server.server_id, report)
        except (NotFound, Conflict) as exc:  # deleted or moved meanwhile: the next pass sees it
            _LOG.info("%s: server %s: %s", self.a.host_name, server.server_id, exc)

    # -- sweep -------------------------------------------------------------------------------

    def _sweep(self) -> None:
        """Release ledger entries no desired port matches; reset whitelisted VFs that carry a
        MAC but belong to no one (configured before a crash, or by someone else)."""
        for a in self.a._ledger.assignments():
            holder = self.holders.get(a.pci_address)
            if holder is None or (holder[0].server_id, holder[1].port_id) != (a.server_id,
                                                                              a.port_id):
                self._release(a.server_id, a.port_id, a.pci_address)
        held = {a.pci_address for a in self.a._ledger.assignments()} | set(self.holders)
        whitelisted = {d.address for d in (self.a._reported.devices if self.a._reported
                                           else ())}
        for pf in self.inventory.pfs:
            if pf.netdev is None or not any(vf.address in whitelisted for vf in pf.vfs):
                continue
            by_index = {vf.index: vf.address for vf in pf.vfs}
            for state in self.a._host.netlink.get_vfs(pf.netdev):
                address = by_index.get(state.vf)
                if (address in whitelisted and address not in held
                        and state.mac != MacAddress.ZERO):
                    _LOG.info("%s: %s carries MAC %s but no server owns it: reset",
                              self.a.host_name, address, state.mac)
                    self._reset(address)


def _interface(port: DesiredPort) -> VfInterface:
    """The VF interface of a port that holds one (``port.is_vf``)."""
    assert port.pci_address is not None and port.mac is not None
    return VfInterface(port.pci_address, port.mac, port.vlan, port.port_id, port.fixed_ip)
