"""Placement's read model over the scheduler's own rows: traits and resource classes (standard
and custom), provider traits and aggregates, allocations per provider and per consumer,
project usages, and allocation candidates.

Providers are the hypervisor service's (a root per host, a child per PF with SRIOV_NET_VF).
Allocations are what the claims hold: a server's ``host_allocations`` row on the root (VCPU,
MEMORY_MB, DISK_GB) and its claimed VFs on their PF's child, so the candidates answer from the
same counts the scheduler claims against (the claim stays the truth).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sriovstack.compute.hypervisors import SRIOV_NET_VF, HypervisorService, pf_provider_uuid
from sriovstack.compute.types import ResourceProvider
from sriovstack.db import Database
from sriovstack.db.models import (HostAllocationRow, HostRow, PciDeviceRow, PlacementNameRow,
                                  ServerRow)
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound

__all__ = ["PlacementService", "NameKind", "ProviderAllocations", "ConsumerAllocations",
           "CandidateRequest", "Candidate", "STANDARD_RESOURCE_CLASSES", "STANDARD_TRAITS",
           "physnet_trait"]

# os-resource-classes 1.1.0, in its order.
STANDARD_RESOURCE_CLASSES = (
    "VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE",
    "NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU", "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU",
    "MEM_ENCRYPTION_CONTEXT", "FPGA", "PGPU", "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC", "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC")
# The os-traits this cloud can report (a subset of the library's several hundred).
STANDARD_TRAITS = (
    "COMPUTE_NODE", "COMPUTE_STATUS_DISABLED", "COMPUTE_NET_ATTACH_INTERFACE",
    "COMPUTE_NET_VIF_MODEL_VIRTIO", "COMPUTE_IMAGE_TYPE_QCOW2", "COMPUTE_IMAGE_TYPE_RAW",
    "HW_NIC_SRIOV", "HW_NIC_SRIOV_MULTIQUEUE", "HW_NIC_SRIOV_QOS_TX", "HW_NIC_SRIOV_QOS_RX",
    "HW_NIC_SRIOV_TRUSTED", "HW_NUMA_ROOT", "MISC_SHARES_VIA_AGGREGATE")
_VNIC_TRAITS = ("CUSTOM_VNIC_TYPE_DIRECT", "CUSTOM_VNIC_TYPE_DIRECT_PHYSICAL")
_CUSTOM = re.compile(r"^CUSTOM_[A-Z0-9_]{1,248}$")
_HELD = ("claimed", "allocated")


class NameKind:
    """The two kinds of names placement keeps: resource classes and traits."""

    RESOURCE_CLASS = "resource_class"
    TRAIT = "trait"


def physnet_trait(physnet: str) -> str:
    """Neutron's trait for a physical network: CUSTOM_PHYSNET_<NAME> (upper, [^A-Z0-9] → _)."""
    return "CUSTOM_PHYSNET_" + re.sub(r"[^A-Z0-9_]", "_", physnet.upper())


@dataclass(frozen=True, slots=True)
class ProviderAllocations:
    """What each consumer (server) holds of one provider, by resource class."""

    generation: int
    consumers: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


@dataclass(frozen=True, slots=True)
class ConsumerAllocations:
    """One consumer's allocations by provider (uuid, generation, resources)."""

    project_id: str | None
    user_id: str | None
    providers: tuple[tuple[str, int, tuple[tuple[str, int], ...]], ...]


@dataclass(frozen=True, slots=True)
class CandidateRequest:
    """GET /allocation_candidates: amounts by class, required and forbidden traits, and
    any-of trait groups (``required=in:A,B``, 1.39)."""

    resources: tuple[tuple[str, int], ...]
    required: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    any_of: tuple[tuple[str, ...], ...] = ()
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One allocation request: resources by provider uuid, and the tree it came from."""

    allocations: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]
    tree: tuple[ResourceProvider, ...]


class PlacementService:
    """The read model behind /placement (and the custom names it stores)."""

    def __init__(self, db: Database, hypervisors: HypervisorService) -> None:
        self._db = db
        self._hypervisors = hypervisors

    # --- names: resource classes and traits ------------------------------------------------
    def _custom(self, kind: str) -> tuple[str, ...]:
        with self._db.transaction() as session:
            return tuple(session.scalars(select(PlacementNameRow.name).where(
                PlacementNameRow.kind == kind).order_by(PlacementNameRow.name)))

    def resource_classes(self) -> tuple[str, ...]:
        """The standard classes, then the custom ones."""
        return STANDARD_RESOURCE_CLASSES + self._custom(NameKind.RESOURCE_CLASS)

    def traits(self) -> tuple[str, ...]:
        """Standard traits, the physnet and vnic traits in use, and the custom ones."""
        used = {t for rp in self._hypervisors.providers() for t in self.provider_traits(rp)}
        return tuple(sorted(set(STANDARD_TRAITS) | used
                            | set(self._custom(NameKind.TRAIT))))

    def ensure_custom(self, kind: str, name: str) -> bool:
        """Create the custom name (True) or find it (False); Invalid unless CUSTOM_*."""
        if not _CUSTOM.match(name):
            raise Invalid(f"'{name}' is not a custom name: CUSTOM_ followed by A-Z, 0-9, _",
                          field="name", value=name)
        with self._db.transaction() as session:
            if session.get(PlacementNameRow, (kind, name)) is not None:
                return False
            session.add(PlacementNameRow(kind=kind, name=name))
            return True

    def delete_custom(self, kind: str, name: str) -> None:
        """Remove a custom name; Invalid for a standard one, Conflict while in use."""
        standard = STANDARD_RESOURCE_CLASSES if kind == NameKind.RESOURCE_CLASS else STANDARD_TRAITS
        if name in standard:
            raise Invalid(f"Cannot delete standard {kind.replace('_', ' ')} {name}.",
                          field="name", value=name)
        in_use = (name in {i.resource_class for rp in self._hypervisors.providers()
                           for i in rp.inventories} if kind == NameKind.RESOURCE_CLASS
                  else name in {t for rp in self._hypervisors.providers()
                                for t in self.provider_traits(rp)})
        if in_use:
            raise Conflict(f"{name} is in use by a resource provider", field="name",
                           value=name)
        with self._db.transaction() as session:
            row = session.get(PlacementNameRow, (kind, name))
            if row is None:
                raise NotFound(f"No such {kind.replace('_', ' ')} {name}.",
                               kind=ErrorKind.PLACEMENT_UNDEFINED_CODE, value=name)
            session.delete(row)

    # --- providers -------------------------------------------------------------------------
    def providers(self) -> tuple[ResourceProvider, ...]:
        return self._hypervisors.providers()

    def provider(self, provider_uuid: str) -> ResourceProvider:
        return self._hypervisors.provider(provider_uuid)

    def provider_traits(self, rp: ResourceProvider) -> tuple[str, ...]:
        """A root: COMPUTE_NODE (+ COMPUTE_STATUS_DISABLED when disabled, as nova sets it);
        a PF child: HW_NIC_SRIOV, the vnic types it serves and its physnet's trait."""
        with self._db.transaction() as session:
            if rp.parent_uuid is None:
                host = session.get(HostRow, rp.uuid)
                disabled = host is not None and not host.enabled
                return ("COMPUTE_NODE",) + (("COMPUTE_STATUS_DISABLED",) if disabled else ())
            physnets = set(session.scalars(select(PciDeviceRow.physnet).where(
                PciDeviceRow.host_id == rp.root_uuid,
                PciDeviceRow.parent_addr == rp.name.split(":", 1)[1],
                PciDeviceRow.physnet.is_not(None))))
        return tuple(sorted({"HW_NIC_SRIOV", _VNIC_TRAITS[0],
                             *(physnet_trait(p) for p in physnets if p)}))

    # --- allocations and usages ------------------------------------------------------------
    def _consumer_rows(self, session: Session, host_id: str | None = None,
                       server_id: str | None = None
                       ) -> dict[str, dict[str, dict[str, int]]]:
        """consumer -> provider uuid -> class -> amount, from the claims."""
        out: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
        stmt = select(HostAllocationRow)
        dev = select(PciDeviceRow).where(PciDeviceRow.status.in_(_HELD),
                                         PciDeviceRow.owner.is_not(None),
                                         PciDeviceRow.dev_type == "type-VF")
        if host_id is not None:
            stmt = stmt.where(HostAllocationRow.host_id == host_id)
            dev = dev.where(PciDeviceRow.host_id == host_id)
        if server_id is not None:
            stmt = stmt.where(HostAllocationRow.server_id == server_id)
            dev = dev.where(PciDeviceRow.owner == server_id)
        for a in session.scalars(stmt):
            amounts = {"VCPU": a.vcpus, "MEMORY_MB": a.memory_mb, "DISK_GB": a.disk_gb}
            out[a.server_id][a.host_id] = {k: v for k, v in amounts.items() if v > 0}
        for d in session.scalars(dev):
            assert d.owner is not None and d.parent_addr is not None
            pf = out[d.owner].setdefault(pf_provider_uuid(d.host_id, d.parent_addr), {})
            pf[SRIOV_NET_VF] = pf.get(SRIOV_NET_VF, 0) + 1
        return out

    def provider_allocations(self, provider_uuid: str) -> ProviderAllocations:
        """Every consumer's resources on this provider; NotFound for an unknown uuid."""
        rp = self.provider(provider_uuid)
        with self._db.transaction() as session:
            rows = self._consumer_rows(session, host_id=rp.root_uuid)
        consumers = tuple((c, tuple(sorted(by_rp[rp.uuid].items())))
                          for c, by_rp in sorted(rows.items()) if rp.uuid in by_rp)
        return ProviderAllocations(rp.generation, consumers)

    def consumer_allocations(self, consumer: str) -> ConsumerAllocations:
        """A consumer's allocations (empty for an unknown consumer, as placement answers)."""
        generations = {rp.uuid: rp.generation for rp in self.providers()}
        with self._db.transaction() as session:
            rows = self._consumer_rows(session, server_id=consumer).get(consumer, {})
            server = session.get(ServerRow, consumer)
            project, user = (server.project_id, server.user_id) if server else (None, None)
        return ConsumerAllocations(project, user, tuple(
            (rp, generations.get(rp, 0), tuple(sorted(res.items())))
            for rp, res in sorted(rows.items())))

    def usages(self, project_id: str, user_id: str | None = None
               ) -> tuple[int, tuple[tuple[str, int], ...]]:
        """(consumer count, the project's (and user's) total use by class)."""
        with self._db.transaction() as session:
            stmt = select(ServerRow.id).where(ServerRow.project_id == project_id)
            if user_id is not None:
                stmt = stmt.where(ServerRow.user_id == user_id)
            servers = set(session.scalars(stmt))
            rows = self._consumer_rows(session)
        totals: dict[str, int] = defaultdict(int)
        consumers = 0
        for consumer, by_rp in rows.items():
            if consumer in servers:
                consumers += 1
                for res in by_rp.values():
                    for rc, n in res.items():
                        totals[rc] += n
        return consumers, tuple(sorted(totals.items()))

    # --- allocation candidates -------------------------------------------------------------
    def candidates(self, request: CandidateRequest) -> tuple[Candidate, ...]:
        """Each way one host's tree can hold the request: every class from one provider
        with room for it (total - reserved - used), the tree's traits covering ``required``
        and avoiding ``forbidden``; one candidate per choice of PF for SRIOV_NET_VF."""
        self._check_names(request)
        trees: dict[str, list[ResourceProvider]] = defaultdict(list)
        for rp in self.providers():
            trees[rp.root_uuid].append(rp)
        out: list[Candidate] = []
        for root in sorted(trees):
            out.extend(self._tree_candidates(tuple(trees[root]), request))
        return tuple(out[:request.limit] if request.limit is not None else out)

    def _check_names(self, request: CandidateRequest) -> None:
        classes = set(self.resource_classes())
        for rc, amount in request.resources:
            if rc not in classes:
                raise Invalid(f"Invalid resource class in resources parameter: No such "
                              f"resource class {rc}.", field="resources", value=rc)
            if amount < 1:
                raise Invalid(f"Invalid amount {amount} of {rc}: at least 1",
                              field="resources", value=amount)
        named = set(request.required + request.forbidden).union(*request.any_of)
        unknown = sorted(named - set(self.traits()))
        if unknown:
            raise Invalid(f"No such trait(s): {', '.join(unknown)}.", field="required",
                          value=unknown)

    def _tree_candidates(self, tree: tuple[ResourceProvider, ...],
                         request: CandidateRequest) -> list[Candidate]:
        traits = {rp.uuid: set(self.provider_traits(rp)) for rp in tree}
        options: list[list[tuple[str, str, int]]] = []
        for rc, amount in request.resources:
            fits = [(rp.uuid, rc, amount) for rp in tree for inv in rp.inventories
                    if inv.resource_class == rc
                    and inv.total - inv.reserved - inv.used >= amount]
            if not fits:
                return []
            options.append(fits)
        out: list[Candidate] = []
        for choice in _product(options):
            by_rp: dict[str, dict[str, int]] = defaultdict(dict)
            for rp_uuid, rc, amount in choice:
                by_rp[rp_uuid][rc] = amount
            have = set().union(*(traits[u] for u in by_rp))
            if (set(request.required) - have or set(request.forbidden) & have
                    or not all(have & set(group) for group in request.any_of)):
                continue
            out.append(Candidate(tuple((u, tuple(sorted(r.items())))
                                       for u, r in sorted(by_rp.items())), tree))
        return out


def _product(options: list[list[tuple[str, str, int]]]) -> list[list[tuple[str, str, int]]]:
    combos: list[list[tuple[str, str, int]]] = [[]]
    for fits in options:
        combos = [combo + [fit] for combo in combos for fit in fits]
    return combos
