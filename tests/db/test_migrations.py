"""Migrations against the models: the migrated schema must match Base.metadata (alembic check).

Tables that no migration creates yet (the area engineers' tables until the lead writes their
migrations) are reported as an expected failure, by name, not hidden.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect

from sriovstack.db import Database, migrations
from sriovstack.db.models import AREAS, load_all


def _table_of(diff: Any) -> str:
    # compare_metadata gives tuples (op, object...) or lists of modify_* tuples.
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None and getattr(table, "name", None):
            return str(table.name)
        if name and item[0] in ("add_table", "remove_table"):
            return str(name)
        if isinstance(part, str):
            return part
    return "?"


def test_every_existing_area_module_is_loaded() -> None:
    assert "identity" in load_all()
    assert set(load_all()) <= set(AREAS)


def test_migrations_alone_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    migrations.upgrade(db.engine)
    migrated = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
    drift = migrations.schema_drift(db.engine)
    db.dispose()
    covered = [d for d in drift if _table_of(d) in migrated]
    assert covered == [], f"migrated tables differ from the models: {covered}"
    uncovered = sorted({_table_of(d) for d in drift})
    if uncovered:
        pytest.xfail(f"no migration yet for: {', '.join(uncovered)} (the lead writes these)")


def test_identity_tables_come_from_the_first_migration(database_url: str) -> None:
    db = Database(database_url)
    migrations.upgrade(db.engine, "0001_identity")
    tables = set(inspect(db.engine).get_table_names())
    db.dispose()
    assert {"identity_domains", "identity_projects", "identity_users", "identity_roles",
            "identity_role_assignments", "identity_tokens"} <= tables
