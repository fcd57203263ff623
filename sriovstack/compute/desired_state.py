"""What one host should run (servers, ports, VF settings), its revision, and waiting for changes.

The revision lives in the database (``host_revisions``), so several API workers agree on it;
the per-host asyncio events only wake waiters in this process early. A waiter re-reads the
revision every ``poll_interval`` seconds, so a change committed by another worker is seen too.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from sriovstack.compute.types import (DesiredPort, DesiredServer, DesiredState, ServerStatus,
                                      SYSTEM_CALLER)
from sriovstack.db import Database
from sriovstack.db.models.compute import (FlavorRow, HostRevisionRow, ServerPortRow, ServerRow)
from sriovstack.errors import Conflict, NotFound

if TYPE_CHECKING:
    from sriovstack.network import NetworkService
    from sriovstack.network.types import Port

__all__ = ["HostChangeNotifier", "HostRevisions", "DesiredStateService"]



class HostChangeNotifier:
    """Wakes coroutines waiting on a host when this process changes that host's state.

    ``notify`` may be called from any thread (builds run in a worker thread).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def notify(self, host: str) -> None:
        """Set every event registered for ``host``."""
        with self._lock:
            waiters = list(self._waiters.get(host, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # the waiter's loop has closed
                loop.call_soon_threadsafe(event.set)

    @contextlib.asynccontextmanager
    async def listening(self, host: str) -> AsyncIterator[asyncio.Event]:
        """An event set on the next ``notify(host)`` while the block runs."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(host, set()).add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._waiters.get(host, set()).discard(entry)


class HostRevisions:
    """The per-host revision counter: ``bump`` after every committed change an agent must see."""

    def __init__(self, db: Database, notifier: HostChangeNotifier) -> None:
        self._db = db
        self.notifier = notifier

    def current(self, host: str) -> int:
        """The host's revision (0 when nothing was ever recorded for it)."""
        with self._db.transaction() as session:
            value = session.scalar(
                select(HostRevisionRow.revision).where(HostRevisionRow.host == host))
        return int(value or 0)

    def bump(self, host: str) -> int:
        """Increment the host's revision (one atomic UPDATE), wake waiters; return the new value."""
        self._ensure_row(host)
        with self._db.transaction() as session:
            session.execute(update(HostRevisionRow).where(HostRevisionRow.host == host)
                            .values(revision=HostRevisionRow.revision + 1))
            value = session.scalar(
                select(HostRevisionRow.revision).where(HostRevisionRow.host == host))
        self.notifier.notify(host)
        return int(value or 0)

    def _ensure_row(self, host: str) -> None:
        with self._db.transaction() as session:
            if session.get(HostRevisionRow, host) is not None:
                return
        # Two workers may insert at once: the loser's Conflict means the row now exists.
        with contextlib.suppress(Conflict):
            with self._db.transaction() as session:
                session.add(HostRevisionRow(host=host, revision=0))


class DesiredStateService:
    """Builds the desired state of one host and long-polls for a newer revision."""

    def __init__(self, db: Database, network: "NetworkService", revisions: HostRevisions,
                 poll_interval: float = 1.0) -> None:
        self._db = db
        self._network = network
        self._revisions = revisions
        self._poll = poll_interval

    def desired_state(self, host: str) -> DesiredState:
        """The servers placed on ``host`` (not yet deleted) with each port's VF settings."""
        revision = self._revisions.current(host)
        with self._db.transaction() as session:
            rows = session.execute(
                select(ServerRow, FlavorRow).join(FlavorRow, FlavorRow.id == ServerRow.flavor_id,
                                                  isouter=True)
                .where(ServerRow.host == host).order_by(ServerRow.created_at, ServerRow.id)).all()
            ports = {sid: list(session.scalars(
                select(ServerPortRow).where(ServerPortRow.server_id == sid)
                .order_by(ServerPortRow.position))) for sid in (r[0].id for r in rows)}
        servers = tuple(
            DesiredServer(server_id=srv.id, name=srv.name, status=ServerStatus(srv.status),
                          vcpus=flavor.vcpus if flavor else 0,
                          memory_mb=flavor.ram if flavor else 0,
                          ports=tuple(self._port(p) for p in ports[srv.id]))
            for srv, flavor in rows)
        return DesiredState(host=host, revision=revision, servers=servers)

    async def wait_for_change(self, host: str, since: int | None, wait: float) -> DesiredState:
        """The desired state once its revision exceeds ``since``, or after ``wait`` seconds.

        Returns at once when ``since`` is None or already older than the current revision.
        """
        deadline = time.monotonic() + max(0.0, wait)
        async with self._revisions.notifier.listening(host) as changed:
            while True:
                current = await asyncio.to_thread(self._revisions.current, host)
                remaining = deadline - time.monotonic()
                if since is None or current > since or remaining <= 0:
                    return await asyncio.to_thread(self.desired_state, host)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(remaining, self._poll))
                changed.clear()

    def _port(self, row: ServerPortRow) -> DesiredPort:
        try:
            port = self._network.get_port(SYSTEM_CALLER, row.port_id)
        except NotFound:
            # The port was deleted under the server: the agent must tear its VF down.
            return DesiredPort(port_id=row.port_id, mac="", vnic_type=row.vnic_type, vlan=None,
                               pci_address=row.pci_address, physnet=row.physnet,
                               admin_state_up=False, generation=row.generation)
        details = dict(port.binding.vif_details)
        vlan = details.get("vlan")
        physnet = row.physnet
        vlan_id = int(vlan) if isinstance(vlan, str) and vlan.isdigit() else None
        if row.pci_address is None:
            # A normal (Open vSwitch) port has no VF: its segment says where it plugs (20.1).
            segment = self._network.networks.get(SYSTEM_CALLER, port.network_id).segment
            physnet, vlan_id = segment.physnet, segment.segmentation_id or 0
        return DesiredPort(port_id=row.port_id, mac=port.mac, vnic_type=str(port.vnic_type),
                           vlan=vlan_id, pci_address=row.pci_address, physnet=physnet,
                           admin_state_up=port.admin_state_up, generation=row.generation,
                           fixed_ip=self._fixed_ip(port))

    def _fixed_ip(self, port: Port) -> str | None:
        """The port's first fixed IP with its subnet's prefix length ("10.0.0.5/24")."""
        if not port.fixed_ips:
            return None
        first = port.fixed_ips[0]
        cidr = self._network.subnets.get(SYSTEM_CALLER, first.subnet_id).cidr
        return f"{first.ip_address}/{cidr.rsplit('/', 1)[1]}"
