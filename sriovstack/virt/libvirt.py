"""LibvirtDriver: the VirtDriver over libvirt-python, one domain per server with its VFs as hostdev.

libvirt-python is the optional extra ``sriovstack[libvirt]`` and is imported only when a driver
is made.  Every ``libvirtError`` becomes a sriovstack error here (``VIR_ERR_NO_DOMAIN`` →
NotFound, anything else → VirtError with the libvirt code), so nothing above sees libvirt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, TypeVar

from sriovstack.errors import Conflict, NotFound, NotSupported, VirtError
from sriovstack.host import SysfsIO
from sriovstack.virt.domain_xml import domain_xml, interface_xml, parse_guest
from sriovstack.virt.rules import check_attachable, check_vf_present, find_port
from sriovstack.virt.types import Guest, GuestSpec, VfInterface, domain_name, server_id_of

__all__ = ["LibvirtDriver", "import_libvirt"]

_T = TypeVar("_T")
INSTANCES_DIR = PurePosixPath("/var/lib/sriovstack/instances")


def import_libvirt() -> Any:
    """The libvirt module; NotSupported, saying how to install it, when it is missing."""
    try:
        import libvirt  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:
        raise NotSupported(
            "the libvirt virt driver needs libvirt-python, which is not installed",
            fix="pip install 'sriovstack[libvirt]' (it builds against the libvirt-dev headers "
            "with pkg-config; Debian: apt-get install libvirt-dev pkg-config gcc)") from exc
    return libvirt


class LibvirtDriver:
    """Guests as libvirt domains named ``sriovstack-<server id>`` on connection ``uri``.

    ``sysfs`` is the host's sysfs seam, used to check a VF exists before libvirt is asked;
    ``domain_type`` is ``kvm`` on a compute host and ``test`` for ``test:///default``.
    """

    def __init__(self, sysfs: SysfsIO, uri: str = "qemu:///system", *,
                 domain_type: str = "kvm", instances_dir: PurePosixPath = INSTANCES_DIR) -> None:
        self._lv = import_libvirt()
        # libvirt's default handler prints every error to stderr, even ones we catch and
        # translate; ours reach the caller as sriovstack errors instead.
        self._lv.registerErrorHandler(lambda _ctx, _err: None, None)
        self._sysfs = sysfs
        self._domain_type = domain_type
        self._instances_dir = instances_dir
        with self._translated("connect to", uri):
            self._conn = self._lv.open(uri)

    def close(self) -> None:
        """Close the libvirt connection."""
        with self._translated("close connection", "-"):
            self._conn.close()

    @contextmanager
    def _translated(self, operation: str, name: str) -> Iterator[None]:
        try:
            yield
        except self._lv.libvirtError as exc:
            code = exc.get_error_code()
            if code == self._lv.VIR_ERR_NO_DOMAIN:
                raise NotFound(f"no guest {name}: {exc.get_error_message()}",
                               domain=name, operation=operation) from exc
            raise VirtError(f"libvirt could not {operation} {name}: {exc.get_error_message()}",
                            domain=name, operation=operation, libvirt_code=code) from exc

    def _call(self, operation: str, name: str, fn: Callable[[], _T]) -> _T:
        with self._translated(operation, name):
            return fn()

    def _lookup(self, server_id: str) -> Any:
        name = domain_name(server_id)
        try:
            return self._call("look up", name, lambda: self._conn.lookupByName(name))
        except NotFound:
            raise NotFound(f"no guest for server {server_id} (libvirt domain {name} is not "
                           "defined)", field="server_id", value=server_id) from None

    def _guest(self, dom: Any) -> Guest:
        name = dom.name()
        running = bool(self._call("read state of", name, dom.isActive))
        guest = parse_guest(self._call("read XML of", name, lambda: dom.XMLDesc(0)),
                            running=running)
        if guest is None:  # pragma: no cover - _lookup only finds our names
            raise NotFound(f"domain {name} is not managed by sriovstack", domain=name)
        return guest

    def _flags(self, dom: Any) -> int:
        # AFFECT_LIVE on a stopped domain is an error (linux_host.md §5.4): config only then.
        flags = int(self._lv.VIR_DOMAIN_AFFECT_CONFIG)
        if self._call("read state of", dom.name(), dom.isActive):
            flags |= int(self._lv.VIR_DOMAIN_AFFECT_LIVE)
        return flags

    def list_guests(self) -> tuple[Guest, ...]:
        doms = self._call("list domains of", "connection", lambda: self._conn.listAllDomains(0))
        guests = [self._guest(d) for d in doms if server_id_of(d.name()) is not None]
        return tuple(sorted(guests, key=lambda g: g.server_id))

    def get_guest(self, server_id: str) -> Guest:
        return self._guest(self._lookup(server_id))

    def spawn(self, guest: GuestSpec) -> Guest:
        try:
            self._lookup(guest.server_id)
        except NotFound:
            pass
        else:
            raise Conflict(f"server {guest.server_id} already has a guest ({guest.domain_name})",
                           field="server_id", value=guest.server_id)
        for vf in guest.interfaces:
            check_vf_present(self._sysfs, vf.pci_address)
        check_attachable(self.list_guests(), guest.server_id, guest.interfaces)
        xml = domain_xml(guest, domain_type=self._domain_type,
                         disk_path=self._instances_dir / guest.server_id / "disk")
        name = guest.domain_name
        dom = self._call("define", name, lambda: self._conn.defineXML(xml))
        try:
            self._call("start", name, dom.create)
        except VirtError:
            # Nothing half-applied: a guest that did not start is not left defined.
            self._call("undefine", name, dom.undefine)
            raise
        return self._guest(dom)

    def destroy(self, server_id: str) -> tuple[VfInterface, ...]:
        dom = self._lookup(server_id)
        guest = self._guest(dom)
        if guest.running:
            self._call("stop", guest.domain_name, dom.destroy)
        self._call("undefine", guest.domain_name, dom.undefine)
        return guest.interfaces

    def attach_vf(self, server_id: str, vf: VfInterface) -> None:
        dom = self._lookup(server_id)
        check_vf_present(self._sysfs, vf.pci_address)
        check_attachable(self.list_guests(), server_id, [vf])
        xml, flags = interface_xml(vf), self._flags(dom)
        self._call(f"attach VF {vf.pci_address} (port {vf.port_id}) to", dom.name(),
                   lambda: dom.attachDeviceFlags(xml, flags))

    def detach_vf(self, server_id: str, port_id: str) -> VfInterface:
        dom = self._lookup(server_id)
        vf = find_port(self._guest(dom), port_id)
        flags = self._flags(dom)
        # Live detach is asynchronous (the guest must let go): the agent's next pass reads
        # the domain back and sees whether the alias is gone.
        self._call(f"detach VF {vf.pci_address} (port {port_id}) from", dom.name(),
                   lambda: dom.detachDeviceAlias(vf.alias, flags))
        return vf
