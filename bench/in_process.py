"""What the in-process benchmarks share (run by hand): the whole API's services on a fresh
database (a temp SQLite file unless given a URL), and a project-scoped token for a
``TestClient`` of it.  ``served_cloud.py`` is the same for the benchmarks that time
``api serve`` over HTTP."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from sriovstack.api.app import create_app
from sriovstack.api.services import Services, build_services
from sriovstack.api.settings import ApiSettings
from sriovstack.conf import DeploymentConfig
from sriovstack.db import Database

PASSWORD = "bench-password"  # admin's and demo's


@dataclass(frozen=True)
class Cloud:
    db: Database
    settings: ApiSettings
    services: Services

    def client(self) -> TestClient:
        return TestClient(create_app(self.settings, self.services))


def cloud(url: str | None, deployment: DeploymentConfig | None = None) -> Cloud:
    """The API's services on a new schema at ``url`` (None: a temp SQLite file), bootstrapped
    with admin and demo (password ``PASSWORD``)."""
    tmp = Path(tempfile.mkdtemp())
    db = Database(url or f"sqlite:///{tmp}/bench.db")
    db.create_schema()
    settings = ApiSettings(base_url="http://bench", database_url=db.url, image_dir=tmp / "img",
                           deployment=deployment)
    services = build_services(settings, db)
    services.identity.bootstrap(PASSWORD, demo_password=PASSWORD)
    return Cloud(db, settings, services)


def token_headers(client: TestClient, user: str) -> dict[str, Any]:
    """``X-Auth-Token`` of ``user`` (admin or demo), scoped to the project of that name."""
    answer = client.post("/identity/v3/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": user, "domain": {"name": "Default"}}}}})
    assert answer.status_code == 201, answer.text
    return {"X-Auth-Token": answer.headers["X-Subject-Token"]}


def analyze(db: Database) -> None:
    """On PostgreSQL, gather the statistics a live cloud's tables have (autovacuum analyzes a
    table once a tenth of it changed; rows inserted a moment ago have none until then)."""
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
