"""Fixtures of the compute API tests (the helpers live in chapter.py)."""

from __future__ import annotations

from typing import Any

import pytest

from sriovstack.api.settings import ApiSettings
from sriovstack.db import Database
from tests.api.compute.chapter import chapter_settings, register_host


@pytest.fixture
def compute_host(api: Any) -> str:
    """compute-1, registered through the internal API as a simulated 82576 host."""
    register_host(api)
    return "compute-1"


@pytest.fixture
def settings(database: Database) -> ApiSettings:
    """The chapter's deployment (ML2 physnet1:15:20, the 20.4 filters) over the fresh database."""
    return chapter_settings("http://testserver", database.url)
