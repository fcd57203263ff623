"""The table modules, one per area, imported here so ``Base.metadata`` holds every table."""

from __future__ import annotations

from sriovstack.db.base import Base
from sriovstack.db.models import compute, hosts, identity, network

__all__ = ["Base", "compute", "hosts", "identity", "network"]
