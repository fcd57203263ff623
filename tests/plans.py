"""What PostgreSQL plans for a statement: the plan tests' one way to ask and to look."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Executable, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

__all__ = ["scans_of"]


def scans_of(session: Session, statement: Executable, table: str,
             **params: Any) -> list[dict[str, Any]]:
    """The nodes of ``statement``'s plan (its binds set to ``params``, as literals) that read
    ``table``, itself or through one of its indexes."""
    sql = str(statement.params(**params).compile(  # type: ignore[attr-defined]
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = session.execute(text("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()[0]["Plan"]
    return [n for n in _nodes(plan) if n.get("Relation Name") == table
            or table in n.get("Index Name", "")]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)
