"""`sriovstack db upgrade`, `api bootstrap` and `api serve` options from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sriovstack.cli.api import ServeOptions
from sriovstack.cli.main import main
from sriovstack.db import Database, migrations


def test_db_upgrade_brings_a_new_database_to_head_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    assert main(["db", "upgrade", "--database", url]) == 0
    assert main(["db", "upgrade", "--database", url]) == 0  # again: nothing to do, no error
    head = migrations.head_revision()
    assert f"database at revision {head}" in capsys.readouterr().out
    db = Database(url)
    assert migrations.current_revision(db.engine) == head
    db.dispose()


def test_api_bootstrap_without_a_password_names_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SRIOVSTACK_ADMIN_PASSWORD", raising=False)
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    assert main(["api", "bootstrap", "--database", url]) == 2
    assert "--admin-password" in capsys.readouterr().err


def test_api_bootstrap_creates_the_projects_and_service_users(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    assert main(["api", "bootstrap", "--database", url, "--admin-password", "secret",
                 "--service-user", "sriovstack-agent:pw"]) == 0
    out = capsys.readouterr().out
    assert "admin" in out and "demo" in out and "sriovstack-agent" in out
    assert main(["api", "bootstrap", "--database", url, "--admin-password", "x",
                 "--service-user", "no-colon"]) == 2
    assert "--service-user" in capsys.readouterr().err


def test_api_serve_refuses_a_bad_test_build_delay_before_serving(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    assert main(["api", "serve", "--database", url, "--listen", "127.0.0.1:1",
                 "--test-build-delay", "-5"]) == 2
    err = capsys.readouterr().err
    assert "config error" in err and "--test-build-delay" in err


def test_api_serve_hands_the_test_build_delay_to_its_workers() -> None:
    options = ServeOptions("sqlite:///x.db", "http://127.0.0.1:8080", ("nova.conf",), 30.0)
    assert ServeOptions.from_json(options.to_json()) == options
    metered = ServeOptions("sqlite:///x.db", "http://127.0.0.1:8080", (), 0.0,
                           "a-token-of-sixteen+", "/tmp/metrics-dir")
    assert ServeOptions.from_json(metered.to_json()) == metered
    quick = ServeOptions("sqlite:///x.db", "http://127.0.0.1:8080", lease_seconds=2.0,
                         sweep_interval=0.5)  # api serve --lease-seconds --sweep-interval
    assert ServeOptions.from_json(quick.to_json()) == quick


def test_each_served_worker_collects_garbage_less_often(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's app factory raises the young GC threshold: with Python's 700, full
    collections walked the whole host index every few hundred requests (issue 14)."""
    import gc

    from sriovstack.cli.api import _ENV, GC_YOUNG_THRESHOLD, app_from_environment

    url = f"sqlite:///{tmp_path / 'gc.db'}"
    Database(url).create_schema()
    monkeypatch.setenv(_ENV, ServeOptions(url, "http://127.0.0.1:8080").to_json())
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, *before[1:])
        assert app_from_environment() is not None
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)


def test_api_serve_on_a_new_database_brings_it_to_head_before_building_the_app(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It built the app first, which reads the VLAN table: a new database was refused with
    # "no such table" instead of being migrated.
    import uvicorn

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_kwargs: served.append(app))
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert main(["api", "serve", "--database", url, "--listen", "127.0.0.1:8080"]) == 0
    assert served == ["sriovstack.cli.api:app_from_environment"]
    assert migrations.current_revision(Database(url).engine) == migrations.head_revision()
