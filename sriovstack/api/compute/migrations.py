"""Compute v2.1 migrations: os-migrations (every move, admin) and a server's in-progress live
migrations (2.23, /servers/{id}/migrations), in nova's shapes for the request's version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion, negotiate
from sriovstack.api.context import RequestContext, request_context
from sriovstack.compute import Migration
from sriovstack.errors import Invalid, NotFound
from sriovstack.identity import policy

__all__ = ["router"]

router = APIRouter()
_IN_PROGRESS_LIVE = ("preparing", "running")


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")  # nova's migration timestamps


def _flavor(flavor_id: str) -> int | str:
    return int(flavor_id) if flavor_id.isdigit() else flavor_id


def _base(m: Migration) -> dict[str, Any]:
    return {"id": m.id, "source_compute": m.source_compute, "source_node": m.source_compute,
            "dest_compute": m.dest_compute, "dest_node": m.dest_compute,
            "dest_host": m.dest_compute, "status": m.status,
            "created_at": _time(m.created_at), "updated_at": _time(m.updated_at)}


def _migration_view(m: Migration, base: str, version: ApiVersion) -> dict[str, Any]:
    body = {**_base(m), "instance_uuid": m.server_id,
            "old_instance_type_id": _flavor(m.old_flavor_id),
            "new_instance_type_id": _flavor(m.new_flavor_id)}
    if version >= mv.SERVER_MIGRATIONS:
        body["migration_type"] = m.migration_type
        if m.migration_type == "live-migration" and m.status in _IN_PROGRESS_LIVE:
            href = f"{base}/v2.1/servers/{m.server_id}/migrations/{m.id}"
            body["links"] = [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}]
    if version >= mv.MIGRATION_PAGING:
        body["uuid"] = m.uuid
    return body


def _server_migration_view(m: Migration, version: ApiVersion) -> dict[str, Any]:
    # No memory or disk copy happens (the guest is re-created with its VF): all zero.
    body = {**_base(m), "server_uuid": m.server_id, "memory_total_bytes": 0,
            "memory_processed_bytes": 0, "memory_remaining_bytes": 0, "disk_total_bytes": 0,
            "disk_processed_bytes": 0, "disk_remaining_bytes": 0}
    if version >= mv.MIGRATION_PAGING:
        body["uuid"] = m.uuid
    return body


def _page(found: tuple[Migration, ...], limit: str | None, marker: str | None,
          version: ApiVersion) -> tuple[Migration, ...]:
    if (limit is not None or marker is not None) and version < mv.MIGRATION_PAGING:
        raise Invalid("limit and marker need microversion 2.59", field="limit")
    if marker is not None:
        ids = [m.uuid for m in found]
        if marker not in ids:
            raise Invalid(f"Marker {marker} could not be found.", field="marker",
                          value=marker)
        found = found[ids.index(marker) + 1:]
    if limit is not None:
        if not limit.isdigit():
            raise Invalid(f"Invalid limit {limit!r}: expected an integer of 0 or more",
                          field="limit", value=limit)
        found = found[:int(limit)]
    return found


@router.get("/os-migrations")
def list_migrations(host: str | None = None, status: str | None = None,
                    instance_uuid: str | None = None, migration_type: str | None = None,
                    source_compute: str | None = None, limit: str | None = None,
                    marker: str | None = None, ctx: RequestContext = Depends(request_context),
                    version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """200 ``{"migrations": [...]}`` newest first, filtered by host (source or target),
    status, instance_uuid, migration_type, source_compute; 2.59 pages with limit/marker
    (a migration uuid); admin only, as nova's default policy."""
    policy.require_admin(ctx.caller, "os-migrations")
    service = ctx.services.compute.migrations
    found = () if service is None else service.list(
        server_id=instance_uuid, host=host, status=status, migration_type=migration_type,
        source_compute=source_compute)
    base = ctx.services.settings.url("/compute")
    return {"migrations": [_migration_view(m, base, version)
                           for m in _page(found, limit, marker, version)]}


def _server_migrations(ctx: RequestContext, server_id: str,
                       version: ApiVersion) -> tuple[Migration, ...]:
    if version < mv.SERVER_MIGRATIONS:
        raise NotFound("The resource could not be found.", field="path")
    policy.require_admin(ctx.caller, "server migrations")
    ctx.services.compute.servers.get(ctx.caller, server_id)
    service = ctx.services.compute.migrations
    return () if service is None else service.list(server_id=server_id,
                                                    in_progress_live=True)


@router.get("/servers/{server_id}/migrations")
def list_server_migrations(server_id: str, ctx: RequestContext = Depends(request_context),
                           version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """2.23: 200 the server's in-progress live migrations; 404 below 2.23; admin only."""
    return {"migrations": [_server_migration_view(m, version)
                           for m in _server_migrations(ctx, server_id, version)]}


@router.get("/servers/{server_id}/migrations/{migration_id}")
def show_server_migration(server_id: str, migration_id: int,
                          ctx: RequestContext = Depends(request_context),
                          version: ApiVersion = Depends(negotiate)) -> dict[str, Any]:
    """2.23: 200 one in-progress live migration of the server; 404 otherwise."""
    for m in _server_migrations(ctx, server_id, version):
        if m.id == migration_id:
            return {"migration": _server_migration_view(m, version)}
    raise NotFound(f"In-progress live migration {migration_id} is not found for server "
                   f"{server_id}.", field="migration_id", value=migration_id)
