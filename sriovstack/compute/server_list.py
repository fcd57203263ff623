"""The server list in SQL: nova's filters, its sort keys and keyset pages after a marker.

Nova sorts on ``sort_key``/``sort_dir`` pairs then on ``created_at`` and ``uuid`` in the first
direction (``process_sort_params``), newest first by default; a marker is any server's id
(nova reads it elevated, whatever its project), and one that names no server is a 400
"marker [x] not found". The ``name`` filter is a regex run by RE2 outside SQL, so a named
list streams rows in order and stops once the page is full.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sriovstack.compute.name_pattern import NamePattern
from sriovstack.compute.types import ServerFilter, ServerStatus
from sriovstack.db import SortKey, ordered_page
from sriovstack.db.models import ServerRow
from sriovstack.errors import Invalid
from sriovstack.identity import Caller, policy

__all__ = ["MAX_LIMIT", "SORT_COLUMNS", "listed_servers"]

MAX_LIMIT = 1000  # nova's [api] max_limit: no list answers more than this many servers
_DELETED = ServerStatus.DELETED.value
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REGEX_SYNTAX = frozenset("\\.^$*+?{}[]|()")

# Nova's sort keys that are columns here, with what NULL sorts as. Nova's other valid keys
# (power_state, progress, kernel_id, config_drive, ...) are one value for every server here,
# so they order nothing and the default keys decide (the schema accepts them).
SORT_COLUMNS: dict[str, tuple[Any, Any]] = {
    "uuid": (ServerRow.id, None), "display_name": (ServerRow.name, None),
    "hostname": (ServerRow.name, None), "created_at": (ServerRow.created_at, None),
    "updated_at": (ServerRow.updated_at, None), "launched_at": (ServerRow.launched_at, _EPOCH),
    "host": (ServerRow.host, ""), "node": (ServerRow.host, ""),
    "project_id": (ServerRow.project_id, None), "user_id": (ServerRow.user_id, None),
    "key_name": (ServerRow.key_name, ""), "availability_zone": (ServerRow.availability_zone, ""),
    "locked": (ServerRow.locked, None), "image_ref": (ServerRow.image_id, ""),
    "instance_type_id": (ServerRow.flavor_id, None), "task_state": (ServerRow.task_state, ""),
    "vm_state": (ServerRow.status, None), "access_ip_v4": (ServerRow.access_ipv4, None),
    "access_ip_v6": (ServerRow.access_ipv6, None),
    "display_description": (ServerRow.description, ""),
}


def _filtered(caller: Caller, query: ServerFilter) -> Select[tuple[ServerRow]]:
    stmt = select(ServerRow).where(ServerRow.status != _DELETED)
    if not (policy.is_privileged(caller) and query.all_projects):
        stmt = stmt.where(ServerRow.project_id == caller.project_id)
    exact = ((ServerRow.host, query.host), (ServerRow.image_id, query.image_id),
             (ServerRow.flavor_id, query.flavor_id), (ServerRow.locked, query.locked),
             (ServerRow.status, query.status.value if query.status else None))
    for column, value in exact:
        if value is not None:
            stmt = stmt.where(column == value)
    if query.changed_since is not None:
        stmt = stmt.where(ServerRow.updated_at >= query.changed_since)
    if query.changed_before is not None:
        stmt = stmt.where(ServerRow.updated_at <= query.changed_before)
    return stmt


def _keys(query: ServerFilter) -> list[SortKey]:
    """The asked keys that are columns, then created_at and uuid in the first direction."""
    first = query.sorts[0][1] if query.sorts else False
    keys, named = [], set()
    for name, ascending in query.sorts:
        column, null_as = SORT_COLUMNS.get(name, (None, None))
        if column is not None and column.key not in named:
            named.add(column.key)
            keys.append(SortKey(column, ascending, null_as))
    for column in (ServerRow.created_at, ServerRow.id):
        if column.key not in named:
            keys.append(SortKey(column, first))
    return keys


def listed_servers(session: Session, caller: Caller, query: ServerFilter) -> list[ServerRow]:
    """One page of the caller's servers (every project's with ``all_projects`` for admins).

    Raises Invalid (400) for a marker naming no server or a ``name`` RE2 refuses.
    """
    pattern = None if query.name is None else NamePattern.compile(query.name)
    if query.nothing:
        return []
    keys = _keys(query)
    marker = None
    if query.marker is not None:
        marker = session.execute(select(*(k.column for k in keys))
                                 .where(ServerRow.id == query.marker)).one_or_none()
        if marker is None:
            raise Invalid(f"marker [{query.marker}] not found", field="marker",
                          value=query.marker)
    limit = MAX_LIMIT if query.limit is None else min(query.limit, MAX_LIMIT)
    stmt = _filtered(caller, query)
    if pattern is not None and not _REGEX_SYNTAX.intersection(pattern.text):
        # A plain word: SQL narrows to the names containing it (what RE2's search would
        # match); RE2 still decides each row.
        stmt = stmt.where(ServerRow.name.contains(pattern.text, autoescape=True))
    stmt = ordered_page(stmt, keys, marker=marker,
                        limit=limit if pattern is None else None)
    if pattern is None:
        return list(session.scalars(stmt))
    return _first_named(session.scalars(stmt.execution_options(yield_per=500)), pattern, limit)


def _first_named(rows: Iterator[ServerRow] | Any, pattern: NamePattern,
                 limit: int) -> list[ServerRow]:
    found: list[ServerRow] = []
    for row in rows:
        if len(found) >= limit:
            break
        if pattern.matches(row.name):
            found.append(row)
    return found
