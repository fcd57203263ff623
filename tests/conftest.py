"""Shared fixtures: a fresh database on SQLite and on PostgreSQL, a fake clock, the API client.

``database`` is parametrized over ``sqlite`` (a temporary file, WAL) and ``postgresql`` (a
throwaway database on 127.0.0.1:5432, user postgres, created once per session and emptied
before each test).  Without a reachable PostgreSQL the ``postgresql`` cases are skipped,
except in CI (``CI=true``) where they fail instead.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sriovstack.api.app import create_app
from sriovstack.api.services import Services, build_services
from sriovstack.api.settings import ApiSettings
from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.identity import passwords

PG_ADMIN_URL = os.environ.get("SRIOVSTACK_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BASE_URL = "http://testserver"
ADMIN_PASSWORD = "admin-secret"
DEMO_PASSWORD = "demo-secret"
AGENT_USER, AGENT_PASSWORD = "sriovstack-agent", "agent-secret"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this session (dropped at the end)."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sriovstack_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach PG means "no PG here"
        admin.dispose()
        message = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"
        if _in_ci():
            pytest.fail(f"{message} (CI=true: PostgreSQL must be up)")
        pytest.skip(message)
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no schema yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sriovstack.db'}"
    url: str = request.getfixturevalue("postgres_url")
    _empty_postgres(url)
    return url


@pytest.fixture(scope="session")
def sqlite_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database brought to head once per session (the migrations take ~0.1 s)."""
    path = tmp_path_factory.mktemp("sqlite-head") / "head.db"
    db = Database(f"sqlite:///{path}")
    db.create_schema()
    db.dispose()
    return path


@pytest.fixture
def database(database_url: str, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A fresh database brought to head: on SQLite a copy of ``sqlite_head`` (SQLite's backup
    API, whole and consistent), on PostgreSQL the migrations run on the emptied database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        head: Path = request.getfixturevalue("sqlite_head")
        with closing(sqlite3.connect(head)) as source, \
                closing(sqlite3.connect(str(url.database))) as copy:
            source.backup(copy)
        db = Database(database_url)
    else:
        db = Database(database_url)
        db.create_schema()
    yield db
    db.dispose()


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """New password hashes at scrypt n=2**8 in this process: each in-process API test
    bootstraps three users and logs each in, six hashes that cost ~0.25 s at the service's
    cost. Verification reads the cost off the hash; the service's cost has its own test
    (tests/identity/test_passwords.py), and served clouds in subprocesses keep it."""
    real = passwords.COST
    passwords.COST = passwords.ScryptCost(n=2**8, r=8, p=1)
    yield
    passwords.COST = real


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> ApiSettings:
    return ApiSettings(base_url=BASE_URL, database_url=database.url,
                       image_dir=tmp_path / "images")


@pytest.fixture
def services(settings: ApiSettings, database: Database, clock: FakeClock) -> Services:
    """Every service over the fresh database and the fake clock (identity bootstrapped)."""
    built = build_services(settings, database, clock=clock)
    built.identity.bootstrap(ADMIN_PASSWORD, demo_password=DEMO_PASSWORD,
                             service_users={AGENT_USER: AGENT_PASSWORD})
    return built


@dataclass(frozen=True)
class Api:
    """An in-process client of the whole API with tokens for admin, demo and the agent user."""

    client: TestClient
    services: Services
    clock: FakeClock
    admin_token: str
    demo_token: str
    service_token: str
    admin_project_id: str
    demo_project_id: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"X-Auth-Token": token}

    @property
    def admin(self) -> dict[str, str]:
        return self.auth(self.admin_token)

    @property
    def demo(self) -> dict[str, str]:
        return self.auth(self.demo_token)

    @property
    def service(self) -> dict[str, str]:
        return self.auth(self.service_token)


def password_body(user: str, password: str, project: str | None) -> dict[str, object]:
    """The keystone v3 password-auth body openstackclient sends."""
    auth: dict[str, object] = {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": "Default"}, "password": password}}}}
    if project is not None:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


def issue_token(client: TestClient, user: str, password: str, project: str | None) -> str:
    response = client.post("/identity/v3/auth/tokens", json=password_body(user, password, project))
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


@pytest.fixture
def api(settings: ApiSettings, services: Services, clock: FakeClock) -> Iterator[Api]:
    """The API in process over the fresh database, with admin/demo/agent tokens issued."""
    with TestClient(create_app(settings, services)) as client:
        tokens = services.identity.tokens
        admin = issue_token(client, "admin", ADMIN_PASSWORD, "admin")
        demo = issue_token(client, "demo", DEMO_PASSWORD, "demo")
        agent = issue_token(client, AGENT_USER, AGENT_PASSWORD, "service")
        yield Api(client, services, clock, admin, demo, agent,
                  tokens.validate(admin).project.id,  # type: ignore[union-attr]
                  tokens.validate(demo).project.id)  # type: ignore[union-attr]


# --- test layers: `scripts/test --quick` runs `-m "not e2e and not slow"` ------------------
# Tests that start a whole all-in-one cloud, the demo, real network namespaces or
# subprocesses of the installed command are `slow` (the e2e tests mark themselves `e2e`).
# Listed here, in one place, by path; a test module may also mark itself.
_SLOW_PATHS = (
    "tests/cli/test_demo.py", "tests/cli/test_allinone.py", "tests/cli/test_client_cli.py",
    "tests/cli/test_guest_cli.py", "tests/dataplane/test_traffic.py",
    "tests/dataplane/test_lifecycle.py", "tests/agents/test_netns_agent.py",
    "tests/virt/test_netns_driver.py",
)
_REPO = Path(__file__).resolve().parent.parent


# --- parallel workers: `scripts/test` runs pytest-xdist with `--dist loadscope` -------------
# A worker takes a whole module at a time, so a module-scoped cloud starts once. Modules that
# share something only one test may hold at a time run on one worker, as one scope: the qemu
# tier shares one guest per session, and the data-plane tests check that the root network
# namespace is left exactly as they found it (another worker's cloud must not be in it then).
_ONE_WORKER = {"tests/qemu/": "qemu", "tests/dataplane/": "root-namespace"}
# The qemu tier is the longest scope: it starts first, beside the in-process tests, so that no
# worker is left running it alone at the end.
_FIRST = ("tests/qemu/",)


def worker_scope(nodeid: str) -> str:
    """The scope a test runs in: its module, or the group its module belongs to."""
    module = nodeid.split("::", 1)[0]
    for stem, group in _ONE_WORKER.items():
        if module.startswith(stem):
            return group
    return module


@pytest.hookimpl(optionalhook=True)  # xdist's hook; unknown when xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """loadscope with ``worker_scope`` as the scope (xdist's own scopes are modules and classes;
    its loadgroup marks no longer reach the scheduler under pytest 9.2, which ignores the node
    id they rewrite)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkerScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return worker_scope(nodeid)

    return WorkerScopes(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    first: list[pytest.Item] = []
    rest: list[pytest.Item] = []
    for item in items:
        try:
            where = item.path.resolve().relative_to(_REPO).as_posix()
        except ValueError:
            rest.append(item)
            continue
        if where.startswith(_SLOW_PATHS):
            item.add_marker(pytest.mark.slow)
        (first if where.startswith(_FIRST) else rest).append(item)
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a serial run keeps the collection order
        items[:] = first + rest
