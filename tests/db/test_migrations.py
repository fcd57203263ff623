"""Migrations against the models: the migrated schema must match Base.metadata (alembic check)."""

from __future__ import annotations

from sqlalchemy import inspect

from sriovstack.db import Database, migrations


def test_migrations_alone_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    migrations.upgrade(db.engine)
    drift = migrations.schema_drift(db.engine)
    db.dispose()
    assert drift == [], f"the models differ from the migrated schema: {drift}"


def test_identity_tables_come_from_the_first_migration(database_url: str) -> None:
    db = Database(database_url)
    migrations.upgrade(db.engine, "0001_identity")
    tables = set(inspect(db.engine).get_table_names())
    db.dispose()
    assert {"identity_domains", "identity_projects", "identity_users", "identity_roles",
            "identity_role_assignments", "identity_tokens"} <= tables
    assert "net_ports" not in tables and migrations.current_revision(db.engine) == "0001_identity"


def test_create_schema_reaches_head_and_is_idempotent(database_url: str) -> None:
    db = Database(database_url)
    db.create_schema()
    db.create_schema()
    assert migrations.current_revision(db.engine) == migrations.head_revision()
    assert {"net_ports", "pci_devices", "servers", "host_revisions"} <= set(
        inspect(db.engine).get_table_names())
    db.dispose()
