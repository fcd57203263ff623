"""Keyset paging in SQL: an ORDER BY of sort keys and the rows after (or before) a marker row.

A page never reads the rows before its marker (``OFFSET`` would): the marker row's values of
the sort keys bound the next page with the usual "row comparison" written out as an OR of
ANDs, so mixed directions work on SQLite and PostgreSQL alike. The last key must be unique
(the primary key) so that the order is total and no row is skipped or repeated between pages.
Nullable columns sort through ``coalesce`` with the key's ``null_as`` value, so NULL has one
place in the order on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, or_
from sqlalchemy.sql import ColumnElement, Select

__all__ = ["SortKey", "ordered_page"]


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ORDER BY term: a column (or SQL expression), its direction, and what NULL sorts as."""

    column: ColumnElement[Any]
    ascending: bool = True
    null_as: Any = None

    @property
    def expression(self) -> ColumnElement[Any]:
        return self.column if self.null_as is None else func.coalesce(self.column, self.null_as)

    def reversed(self) -> SortKey:
        return SortKey(self.column, not self.ascending, self.null_as)

    def value_of(self, value: Any) -> Any:
        """The marker row's value as the ORDER BY compares it."""
        return self.null_as if value is None and self.null_as is not None else value


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the marker in the order of ``keys`` (``values`` are its own)."""
    terms = []
    for i, key in enumerate(keys):
        equal = [keys[j].expression == keys[j].value_of(values[j]) for j in range(i)]
        value = key.value_of(values[i])
        if value is None:
            # NULL sorts on one side only when null_as says where; without it nothing is
            # strictly after a NULL on this key (callers give null_as for nullable columns).
            terms.append(and_(*equal, false()))
            continue
        beyond = key.expression > value if key.ascending else key.expression < value
        terms.append(and_(*equal, beyond))
    return or_(*terms)


def ordered_page(stmt: Select[Any], keys: Sequence[SortKey], *,
                 marker: Sequence[Any] | None = None, limit: int | None = None,
                 reverse: bool = False) -> Select[Any]:
    """``stmt`` ordered by ``keys`` from just after the row whose key values are ``marker``.

    ``reverse`` reads the page *before* the marker (neutron's ``page_reverse``): the order is
    inverted, so the caller reverses the rows it gets back into ``keys`` order.
    """
    order = [k.reversed() for k in keys] if reverse else list(keys)
    if marker is not None:
        stmt = stmt.where(_after(order, marker))
    stmt = stmt.order_by(*(k.expression.asc() if k.ascending else k.expression.desc()
                           for k in order))
    return stmt if limit is None else stmt.limit(limit)
