"""The port bindings of a live migration, as nova keeps them with neutron's multiple port
bindings: an INACTIVE binding on the target (its claimed VF in the profile) once the VF is
claimed, activated at the switch-over (the source's becomes INACTIVE), and one binding left
at the end: the target's once the source VF is released, the source's on a rollback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sriovstack.compute.scheduler.model import Claim
from sriovstack.compute.types import SYSTEM_CALLER
from sriovstack.errors import ErrorKind, NotFound, SriovstackError
from sriovstack.network import BindingProfile

if TYPE_CHECKING:
    from sriovstack.network import NetworkService

__all__ = ["LiveBindings"]


class LiveBindings:
    """Prepare, switch over and settle the bindings of a live-migrating server's ports."""

    def __init__(self, network: "NetworkService") -> None:
        self._network = network

    def move(self, ports: Sequence[str], claim: Claim) -> str:
        """``prepare`` then ``switch_over`` (just before the server settles on the target);
        "" or why not (the caller rolls back: ``keep`` on the source)."""
        return self.prepare(ports, claim) or self.switch_over(ports, claim.host)

    def prepare(self, ports: Sequence[str], claim: Claim) -> str:
        """An INACTIVE binding on ``claim.host`` for each port (a stale one from an earlier
        attempt is replaced); "" or why a port could not be bound there."""
        bindings = self._network.host_bindings
        for port_id in ports:
            dev = claim.device_for(port_id)
            profile = BindingProfile() if dev is None else BindingProfile(
                pci_slot=dev.address, pci_vendor_info=dev.pci_vendor_info,
                physical_network=dev.physnet)
            try:
                port = self._network.get_port(SYSTEM_CALLER, port_id)
                try:
                    if port.binding.host != claim.host:  # never the ACTIVE one: that unbinds
                        bindings.delete(SYSTEM_CALLER, port_id, claim.host)
                except NotFound as exc:
                    if exc.kind is not ErrorKind.PORT_BINDING_NOT_FOUND:
                        raise
                bindings.create(SYSTEM_CALLER, port_id, claim.host, port.vnic_type, profile)
            except SriovstackError as exc:
                return f"Port {port_id} could not be bound on host {claim.host}: {exc}"
        return ""

    def switch_over(self, ports: Sequence[str], host: str) -> str:
        """Activate each port's binding on ``host`` (already active counts); "" or why not."""
        for port_id in ports:
            try:
                self._network.host_bindings.activate(SYSTEM_CALLER, port_id, host)
            except SriovstackError as exc:
                if exc.kind is ErrorKind.PORT_BINDING_ALREADY_ACTIVE:
                    continue
                return f"Port {port_id} could not be switched over to host {host}: {exc}"
        return ""

    def keep(self, ports: Sequence[str], host: str) -> None:
        """Leave each port with its binding on ``host`` only (activated again if the switch-over
        had happened); idempotent, for the rollback, the sweep and the completion."""
        for port_id in ports:
            self._network.host_bindings.settle_on(SYSTEM_CALLER, port_id, host)
