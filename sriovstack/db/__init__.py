"""The database package: ``Base`` for models and ``Database`` for sessions and schema."""

from sriovstack.db.base import Base, Database, UtcDateTime

__all__ = ["Base", "Database", "UtcDateTime"]
