"""The flat and vlan type drivers: provider-attribute checks, VLAN/flat reservation in the
database, project VLAN allocation in configuration order, and the start-up table sync."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from sriovstack.conf import VLAN_MAX, VLAN_MIN
from sriovstack.errors import Conflict, ErrorKind, Invalid, Unavailable
from sriovstack.db.models import FlatAllocationRow, VlanAllocationRow
from sriovstack.network.config import Ml2Settings
from sriovstack.network.types import NetworkType, ProviderSpec, Segment

__all__ = ["check_provider", "reserve_segment", "release_segment", "sync_vlan_allocations"]


def _invalid(message: str, field: str, value: object, fix: str) -> Invalid:
    return Invalid(f"Invalid input for operation: {message}.", kind=ErrorKind.INVALID_INPUT,
                   field=field, value=value, fix=fix)


def check_provider(spec: ProviderSpec, settings: Ml2Settings) -> ProviderSpec:
    """Validate ``provider:*`` as neutron's type drivers do; return it with the type filled.

    Raises Invalid (400) with neutron's messages naming the attribute.
    """
    kind = spec.network_type
    if kind is None:
        if spec.physnet is not None or spec.segmentation_id is not None:
            raise _invalid("provider:network_type required", "provider:network_type", None,
                           "give provider:network_type flat or vlan")
        return spec
    if kind not in settings.type_drivers or kind not in tuple(NetworkType):
        raise _invalid(f"network_type value '{kind}' not supported", "provider:network_type",
                       kind, f"use one of: {', '.join(t for t in settings.type_drivers if t in tuple(NetworkType))}")
    if kind == NetworkType.FLAT:
        _check_flat(spec, settings)
    else:
        _check_vlan(spec, settings)
    return spec


def _check_flat(spec: ProviderSpec, settings: Ml2Settings) -> None:
    if spec.segmentation_id is not None:
        raise _invalid("segmentation_id prohibited for flat provider network",
                       "provider:segmentation_id", spec.segmentation_id,
                       "leave provider:segmentation_id out for flat networks")
    if spec.physnet is None:
        raise _invalid("physical_network required for flat provider network",
                       "provider:physical_network", None, "name the physnet, e.g. physnet1")
    if not settings.flat_allowed(spec.physnet):
        raise _invalid(f"physical_network '{spec.physnet}' unknown for flat provider network",
                       "provider:physical_network", spec.physnet,
                       "use a physnet listed in [ml2_type_flat] flat_networks")


def _check_vlan(spec: ProviderSpec, settings: Ml2Settings) -> None:
    sid = spec.segmentation_id
    if sid is not None and not VLAN_MIN <= sid <= VLAN_MAX:
        raise _invalid(f"segmentation_id out of range ({VLAN_MIN} through {VLAN_MAX})",
                       "provider:segmentation_id", sid, f"use {VLAN_MIN}..{VLAN_MAX}")
    if spec.physnet is None:
        if sid is not None:
            raise _invalid("segmentation_id requires physical_network for VLAN provider "
                           "network", "provider:physical_network", None,
                           "name the physnet, e.g. physnet1")
        return
    if spec.physnet not in settings.vlan_physnets:
        raise _invalid(f"physical_network '{spec.physnet}' unknown for VLAN provider network",
                       "provider:physical_network", spec.physnet,
                       "use a physnet of [ml2_type_vlan] network_vlan_ranges: "
                       + (", ".join(settings.vlan_physnets) or "(none configured)"))


def reserve_segment(session: Session, spec: ProviderSpec | None,
                    settings: Ml2Settings) -> Segment:
    """Reserve the segment for a new network (spec already checked, or None: a project VLAN).

    Raises Conflict (409, VlanIdInUse / FlatNetworkInUse) when taken and Unavailable (503,
    NoNetworkAvailable) when no VLAN is free.
    """
    if spec is None or spec.network_type is None:
        return _allocate_project_vlan(session, settings)
    if spec.network_type == NetworkType.FLAT:
        assert spec.physnet is not None
        if session.get(FlatAllocationRow, spec.physnet) is not None:
            raise Conflict(f"Unable to create the flat network. Physical network "
                           f"{spec.physnet} is in use.", kind=ErrorKind.FLAT_NETWORK_IN_USE,
                           field="provider:physical_network", value=spec.physnet,
                           fix="use the existing flat network or another physnet")
        session.add(FlatAllocationRow(physnet=spec.physnet))
        session.flush()
        return Segment(NetworkType.FLAT, spec.physnet, None)
    if spec.physnet is None:
        return _allocate_project_vlan(session, settings)
    if spec.segmentation_id is None:
        return _allocate_vlan_on(session, (spec.physnet,), settings)
    return _reserve_vlan(session, spec.physnet, spec.segmentation_id)


def _reserve_vlan(session: Session, physnet: str, vlan_id: int) -> Segment:
    row = session.get(VlanAllocationRow, (physnet, vlan_id))
    if row is None:
        # Outside the tenant ranges: a provider-only row, deleted again on release.
        session.add(VlanAllocationRow(physnet=physnet, vlan_id=vlan_id, allocated=True))
        session.flush()
        return Segment(NetworkType.VLAN, physnet, vlan_id)
    taken = session.execute(
        update(VlanAllocationRow)
        .where(VlanAllocationRow.physnet == physnet, VlanAllocationRow.vlan_id == vlan_id,
               VlanAllocationRow.allocated.is_(False))
        .values(allocated=True)).rowcount
    if taken != 1:
        raise Conflict(f"Unable to create the network. The VLAN {vlan_id} on physical "
                       f"network {physnet} is in use.", kind=ErrorKind.VLAN_ID_IN_USE,
                       field="provider:segmentation_id", value=vlan_id,
                       fix="choose another provider:segmentation_id or omit it")
    return Segment(NetworkType.VLAN, physnet, vlan_id)


def _allocate_project_vlan(session: Session, settings: Ml2Settings) -> Segment:
    if "vlan" not in settings.tenant_network_types:
        raise Unavailable("Unable to create the network. No project network is available for "
                          "allocation: [ml2] tenant_network_types = "
                          f"{', '.join(settings.tenant_network_types) or '(empty)'} names no "
                          "type this service allocates.", kind=ErrorKind.NO_NETWORK_AVAILABLE,
                          fix="set [ml2] tenant_network_types = vlan, or give provider:*")
    return _allocate_vlan_on(session, settings.vlan_physnets, settings)


def _allocate_vlan_on(session: Session, physnets: tuple[str, ...],
                      settings: Ml2Settings) -> Segment:
    """The lowest free VLAN of the first physnet (in configuration order) that has one.

    Each pick is one conditional UPDATE; a row taken meanwhile by another worker is skipped.
    """
    for physnet in physnets:
        for _attempt in range(10):
            vlan_id = session.scalar(
                select(VlanAllocationRow.vlan_id)
                .where(VlanAllocationRow.physnet == physnet,
                       VlanAllocationRow.allocated.is_(False))
                .order_by(VlanAllocationRow.vlan_id).limit(1))
            if vlan_id is None:
                break
            won = session.execute(
                update(VlanAllocationRow)
                .where(VlanAllocationRow.physnet == physnet,
                       VlanAllocationRow.vlan_id == vlan_id,
                       VlanAllocationRow.allocated.is_(False))
                .values(allocated=True)).rowcount
            if won == 1:
                return Segment(NetworkType.VLAN, physnet, vlan_id)
    raise Unavailable("Unable to create the network. No project network is available for "
                      f"allocation (VLANs of {', '.join(physnets) or 'no physnet'} are all "
                      "in use).", kind=ErrorKind.NO_NETWORK_AVAILABLE,
                      fix="delete unused networks or widen [ml2_type_vlan] network_vlan_ranges")


def release_segment(session: Session, segment: Segment, settings: Ml2Settings) -> None:
    """Free a deleted network's segment: in-range VLANs return to the pool, others vanish."""
    if segment.network_type == NetworkType.FLAT:
        session.execute(delete(FlatAllocationRow)
                        .where(FlatAllocationRow.physnet == segment.physnet))
        return
    assert segment.physnet is not None and segment.segmentation_id is not None
    if _in_ranges(settings, segment.physnet, segment.segmentation_id):
        session.execute(update(VlanAllocationRow)
                        .where(VlanAllocationRow.physnet == segment.physnet,
                               VlanAllocationRow.vlan_id == segment.segmentation_id)
                        .values(allocated=False))
    else:
        session.execute(delete(VlanAllocationRow)
                        .where(VlanAllocationRow.physnet == segment.physnet,
                               VlanAllocationRow.vlan_id == segment.segmentation_id))


def _in_ranges(settings: Ml2Settings, physnet: str, vlan_id: int) -> bool:
    return any(lo <= vlan_id <= hi for lo, hi in settings.ranges_of(physnet))


def sync_vlan_allocations(session: Session, settings: Ml2Settings) -> None:
    """Reconcile the table with network_vlan_ranges (neutron's start-up sync).

    Free rows outside the ranges (or of unconfigured physnets) are deleted; allocated ones
    are kept (they belong to provider networks); missing in-range rows are created.
    """
    rows = session.scalars(select(VlanAllocationRow)).all()
    existing = {(row.physnet, row.vlan_id) for row in rows}
    for row in rows:
        if not row.allocated and not _in_ranges(settings, row.physnet, row.vlan_id):
            session.delete(row)
    for physnet, ranges in settings.vlan_ranges:
        wanted = {vid for lo, hi in ranges for vid in range(lo, hi + 1)}
        session.add_all(VlanAllocationRow(physnet=physnet, vlan_id=vid, allocated=False)
                        for vid in sorted(wanted) if (physnet, vid) not in existing)
    session.flush()
