"""Server create: a new server's flavor, image, key pair and ports checked, and the server
inserted in BUILD, all in one transaction when every port is given; ports compute creates for
``{uuid}`` requests come from the network service between a checking and an inserting one."""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, bindparam, insert, select, union_all
from sqlalchemy.orm import Session

from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.flavor_requests import flavor_pci
from sriovstack.compute.flavors import FlavorService
from sriovstack.compute.images import ImageService
from sriovstack.compute.instance_actions import STARTED_CTE, InstanceActionLog, started_values
from sriovstack.compute.keypairs import KeypairService
from sriovstack.compute.quotas import ComputeQuotas
from sriovstack.compute.types import (Flavor, NetworkRequest, Server, ServerAddress,
                                      ServerCreate, ServerPort, ServerStatus)
from sriovstack.db import Database, rows_of
from sriovstack.db.models import ServerPortRow, ServerRow
from sriovstack.errors import (Conflict, ErrorKind, Invalid, NotFound, NotSupported,
                               WriteConflict)
from sriovstack.identity import Caller
from sriovstack.mac import MacAddress
from sriovstack.network import FixedIp, Port, PortSpec
from sriovstack.wire import VnicType

if TYPE_CHECKING:
    from sriovstack.network import NetworkService

__all__ = ["ServerCreator"]

_BUILD_EVENT = "compute__do_build_and_run_instance"  # the create's event, as nova names it

# The create's writes, built once: Core INSERTs (no ORM objects, no unit of work), the
# ports of a server in one executemany.
_S, _P = ServerRow.__table__, ServerPortRow.__table__
_INSERT_SERVER = insert(_S)
_INSERT_PORTS = insert(_P)


@functools.lru_cache(maxsize=8)
def _insert_pg(server: tuple[str, ...], port: tuple[str, ...], ports: int) -> Select[Any]:
    """The create's writes on PostgreSQL as one statement: the server (columns ``server``,
    bound as ``s_<column>``), its ``ports`` ports (columns ``port``, the i-th bound as
    ``p<i>_<column>``) and the create's action with its event (``started_values``), each a
    data-modifying CTE; the foreign keys of the ports and of the event are checked at the
    statement's end, when the rows they name exist.  Three round trips fewer than the
    statements one by one."""
    made = insert(_S).values({c: bindparam(f"s_{c}", type_=_S.c[c].type) for c in server})
    parts = [rows_of(made.returning(_S.c.id).cte("made")), rows_of(STARTED_CTE)]
    if ports:  # from SELECTs of the binds: a multi-row VALUES would not be cacheable (SQLAlchemy
        # would compile it again at every run)
        rows = [select(*(bindparam(f"p{i}_{c}", type_=_P.c[c].type).label(c) for c in port))
                for i in range(ports)]
        held = insert(_P).from_select(list(port), rows[0] if ports == 1 else union_all(*rows),
                                      include_defaults=False)
        parts.append(rows_of(held.returning(_P.c.id).cte("held")))
    return select(*parts)


@dataclass(frozen=True, slots=True)
class _NewPort:
    """A port the new server will hold: its ``server_ports`` row, less the server's id."""

    port_id: str
    network_id: str
    position: int
    created_by_compute: bool
    vnic_type: VnicType
    physnet: str | None = None

    def values(self, server_id: str) -> dict[str, object]:
        """The ``server_ports`` row to insert (the PCI columns stay NULL until a build)."""
        return {"server_id": server_id, "port_id": self.port_id,
                "network_id": self.network_id, "position": self.position,
                "created_by_compute": self.created_by_compute,
                "vnic_type": str(self.vnic_type), "physnet": self.physnet}

    def port(self) -> ServerPort:
        return ServerPort(port_id=self.port_id, network_id=self.network_id,
                          created_by_compute=self.created_by_compute,
                          vnic_type=self.vnic_type, physnet=self.physnet)


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the checks found: the flavor, the key, the ports to insert and their
    addresses (by port id)."""

    flavor: Flavor
    key_data: str | None
    ports: tuple[_NewPort, ...]
    addresses: tuple[tuple[str, ServerAddress], ...]


class ServerCreator:
    """``ServerService.create``'s work: the checks, the ports compute creates, the insert."""

    def __init__(self, db: Database, network: "NetworkService", builder: ServerBuilder, *,
                 keypairs: KeypairService | None, quotas: ComputeQuotas | None) -> None:
        self._db = db
        self._network = network
        self._builder = builder
        self._keypairs = keypairs
        self._quotas = quotas
        self._log = InstanceActionLog()

    def create(self, caller: Caller, spec: ServerCreate, request_id: str) -> Server:
        """The server recorded in BUILD with its flavor and addresses (errors: see
        ``ServerService.create``).  With every port given (the common boot) the checks and
        the insert share one transaction; otherwise compute's ports are created between
        the two, and dropped again when the insert fails."""
        server_id = str(uuid.uuid4())
        given = [r.port_id for r in spec.networks if r.port_id is not None]
        try:
            with self._db.transaction() as session:
                checked = self._check(session, caller, spec)
                if not spec.auto_network and len(given) == len(spec.networks):
                    return self._insert(session, caller, server_id, spec, checked,
                                        request_id)
        except WriteConflict as exc:
            if not given:
                raise
            raise _in_use(given) from exc
        networks = spec.networks
        if spec.auto_network:
            networks = (NetworkRequest(network_id=self._auto_network(caller)),)
        created = self._create_ports(caller, networks, spec.security_groups)
        checked = dataclasses.replace(
            checked, ports=(*checked.ports, *(row for row, _ in created)),
            addresses=(*checked.addresses, *self._addresses_of(caller, created)))
        try:
            with self._db.transaction() as session:
                return self._insert(session, caller, server_id, spec, checked, request_id)
        except BaseException as exc:
            self._drop_ports(caller, [row.port_id for row, _ in created])
            if isinstance(exc, WriteConflict) and given:
                raise _in_use(given) from exc
            raise

    def _check(self, session: Session, caller: Caller, spec: ServerCreate) -> _Checked:
        """Flavor (and its aliases), image, key pair, then every given port, in that order."""
        try:
            flavor = FlavorService.get_in(session, spec.flavor_ref, visible_to=caller)
        except NotFound as exc:
            raise Invalid(f"Flavor {spec.flavor_ref} could not be found.", field="flavorRef",
                          value=spec.flavor_ref, fix="use an id from GET /flavors") from exc
        # nova: an alias the flavor names but [pci] alias lacks is a 400 at create.
        flavor_pci(dict(flavor.extra_specs), self._builder.pci_aliases)
        if spec.image_ref is None:
            raise Invalid("Missing imageRef attribute: give imageRef or a "
                          "block_device_mapping_v2 entry with source_type image",
                          field="imageRef")
        try:
            ImageService.check_known(session, spec.image_ref)
        except NotFound as exc:
            raise Invalid(f"Can not find requested image {spec.image_ref}", field="imageRef",
                          value=spec.image_ref, fix="use an id from GET /image/v2/images"
                          ) from exc
        key_data = None
        if spec.key_name is not None and self._keypairs is not None:
            key_data = self._keypairs.public_key_for(session, caller, spec.key_name)
        ports, addresses = self._given_ports(session, caller, spec.networks)
        _check_groups(spec.security_groups, ports)
        return _Checked(flavor, key_data, ports, addresses)

    def _given_ports(self, session: Session, caller: Caller,
                     networks: tuple[NetworkRequest, ...]
                     ) -> tuple[tuple[_NewPort, ...], tuple[tuple[str, ServerAddress], ...]]:
        """The requested ports read at once and checked in order; a port named twice is
        Invalid where the second mention comes (the ones before it checked first)."""
        given = [(pos, r.port_id) for pos, r in enumerate(networks) if r.port_id is not None]
        ids = [port_id for _, port_id in given]
        twice = next((i for i, p in enumerate(ids) if p in ids[:i]), None)
        try:
            found = self._network.requested_ports(session, caller, ids[:twice])
        except NotFound as exc:
            raise Invalid(f"Port {exc.value} could not be found.", field="networks",
                          value=exc.value) from exc
        except Conflict as exc:
            raise Conflict(f"Port {exc.value} is still in use.", kind=ErrorKind.PORT_IN_USE,
                           field="networks", value=exc.value) from exc
        if twice is not None:
            raise Invalid(f"Port {ids[twice]} is requested more than once.",
                          field="networks", value=ids[twice])
        rows = tuple(_NewPort(port_id=p.request.port_id, network_id=p.network_id,
                              position=pos, created_by_compute=False,
                              vnic_type=p.request.vnic_type, physnet=p.request.physnet)
                     for (pos, _), p in zip(given, found, strict=True))
        addresses = tuple((p.request.port_id, _address(p.network_name, ip, p.mac))
                          for p in found if p.network_name is not None for ip in p.fixed_ips)
        return rows, addresses

    def _auto_network(self, caller: Caller) -> str:
        """2.37's ``networks: "auto"``: the one network of the caller's project or shared.

        We do not create networks on demand (neutron's auto-allocated topology); with none
        there is nothing to use (400), with several the choice is the caller's (409)."""
        usable = [n for n in self._network.networks.list(caller)
                  if n.project_id == caller.project_id or n.shared]
        if not usable:
            raise Invalid("Unable to automatically allocate a network for project "
                          f"{caller.project_id}: it has no network and none is shared",
                          field="networks", value="auto",
                          fix="create a network first, or pass networks: \"none\"")
        if len(usable) > 1:
            raise Conflict("Multiple possible networks found, use a Network ID to be more "
                           f"specific. ({', '.join(n.name or n.id for n in usable)})",
                           field="networks", value="auto")
        return usable[0].id

    def _create_ports(self, caller: Caller, networks: tuple[NetworkRequest, ...],
                      groups: tuple[str, ...]) -> list[tuple[_NewPort, Port]]:
        """A port on each ``{uuid}`` network (with the server's security groups), with its
        row to insert; all dropped again if one fails."""
        created: list[tuple[_NewPort, Port]] = []
        try:
            for pos, req in enumerate(networks):
                if req.port_id is None and req.network_id is not None:
                    port = self._network.create_port(caller, PortSpec(
                        network_id=req.network_id, security_groups=groups or None))
                    created.append((_NewPort(
                        port_id=port.id, network_id=port.network_id, position=pos,
                        created_by_compute=True, vnic_type=VnicType.NORMAL), port))
        except NotFound as exc:
            self._drop_ports(caller, [row.port_id for row, _ in created])
            raise Invalid(f"Network {req.network_id} could not be found.", field="networks",
                          value=req.network_id) from exc
        except BaseException:
            self._drop_ports(caller, [row.port_id for row, _ in created])
            raise
        return created

    def _addresses_of(self, caller: Caller, created: list[tuple[_NewPort, Port]]
                      ) -> tuple[tuple[str, ServerAddress], ...]:
        """The addresses of the ports compute created, under their networks' names."""
        out: list[tuple[str, ServerAddress]] = []
        for _, port in created:
            try:
                name = self._network.networks.get(caller, port.network_id).name
            except NotFound:
                continue
            out.extend((port.id, _address(name, ip, port.mac)) for ip in port.fixed_ips)
        return tuple(out)

    def _insert(self, session: Session, caller: Caller, server_id: str, spec: ServerCreate,
                checked: _Checked, request_id: str) -> Server:
        """Record the server in BUILD (queued for this worker) with its ports, check the
        quotas with them counted (a 403 rolls them back), log the create action."""
        now = self._builder.clock.now()
        leases = self._builder.leases  # queued: if this worker dies, a sweep builds it
        meta = dict(spec.metadata)
        server = {
            "id": server_id, "name": spec.name, "project_id": caller.project_id,
            "user_id": caller.user_id, "status": ServerStatus.BUILD.value,
            "task_state": "scheduling", "flavor_id": spec.flavor_ref,
            "image_id": spec.image_ref, "host": None,
            "availability_zone": spec.availability_zone, "access_ipv4": spec.access_ipv4,
            "access_ipv6": spec.access_ipv6, "metadata": meta, "key_name": spec.key_name,
            "key_data": checked.key_data, "created_at": now, "updated_at": now,
            "launched_at": None, "description": spec.description, "locked": False,
            "build_owner": leases.worker, "build_lease_until": leases.deadline()}
        held = [p.values(server_id) for p in checked.ports]
        if self._db.dialect == "postgresql":
            one = _insert_pg(tuple(server), tuple(held[0]) if held else (), len(held))
            session.execute(one, {
                **{f"s_{k}": v for k, v in server.items()},
                **{f"p{i}_{k}": v for i, row in enumerate(held) for k, v in row.items()},
                **started_values(server_id, "create", _BUILD_EVENT, request_id,
                                 caller.user_id or "", None, now, caller.project_id or "")})
        else:
            session.execute(_INSERT_SERVER, server)
            if held:  # after the server: server_ports.server_id references it
                session.execute(_INSERT_PORTS, held)
            self._log.start(session, server_id, "create", _BUILD_EVENT, request_id,
                            caller.user_id or "", None, now, project_id=caller.project_id)
        if self._quotas is not None:  # counted with the new rows: 403 rolls them back
            self._quotas.check_new_server(
                session, caller.project_id or "", size=(checked.flavor.vcpus,
                                                         checked.flavor.ram),
                metadata_items=len(meta), ports=tuple(
                    (p.vnic_type, p.physnet) for p in checked.ports))
        ports = sorted(checked.ports, key=lambda p: p.position)
        return Server(
            id=server_id, name=spec.name, project_id=caller.project_id or "",
            user_id=caller.user_id, status=ServerStatus.BUILD, task_state="scheduling",
            flavor_id=spec.flavor_ref, image_id=spec.image_ref, host=None,
            availability_zone=spec.availability_zone, access_ipv4=spec.access_ipv4,
            access_ipv6=spec.access_ipv6, metadata=tuple(sorted(meta.items())),
            key_name=spec.key_name, created_at=now, updated_at=now, launched_at=None,
            description=spec.description, ports=tuple(p.port() for p in ports),
            flavor=checked.flavor, addresses=tuple(
                a for p in ports for port_id, a in checked.addresses if port_id == p.port_id))

    def _drop_ports(self, caller: Caller, port_ids: Sequence[str]) -> None:
        for port_id in port_ids:
            try:
                self._network.delete_port(caller, port_id)
            except NotFound:
                continue


def _address(network_name: str, ip: FixedIp, mac: MacAddress) -> ServerAddress:
    version = 6 if ":" in ip.ip_address else 4
    return ServerAddress(network_name, version, ip.ip_address, mac)


def _in_use(given: Sequence[str]) -> Conflict:
    """A concurrent create took one of the given ports (server_ports.port_id is unique)."""
    return Conflict(f"Port {given[0]} is still in use." if len(given) == 1 else
                    f"One of ports {', '.join(given)} is still in use.",
                    kind=ErrorKind.PORT_IN_USE)


def _check_groups(groups: tuple[str, ...], rows: Sequence[_NewPort]) -> None:
    sriov = [r.port_id for r in rows if r.vnic_type.is_sriov]
    extra = [g for g in groups if g != "default"]
    if sriov and extra:
        raise NotSupported(
            f"Security groups {', '.join(extra)} cannot apply to SR-IOV port(s) "
            f"{', '.join(sriov)}: security groups are not supported on direct and "
            "direct-physical ports (RHEL OSP SR-IOV chapter 20.9)", field="security_groups",
            value=extra, fix="leave security_groups out for servers with SR-IOV ports")
