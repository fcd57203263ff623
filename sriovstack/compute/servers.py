"""The server lifecycle: create (BUILD), list/show, delete, actions, and agents' status reports."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.orm import Session

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.flavors import FlavorService
from sriovstack.compute.images import ImageService
from sriovstack.compute.server_create import ServerCreator
from sriovstack.compute.server_list import MAX_LIMIT, listed_servers
from sriovstack.compute.server_rows import server_of
from sriovstack.compute.quotas import ComputeQuotas
from sriovstack.compute import operations
from sriovstack.compute.claims import allocated_after
from sriovstack.compute.desired_state import HOSTS_CHANNEL, bumped_after
from sriovstack.compute.instance_actions import InstanceActionLog, finished_after
from sriovstack.compute.keypairs import KeypairService
from sriovstack.compute.migration import MigrationService, MoveKind
from sriovstack.compute.types import (ConfirmResizeAction, EndedMoves, ResizeAction,
                                      RevertResizeAction)
from sriovstack.compute.types import (Flavor, InstanceAction, LiveMigrateAction,
                                      LockAction, MigrateAction, Operation,
                                      PowerAction, RebuildAction, Server, ServerAction,
                                      ShelveAction, UnlockAction, UnshelveAction,
                                      EvacuateAction, ConsoleOutputAction,
                                      ServerAddress, ServerCreate, ServerFilter,
                                      ServerStatus, ServerUpdate)
from sriovstack.db import Database, check_payload, rows_of
from sriovstack.db.models import FaultRow, ServerPortRow, ServerRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound, NotSupported
from sriovstack.identity import Caller, policy
from sriovstack.network import ListQuery
from sriovstack.wire import ServerOutcome, ServerReport

if TYPE_CHECKING:
    from sriovstack.compute.console import ConsoleLog
    from sriovstack.compute.evacuate import EvacuateService
    from sriovstack.compute.shelve import ShelveService
    from sriovstack.network import NetworkService

__all__ = ["ServerService", "MAX_LIMIT"]

_DELETED = ServerStatus.DELETED.value  # a delete fenced the row; its teardown is under way


class ServerService:
    """Servers as nova's API sees them; the build itself is ``ServerBuilder``'s."""

    def __init__(self, db: Database, network: "NetworkService", flavors: FlavorService,
                 images: ImageService, builder: ServerBuilder,
                 shelves: "ShelveService | None" = None,
                 evacuations: "EvacuateService | None" = None,
                 console: "ConsoleLog | None" = None, *,
                 keypairs: KeypairService | None = None,
                 quotas: ComputeQuotas | None = None,
                 migrations: MigrationService | None = None) -> None:
        self.migrations = migrations
        self._db = db
        self._console = console
        self._shelves = shelves
        self._evacuations = evacuations
        self._network = network
        self._flavors = flavors
        self._images = images
        self.builder = builder
        self._log = InstanceActionLog()
        self._creator = ServerCreator(db, network, builder, keypairs=keypairs, quotas=quotas)

    # -- create ---------------------------------------------------------------------------

    def create(self, caller: Caller, spec: ServerCreate, request_id: str = "") -> Server:
        """Record a new server in BUILD; ``builder.build(id)`` must then run (after the 202).

        Raises Forbidden (no project scope), Invalid (unknown flavor/image/network/port: nova
        answers 400), NotSupported (vnic_type macvtap, 20.9), Conflict ("Port <id> is still
        in use."), Invalid ("Invalid key_name provided.") for a key pair the caller lacks.
        """
        policy.require_project_scope(caller, "creating a server")
        return self._creator.create(caller, spec, request_id)

    # -- read -----------------------------------------------------------------------------

    def get(self, caller: Caller, server_id: str) -> Server:
        """The server, if the caller's project owns it (admins see all); NotFound otherwise."""
        with self._db.autocommit() as session:  # reads: see ``Database.autocommit``
            row = session.get(ServerRow, server_id)
            if row is None or row.status == _DELETED or \
                    not policy.in_scope(caller, row.project_id):
                raise _not_found(server_id)
            server = _to_server(session, row)
        return self._resolved(caller, server, {})

    def list(self, caller: Caller, query: ServerFilter = ServerFilter()) -> tuple[Server, ...]:
        """Servers newest first (or in ``sorts``), at most ``MAX_LIMIT`` (or ``limit``) after
        ``marker``; ``name`` is a regex (nova's semantics, run by RE2). Invalid if the pattern
        is malformed or the marker names no server (nova: "marker [x] not found").  In a
        transaction: a name pattern streams the rows through a server-side cursor."""
        with self._db.transaction() as session:
            servers = _to_servers(session, listed_servers(session, caller, query))
        return self._resolved_many(caller, servers)

    def on_host(self, host: str) -> tuple[Server, ...]:
        """Every server placed on ``host`` (admin views; no addresses resolved)."""
        with self._db.autocommit() as session:
            rows = session.scalars(select(ServerRow).where(ServerRow.host == host)
                                   .order_by(ServerRow.created_at, ServerRow.id)).all()
            return tuple(_to_server(session, r) for r in rows)

    def _resolved(self, caller: Caller, server: Server,
                  flavors: dict[str, Flavor | None]) -> Server:
        """The server with its addresses and flavor (``flavors``: cached)."""
        if server.flavor_id not in flavors:
            try:
                flavors[server.flavor_id] = self._flavors.get(server.flavor_id)
            except NotFound:
                flavors[server.flavor_id] = None
        addresses: list[ServerAddress] = []
        for sp in server.ports:
            try:
                port = self._network.get_port(caller, sp.port_id)
                network = self._network.networks.get(caller, port.network_id)
            except NotFound:
                continue
            for ip in port.fixed_ips:
                version = 6 if ":" in ip.ip_address else 4
                addresses.append(ServerAddress(network.name, version, ip.ip_address, port.mac))
        return dataclasses.replace(server, addresses=tuple(addresses),
                                   flavor=flavors[server.flavor_id])

    def _resolved_many(self, caller: Caller, servers: list[Server]) -> tuple[Server, ...]:
        """``_resolved`` for a page: its ports and their networks read in one list each."""
        port_ids = tuple(sp.port_id for s in servers for sp in s.ports)
        ports = {p.id: p for p in self._network.ports.list(
            caller, ListQuery(filters=(("id", port_ids),)))} if port_ids else {}
        network_ids = tuple({p.network_id for p in ports.values()})
        networks = {n.id: n.name for n in self._network.networks.list(
            caller, ListQuery(filters=(("id", network_ids),)))} if network_ids else {}
        flavors: dict[str, Flavor | None] = {}
        out = []
        for server in servers:
            if server.flavor_id not in flavors:
                try:
                    flavors[server.flavor_id] = self._flavors.get(server.flavor_id)
                except NotFound:
                    flavors[server.flavor_id] = None
            addresses = [
                ServerAddress(networks[port.network_id], 6 if ":" in ip.ip_address else 4,
                              ip.ip_address, port.mac)
                for sp in server.ports if (port := ports.get(sp.port_id)) is not None
                and port.network_id in networks for ip in port.fixed_ips]
            out.append(dataclasses.replace(server, addresses=tuple(addresses),
                                           flavor=flavors[server.flavor_id]))
        return tuple(out)

    # -- update and lock ----------------------------------------------------------------------

    def update(self, caller: Caller, server_id: str, change: ServerUpdate) -> Server:
        """Rename, set access IPs or the description; the VF and the binding are untouched.

        Raises NotFound, Conflict (locked, for anyone but an admin)."""
        server = self.get(caller, server_id)
        self._check_unlocked(caller, server)
        with self._db.transaction() as session:
            row = _row(session, server_id)
            if change.name is not None:
                row.name = change.name
            if change.access_ipv4 is not None:
                row.access_ipv4 = change.access_ipv4
            if change.access_ipv6 is not None:
                row.access_ipv6 = change.access_ipv6
            if change.set_description:
                row.description = change.description
            row.updated_at = self.builder.clock.now()
        return self.get(caller, server_id)

    def _set_lock(self, caller: Caller, server_id: str, locked: bool, reason: str | None,
                  request_id: str) -> None:
        """Lock (others than admins can no longer act on it) or unlock the server; its owner
        or an admin may do either (we do not record who locked it)."""
        self.get(caller, server_id)
        now = self.builder.clock.now()
        with self._db.transaction() as session:
            row = _row(session, server_id)
            row.locked, row.locked_reason = locked, reason if locked else None
            row.updated_at = now
            self._log.start(session, server_id, "lock" if locked else "unlock", None,
                            request_id, caller.user_id or "", row.host, now)

    @staticmethod
    def _check_unlocked(caller: Caller, server: Server) -> None:
        # Nova: a locked instance refuses actions (409) except for admins.
        if server.locked and not caller.is_admin:
            raise Conflict(f"Instance {server.id} is locked", kind=ErrorKind.INSTANCE_IS_LOCKED,
                           value=server.id)

    # -- delete and actions -----------------------------------------------------------------

    def delete(self, caller: Caller, server_id: str) -> None:
        """Unbind its ports (deleting those compute created), free its claims, forget it.

        One fenced change first marks the server DELETED under this worker's lease, so a
        build running at any moment loses from then on and undoes its own claims; then the
        teardown.  Raises NotFound when it is not the caller's, or another delete has it;
        Conflict when it is locked (for anyone but an admin)."""
        server = self.get(caller, server_id)
        self._check_unlocked(caller, server)
        if self.builder.leases.fence_delete(server_id) is None:
            raise _not_found(server_id)
        self.builder.finish_delete(server_id)

    def action(self, caller: Caller, server_id: str, action: ServerAction,
               request_id: str = "") -> None:
        """Run a server action; power operations are handed to the host's agent (202).

        Raises NotFound, Conflict (locked; InstanceInvalidState for the server's state),
        Invalid (rebuild's image), NotSupported for migration (409 for SR-IOV ports, 20.9)."""
        match action:
            case LockAction(reason=reason):
                self._set_lock(caller, server_id, True, reason, request_id)
            case UnlockAction():
                self._set_lock(caller, server_id, False, None, request_id)
            case PowerAction(op=op):
                self._operate(caller, server_id, op, request_id, None)
            case RebuildAction():
                self._image(action.image_ref)
                self._operate(caller, server_id, Operation.REBUILD, request_id, action)
            case MigrateAction() | LiveMigrateAction() | ResizeAction() | \
                    ConfirmResizeAction() | RevertResizeAction():
                self._move(caller, server_id, action, request_id)
            case ShelveAction() | UnshelveAction():
                self._shelve(caller, server_id, action, request_id)
            case ConsoleOutputAction():
                self.console_output(caller, server_id, action)
            case EvacuateAction(host=host):
                server = self.get(caller, server_id)
                self._check_unlocked(caller, server)
                if self._evacuations is None:
                    raise NotSupported(f"Cannot evacuate server {server_id}: evacuation is "
                                       "not wired in this compute service.", field="action",
                                       value="evacuate")
                self._evacuations.evacuate(caller, server, host, request_id)

    def console_output(self, caller: Caller, server_id: str,
                       action: ConsoleOutputAction) -> str:
        """The last ``action.length`` lines of the guest's console (compute/console.py).

        Raises NotFound; Conflict (409, nova's InstanceNotReady) for a server not on a host."""
        server = self.get(caller, server_id)
        if server.host is None or self._console is None:
            raise Conflict(f"Instance {server_id} is not ready (it runs on no host, so it has "
                           "no console)", kind=ErrorKind.INSTANCE_INVALID_STATE,
                           value=server_id)
        return self._console.tail(server_id, action.length)

    def _shelve(self, caller: Caller, server_id: str, action: ShelveAction | UnshelveAction,
                request_id: str) -> None:
        """shelve/unshelve (compute/shelve.py); unshelve's build runs after the 202."""
        server = self.get(caller, server_id)
        self._check_unlocked(caller, server)
        if self._shelves is None:
            raise NotSupported(f"Cannot {action.name} server {server_id}: shelving is not "
                               "wired in this compute service.", field="action",
                               value=action.name)
        if isinstance(action, UnshelveAction):
            self._shelves.unshelve(caller, server, action.availability_zone, request_id)
        else:
            self._shelves.shelve(caller, server, request_id)

    def _move(self, caller: Caller, server_id: str, action: ServerAction,
              request_id: str) -> None:
        """The moves (compute/migration.py): migrate and os-migrateLive are admin-only, as
        nova's default policy; resize, confirmResize and revertResize the owner's."""
        if self.migrations is None:
            self._refuse_migration(caller, server_id, action.name)
            return
        server = self.get(caller, server_id)  # nova: 404 first, then the policy's 403
        if isinstance(action, (MigrateAction, LiveMigrateAction)):
            policy.require_admin(caller, f"server action {action.name}")
        self._check_unlocked(caller, server)
        user = caller.user_id or ""
        match action:
            case ResizeAction(flavor_ref=flavor_ref):
                self.migrations.move(server, MoveKind.RESIZE, user, request_id,
                                     flavor_id=flavor_ref)
            case MigrateAction(host=host):
                self.migrations.move(server, MoveKind.MIGRATION, user, request_id, host=host)
            case LiveMigrateAction(host=host, async_checks=async_checks):
                self.migrations.move(server, MoveKind.LIVE, user, request_id, host=host,
                                     async_errors=async_checks)
            case ConfirmResizeAction():
                self.migrations.confirm(server, user, request_id)
            case RevertResizeAction():
                self.migrations.revert(server, user, request_id)

    def _operate(self, caller: Caller, server_id: str, op: Operation, request_id: str,
                 rebuild: RebuildAction | None) -> None:
        server = self.get(caller, server_id)
        self._check_unlocked(caller, server)
        now = self.builder.clock.now()
        with self._db.transaction() as session:
            row = _row(session, server_id)
            operations.begin(session, row, op, self._log, request_id, caller.user_id or "",
                             now)
            if rebuild is not None:
                operations.apply_rebuild(row, rebuild)
        assert server.host is not None  # begin refuses unplaced servers
        self.builder.revisions.bump(server.host)

    def _image(self, image_ref: str) -> None:
        try:
            self._images.get(image_ref)
        except NotFound as exc:
            raise Invalid(f"Can not find requested image {image_ref}", field="imageRef",
                          value=image_ref) from exc

    def actions(self, caller: Caller, server_id: str) -> tuple[InstanceAction, ...]:
        """The server's instance actions, newest first; NotFound for an unknown server."""
        self.get(caller, server_id)
        with self._db.transaction() as session:
            return self._log.list(session, server_id)

    def instance_action(self, caller: Caller, server_id: str,
                        request_id: str) -> InstanceAction:
        """One instance action with its events; NotFound for an unknown server or request."""
        self.get(caller, server_id)
        with self._db.transaction() as session:
            return self._log.get(session, server_id, request_id)

    def _refuse_migration(self, caller: Caller, server_id: str, name: str) -> None:
        server = self.get(caller, server_id)
        self._check_unlocked(caller, server)
        if server.has_pci_port:
            raise NotSupported(
                f"Cannot {name} server {server_id}: it has an SR-IOV port (vnic_type direct "
                "or direct-physical). Migration of instances with SR-IOV ports is not supported "
                "(RHEL OSP SR-IOV chapter 20.9).", status=409, field="action", value=name)
        raise NotSupported(f"Cannot {name} server {server_id}: migration is not implemented "
                           "by this compute service.", field="action", value=name)

    def report_status(self, host: str, server_id: str,
                      report: ServerReport) -> tuple[str, ServerStatus]:
        """The compute agent's report, in one transaction: it completes the running task or
        the build (error → ERROR with a fault; operations.complete), allocates the devices of
        a guest now running, settles a move, bumps the host's revision.  Returns (id, status).
        A boot's report is tried first on its own: on PostgreSQL one statement, committed
        without BEGIN or COMMIT; when it finds no server building there, it changed nothing
        and the transaction for any other report follows.

        Raises NotFound when the server is unknown, Conflict when it is not placed on ``host``.
        """
        now = self.builder.clock.now()
        if report.outcome is ServerOutcome.RUNNING:  # a boot's report, the common one, first
            with self._db.autocommit() as session:  # PostgreSQL: its one statement
                if self._built(session, server_id, host, now):
                    self.builder.revisions.notifier.notify(host)
                    return server_id, ServerStatus.ACTIVE
        with self._db.transaction() as session:
            status, ended = self._complete(session, host, server_id, report, now)
            self.builder.revisions.bump_in(session, host)
        self.builder.revisions.notifier.notify(host)
        if ended is not None and self.migrations is not None:
            self.migrations.release_moves(ended)
        return server_id, status

    def _built(self, session: Session, server_id: str, host: str, now: datetime) -> bool:
        """A running guest's report of a server building on ``host``: ACTIVE, its build's
        event finished, its devices allocated, the host's revision bumped. On PostgreSQL in
        one statement (``_BOOT_REPORTED``), elsewhere as ``operations.complete_build`` and
        the steps after it. False, having changed nothing, for any other server."""
        if self._db.dialect == "postgresql":
            check_payload(host)
            return bool(session.execute(_BOOT_REPORTED, {
                "server": server_id, "on_host": host, "now": now, "finished": now,
                "outcome": "Success", "trace": None, "touched": now,
                "revised_host": host}).scalar_one())
        if not operations.complete_build(session, server_id, host, self._log, now):
            return False
        self.builder.allocate(server_id, session)
        self.builder.revisions.bump_in(session, host)
        return True

    def _complete(self, session: Session, host: str, server_id: str, report: ServerReport,
                  now: datetime) -> tuple[ServerStatus, EndedMoves | None]:
        """Any other report, its server's row locked first: (the status, the moves ended)."""
        row = operations.lock_reported(session, server_id)
        if row is None or row.status == _DELETED:  # a delete fenced it: too late
            raise _not_found(server_id)
        if row.host != host:
            raise Conflict(f"Instance {server_id} is not placed on host {host} "
                           f"(it is on {row.host or 'no host'}).", field="host", value=host)
        stopped = bool(operations.stopped_moves(session, [row]))
        # A build settles no move: moves start from ACTIVE/SHUTOFF, rebuilds from no task.
        building = row.status == ServerStatus.BUILD.value
        after = operations.complete(session, row, report.outcome, report.message, self._log,
                                    now, stopped)
        if after is None:
            return ServerStatus(row.status), None
        if report.outcome is ServerOutcome.RUNNING:
            self.builder.allocate(server_id, session)
        if self.migrations is None or building:
            return ServerStatus(after.status), None
        return ServerStatus(after.status), self.migrations.settle_after_report(session, after)


def _not_found(server_id: str) -> NotFound:
    return NotFound(f"Instance {server_id} could not be found.",
                    kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)


def _row(session: Session, server_id: str) -> ServerRow:
    row = session.get(ServerRow, server_id)
    if row is None or row.status == _DELETED:  # deleted since the caller's read
        raise _not_found(server_id)
    return row


def _to_servers(session: Session, rows: list[ServerRow]) -> list[Server]:
    """The servers of ``rows`` with their ports and faults, read in two queries."""
    ids = [row.id for row in rows]
    ports: dict[str, list[ServerPortRow]] = {i: [] for i in ids}
    faults: dict[str, FaultRow] = {}
    for start in range(0, len(ids), 500):  # bounded IN lists
        chunk = ids[start:start + 500]
        for port in session.scalars(select(ServerPortRow).where(
                ServerPortRow.server_id.in_(chunk)).order_by(ServerPortRow.position)):
            ports[port.server_id].append(port)
        faults.update((f.server_id, f) for f in session.scalars(
            select(FaultRow).where(FaultRow.server_id.in_(chunk))))
    off = operations.stopped_moves(session, rows)
    return [server_of(row, ports[row.id], faults.get(row.id), row.id in off) for row in rows]


def _to_server(session: Session, row: ServerRow) -> Server:
    ports = session.scalars(select(ServerPortRow).where(
        ServerPortRow.server_id == row.id).order_by(ServerPortRow.position)).all()
    return server_of(row, ports, session.get(FaultRow, row.id),
                      bool(operations.stopped_moves(session, [row])))


def _boot_reported() -> Select[Any]:
    """``ServerService._built`` on PostgreSQL as one statement: data-modifying CTEs, each run
    after the one before (an EXISTS of the server's row, a count of the parts before it), so
    the rows are locked in the order of the statements one by one: the server's, its event's
    and action's, its devices', the host's revision. Its row: whether the server was built.
    Nothing runs but the server's UPDATE when that finds no building server."""
    built = operations.built_cte()
    found = exists(select(built.c.id))
    touched = finished_after(found)
    allocated = allocated_after(and_(found, rows_of(touched) >= 0))
    bumped = bumped_after(and_(found, rows_of(allocated) >= 0))
    notified = select(func.pg_notify(HOSTS_CHANNEL, bumped.c.host)).scalar_subquery()
    return select(rows_of(built).label("built"), notified.label("notified"))


_BOOT_REPORTED = _boot_reported()  # built once: every boot's report runs it
