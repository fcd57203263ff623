"""The rules every virt driver checks before it touches a guest, so fake and libvirt refuse alike.

libvirt itself refuses a hostdev interface on a device that is not a VF (it sets the MAC and
VLAN through the PF's ``physfn``, reference/linux_host.md §5.3) and a PCI device already held
by another domain; we check first, so the error names the server, port and address.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sriovstack.errors import Conflict, NotFound, NotSupported
from sriovstack.host import SysfsIO
from sriovstack.pci import PciAddress
from sriovstack.virt.types import Guest, VfInterface

__all__ = ["check_vf_present", "check_attachable", "find_port"]


def check_vf_present(sysfs: SysfsIO, address: PciAddress) -> None:
    """Raise NotFound when ``address`` is absent from the host, NotSupported when it is no VF."""
    base = f"/sys/bus/pci/devices/{address}"
    if not sysfs.exists(base):
        raise NotFound(f"VF {address} does not exist on this host ({base} is missing)",
                       fix="create the VFs first (sriovstack host set-vfs) or re-check the "
                       "claim's pci_slot", path=base, field="pci_address", value=str(address))
    if not sysfs.exists(f"{base}/physfn"):
        raise NotSupported(f"PCI device {address} is not an SR-IOV VF (no physfn link): a "
                           "hostdev interface sets MAC and VLAN through the PF, so only VFs "
                           "can be attached", fix="claim one of the PF's VFs instead",
                           path=f"{base}/physfn", field="pci_address", value=str(address))


def _check_unique(server_id: str, vfs: Sequence[VfInterface]) -> None:
    seen_addr: dict[PciAddress, str] = {}
    seen_port: set[str] = set()
    for vf in vfs:
        if vf.pci_address in seen_addr:
            raise Conflict(f"VF {vf.pci_address} is asked for twice on server {server_id} "
                           f"(ports {seen_addr[vf.pci_address]} and {vf.port_id})",
                           field="pci_address", value=str(vf.pci_address))
        if vf.port_id in seen_port:
            raise Conflict(f"port {vf.port_id} is asked for twice on server {server_id}",
                           field="port_id", value=vf.port_id)
        seen_addr[vf.pci_address] = vf.port_id
        seen_port.add(vf.port_id)


def check_attachable(guests: Iterable[Guest], server_id: str,
                     vfs: Sequence[VfInterface]) -> None:
    """Raise Conflict when a VF or port of ``vfs`` is repeated or already held by any guest."""
    _check_unique(server_id, vfs)
    wanted_addr = {vf.pci_address: vf for vf in vfs}
    wanted_port = {vf.port_id: vf for vf in vfs}
    for guest in guests:
        for held in guest.interfaces:
            if held.pci_address in wanted_addr:
                raise Conflict(
                    f"VF {held.pci_address} is already attached to server {guest.server_id} "
                    f"(port {held.port_id}); a VF can be given to one guest only",
                    fix="detach it there first, or claim another VF",
                    field="pci_address", value=str(held.pci_address), holder=guest.server_id)
            if held.port_id in wanted_port:
                raise Conflict(
                    f"port {held.port_id} is already attached to server {guest.server_id} "
                    f"(VF {held.pci_address})", field="port_id", value=held.port_id,
                    holder=guest.server_id)


def find_port(guest: Guest, port_id: str) -> VfInterface:
    """The VF of ``port_id`` on ``guest``; NotFound when that port is not attached there."""
    for vf in guest.interfaces:
        if vf.port_id == port_id:
            return vf
    attached = ", ".join(vf.port_id for vf in guest.interfaces) or "none"
    raise NotFound(f"port {port_id} is not attached to server {guest.server_id} "
                   f"(attached ports: {attached})", field="port_id", value=port_id)
