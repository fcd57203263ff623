"""The database package: ``Base`` for models, ``Database`` for sessions and schema, and what
services need around a transaction (``storable`` text, ``retry_races`` at unique keys)."""

from sriovstack.db.base import Base, Database, UtcDateTime, retry_races, storable

__all__ = ["Base", "Database", "UtcDateTime", "retry_races", "storable"]
