"""Alembic environment: runs migrations on the connection the runner hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from sriovstack.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Command-line use (the lead generating revisions): -x url=sqlite:///...
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///sriovstack.db")
    with create_engine(url).begin() as fresh:
        _run(fresh)


_main()
