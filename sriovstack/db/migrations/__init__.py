"""The Alembic runner: a programmatic config (no alembic.ini), upgrade to head, drift check.

The scripts live beside this module (``env.py``, ``versions/``); ``script_location`` points
here, so the migrations ship inside the package.  The lead generates new revisions with
``alembic_config()`` and ``alembic.command.revision(config, autogenerate=True)``
(env.py takes ``-x url=...`` when run without a connection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = ["SCRIPT_LOCATION", "alembic_config", "upgrade", "head_revision", "current_revision",
           "schema_drift"]

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at our scripts; ``connection`` is used by env.py if given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(SCRIPT_LOCATION / "versions"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run every migration up to ``revision`` in one transaction."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    """The newest revision id in the scripts."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_drift(engine: Engine) -> list[Any]:
    """Alembic's autogenerate diff between the models and the database (empty = in step)."""
    from sriovstack.db.models import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))
