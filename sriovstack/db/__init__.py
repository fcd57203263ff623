"""The database package: ``Base`` for models, ``Database`` for sessions and schema, what
services need around a transaction (``storable`` text, ``retry_races`` at unique keys,
``one_of`` fixed values without re-rendering, ``upsert_into`` a table in either dialect), and
the schema's Alembic revision (``current_revision``)."""

from sriovstack.db.base import (Base, Database, PoolSettings, UtcDateTime, one_of, retry_races,
                                rows_of, storable, upsert_into)
from sriovstack.db.migrations import current_revision
from sriovstack.db.notify import Listener, check_payload, notify
from sriovstack.db.paging import SortKey, ordered_page

__all__ = [
    "Base", "Database", "PoolSettings", "UtcDateTime", "one_of", "retry_races", "storable",
    "upsert_into", "rows_of",
    "current_revision",
    "SortKey", "ordered_page", "Listener", "notify", "check_payload",
]
