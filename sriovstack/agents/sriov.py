"""The SR-IOV NIC agent (20.6, neutron-sriov-nic-agent): applies each port's admin state to its
VF and reports the device up or down, so the port goes ACTIVE or DOWN.

It watches the VFs of the PFs in ``[sriov_nic] physical_device_mappings`` (``exclude_devices``
skipped).  A VF is a device while it carries a non-zero administrative MAC (the compute agent
set it for a port); the port is found by (MAC, PCI address) in the host's desired state
(neutron_sriov.md §3.3).  Admin up → link state ``enable``, or ``auto`` when the port has
``propagate_uplink_status`` (the VF's link follows the PF's); admin down → ``disable`` (disable
always wins over auto, neutron bug 2078789); a driver without link-state control (igb) is
skipped and the port is still reported, as neutron's agent does, and for a port that asked for
propagation the report says it is ``unsupported`` (the API shows that in the port's
``binding:vif_details``).  The first pass after a start re-processes every
device (neutron's resync); the devices last reported are kept in the state dir, so a VF
released while the agent was down is noticed and reported down.

Each pass also reads every mapped PF's carrier (operstate) and reports the set when it
changed (``LinkReport``): the API then marks the VFs of a PF without carrier unhealthy, so the
scheduler skips them, and this agent reports their devices down (ports DOWN) until the
carrier returns. A pass ends within ``polling_interval`` seconds, so a pulled cable is seen
within seconds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sriovstack.agents.client import ControlPlaneClient
from sriovstack.agents.config import NicMappings, SriovAgentSettings
from sriovstack.agents.loop import AgentLoop
from sriovstack.agents.records import BookedDevice, DeviceBook, DeviceKey
from sriovstack.agents.vfconfig import VfConfigurator
from sriovstack.agents.watch import DesiredStateWatch
from sriovstack.crashpoints import crash_point
from sriovstack.errors import NotFound
from sriovstack.host import Host, LinkState, VfLinkState, discover
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.wire import (NIC_AGENT_TYPE, NIC_BINARY, DesiredPort, DeviceReport, Heartbeat,
                             LinkReport, PfLink, UplinkPropagation)

__all__ = ["SriovNicAgent", "NicPass", "link_state_for"]

_LOG = logging.getLogger(__name__)


@dataclass(slots=True)
class NicPass:
    """What one pass did: devices reported up and down, link states set, PFs skipped."""

    revision: int = 0
    up: list[DeviceKey] = field(default_factory=list)
    down: list[DeviceKey] = field(default_factory=list)
    link_states: dict[PciAddress, LinkState] = field(default_factory=dict)
    missing_pfs: list[str] = field(default_factory=list)
    carriers: dict[str, bool] = field(default_factory=dict)  # PF netdev → carrier
    links: list[PfLink] = field(default_factory=list)
    links_reported: bool = False
    uplinks: dict[PciAddress, UplinkPropagation] = field(default_factory=dict)  # reported


class SriovNicAgent:
    """One compute host's SR-IOV NIC agent."""

    def __init__(self, settings: SriovAgentSettings, client: ControlPlaneClient, host: Host,
                 mappings: NicMappings) -> None:
        self.settings = settings
        self._client = client
        self._host = host
        self._mappings = mappings
        self._vfs = VfConfigurator(host.netlink)
        self._book = DeviceBook(settings.state_dir)
        self._revision: int | None = None
        self._watch = DesiredStateWatch(client, settings.host)
        self._resync = True
        self._started = False
        self._devices = 0
        self._links: LinkReport | None = None  # what the API last heard
        self._uplinks: dict[DeviceKey, UplinkPropagation] = {}  # reported per device

    @property
    def host_name(self) -> str:
        return self.settings.host

    def heartbeat(self) -> None:
        """State report: "NIC Switch agent" with configurations.device_mappings."""
        self._client.heartbeat(self.host_name, Heartbeat(
            NIC_AGENT_TYPE, NIC_BINARY, self._mappings.device_mappings(), self._devices,
            start_flag=not self._started))
        self._started = True

    def reconcile_once(self, wait: float = 0.0) -> NicPass:
        """One pass; with ``wait`` > 0 first waits up to that long for a newer desired state.

        Any failure leaves a full resync for the next pass.
        """
        resync, self._resync = self._resync, True
        if resync:
            self._watch.refresh()
        desired = self._watch.next(wait)
        result = NicPass(revision=desired.revision)
        ports = {(p.mac, p.pci_address): p for s in desired.servers for p in s.ports
                 if p.is_vf and p.pci_address is not None}
        current = self._devices_on_host(result)
        self._report_links(result.links, resync, result)
        for key, (pf_netdev, index) in sorted(current.items(), key=lambda kv: str(kv[0][1])):
            port = ports.get(key)
            if port is not None:
                carrier = result.carriers.get(pf_netdev, True)
                self._apply(key, pf_netdev, index, port, resync, result, carrier)
        for device in self._book.devices():
            if device.key not in current or device.key not in ports:
                self._gone(device, result)
        self._devices = len(current)
        self._revision = desired.revision
        self._resync = False
        return result

    def run(self, stop: threading.Event) -> None:
        """Reconcile every polling_interval and heartbeat every report_interval until stop."""
        AgentLoop(f"sriov-nic-agent {self.host_name}",
                  lambda: self.reconcile_once(self.settings.polling_interval), self.heartbeat,
                  report_interval=self.settings.report_interval).run(stop)

    def _devices_on_host(self, result: NicPass) -> dict[DeviceKey, tuple[str, int]]:
        """(MAC, VF address) → (PF netdev, VF index) for every VF of the mapped PFs that
        carries a MAC, excluded VFs left out. A mapped PF that is gone now is skipped."""
        inventory = discover(self._host.sysfs)
        found: dict[DeviceKey, tuple[str, int]] = {}
        for netdev in self._mappings.netdevs():
            pf = next((p for p in inventory.pfs if p.netdev == netdev), None)
            if pf is None:
                result.missing_pfs.append(netdev)
                continue
            result.carriers[netdev] = pf.operstate == "up"
            result.links.append(PfLink(pf.address, netdev, pf.operstate == "up"))
            excluded = self._mappings.excluded.get(netdev, frozenset())
            by_index = {vf.index: vf.address for vf in pf.vfs}
            for state in self._host.netlink.get_vfs(netdev):
                address = by_index.get(state.vf)
                if address is None or address in excluded or state.mac == MacAddress.ZERO:
                    continue
                found[(state.mac, address)] = (netdev, state.vf)
        return found

    def _report_links(self, links: list[PfLink], resync: bool, result: NicPass) -> None:
        """Tell the API the PFs' carriers when they changed (or after a start)."""
        report = LinkReport(tuple(sorted(links, key=lambda p: str(p.address))))
        if resync or report != self._links:
            try:
                self._client.report_links(self.host_name, report)
            except NotFound:  # the compute agent has not registered the host yet
                _LOG.info("%s: host not registered yet; PF links reported later",
                          self.host_name)
                return
            self._links = report
            result.links_reported = True

    def _apply(self, key: DeviceKey, pf_netdev: str, index: int, port: DesiredPort,
               resync: bool, result: NicPass, carrier: bool) -> None:
        wanted = link_state_for(port)
        up = port.admin_state_up and carrier  # no carrier: the VF cannot pass traffic
        applied = self._vfs.apply(pf_netdev, index, (VfLinkState(wanted),)) == ()
        crash_point("sriov.link_set")
        uplink = UplinkPropagation.OFF
        if port.propagate_uplink_status:
            # igb reads as auto already, yet cannot set it: ask the driver, once per PF.
            applied = self._vfs.probe(pf_netdev, index, VfLinkState(wanted))
            uplink = UplinkPropagation.FOLLOWING if applied else UplinkPropagation.UNSUPPORTED
        if applied:
            result.link_states[key[1]] = wanted
        elif not port.admin_state_up:
            _LOG.warning("%s: %s vf %d cannot be disabled (no link-state control in the "
                         "driver); its port is reported down", self.host_name, pf_netdev, index)
        if uplink is UplinkPropagation.UNSUPPORTED and self._uplinks.get(key) is not uplink:
            _LOG.warning("%s: %s vf %d cannot propagate the uplink status of port %s (no "
                         "link-state control in the driver)", self.host_name, pf_netdev, index,
                         port.port_id)
        known = self._book.get(key)
        if resync or known is None or known.up != up or self._uplinks.get(key) is not uplink:
            self._report(key, up, result, uplink)

    def _gone(self, device: BookedDevice, result: NicPass) -> None:
        """A device reported before is no longer on a VF (released) or no port wants it."""
        if device.up:
            self._report(device.key, False, result)
        self._book.drop(device.key)
        self._uplinks.pop(device.key, None)

    def _report(self, key: DeviceKey, up: bool, result: NicPass,
                uplink: UplinkPropagation = UplinkPropagation.OFF) -> None:
        mac, address = key
        try:
            self._client.report_device(self.host_name, DeviceReport(mac, address, up, uplink))
        except NotFound:  # the port is no longer bound here: nothing to tell
            _LOG.info("%s: no port bound here for %s on %s", self.host_name, mac, address)
        (result.up if up else result.down).append(key)
        if uplink is not UplinkPropagation.OFF:
            result.uplinks[address] = uplink
        self._uplinks[key] = uplink
        self._book.put(BookedDevice(mac, address, up))


def link_state_for(port: DesiredPort) -> LinkState:
    """The VF link state a port asks for: ``disable`` while admin down (it wins over auto,
    neutron bug 2078789), ``auto`` with propagate_uplink_status, else ``enable``."""
    if not port.admin_state_up:
        return LinkState.DISABLE
    return LinkState.AUTO if port.propagate_uplink_status else LinkState.ENABLE
