"""The ``sriovstack api`` and ``sriovstack db`` command groups: serve, bootstrap, upgrade.

``api serve --test-build-delay SECONDS`` is a test hook, never for service: every background
build waits that long after the 202 (ApiSettings.build_start_delay), so an end-to-end test
can kill the API between the 202 and the build (tests/e2e/test_api_restart.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.cli.inputs import positive_float, positive_int, text_file
from sriovstack.errors import ConfigError, Invalid

__all__ = ["register", "app_from_environment", "ServeOptions", "parse_listen", "serving_stack",
           "DEFAULT_SWEEP_INTERVAL"]

DEFAULT_SWEEP_INTERVAL = 10.0  # seconds between the recovery sweeps (api/app.py)
_ENV = "SRIOVSTACK_API_SERVE"  # how `api serve` hands its options to each uvicorn worker
_DEFAULT_STATE = Path("/var/lib/sriovstack")


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What one API process needs; serialised to the workers through the environment."""

    database_url: str
    base_url: str
    config_files: tuple[str, ...] = ()
    build_start_delay: float = 0.0  # the test hook (module docstring)
    metrics_token: str | None = None
    metrics_dir: str | None = None  # prometheus_client's multiprocess dir (--workers > 1)
    image_dir: str | None = None  # uploaded image data (STATE_DIR/images)
    lease_seconds: float = 30.0  # an operation's lease (compute/build_lease.py)
    sweep_interval: float = DEFAULT_SWEEP_INTERVAL

    def to_json(self) -> str:
        return json.dumps({"database_url": self.database_url, "base_url": self.base_url,
                           "config_files": list(self.config_files),
                           "build_start_delay": self.build_start_delay,
                           "metrics_token": self.metrics_token,
                           "metrics_dir": self.metrics_dir,
                           "image_dir": self.image_dir,
                           "lease_seconds": self.lease_seconds,
                           "sweep_interval": self.sweep_interval})

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        data = json.loads(text)
        return cls(data["database_url"], data["base_url"], tuple(data["config_files"]),
                   float(data["build_start_delay"]), data.get("metrics_token"),
                   data.get("metrics_dir"), data.get("image_dir"),
                   float(data["lease_seconds"]), float(data["sweep_interval"]))


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) → (host, port); Invalid otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise Invalid(f"--listen {text!r} is not HOST:PORT", field="--listen",
                      fix="e.g. --listen 127.0.0.1:8080 or --listen [::]:8080")
    return host.strip("[]"), int(port)


def _database_url(args: argparse.Namespace) -> str:
    if args.database:
        return str(args.database)
    state = Path(args.state_dir)
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the state directory {state}: {exc.strerror}",
                          option="--state-dir", fix="pass --state-dir or --database") from exc
    return f"sqlite:///{state / 'sriovstack.db'}"


def _build(options: ServeOptions) -> Any:
    from sriovstack.api import create_app
    from sriovstack.api import build_services
    from sriovstack.api import ApiSettings
    from sriovstack.conf import load_config
    from sriovstack.db import Database, PoolSettings

    deployment = load_config(options.config_files) if options.config_files else None
    settings = ApiSettings(base_url=options.base_url, database_url=options.database_url,
                           deployment=deployment, build_start_delay=options.build_start_delay,
                           metrics_token=options.metrics_token,
                           metrics_dir=Path(options.metrics_dir) if options.metrics_dir else None,
                           image_dir=Path(options.image_dir) if options.image_dir else None,
                           lease_seconds=options.lease_seconds)
    db = Database(options.database_url, PoolSettings.of(deployment))
    return create_app(settings, build_services(settings, db),
                      recovery_interval=options.sweep_interval)


# A served API worker's young-generation GC threshold (Python's default: 700 allocations).
# The scheduler's host index keeps about a hundred objects per host alive, and with the
# default a full collection walked all of them every few hundred requests: at 5,000 hosts
# 0.2-0.4 s each, about 5 ms of a worker's CPU per boot in the boot benchmark (issue 14).
# At 50,000 a worker's collections of the younger generations took 30-45 ms each, about
# 25 of them while 5,000 hosts registered (80 full ones before), and full ones became rare.
GC_YOUNG_THRESHOLD = 50_000


def app_from_environment() -> Any:
    """The uvicorn factory each worker calls (options come from ``api serve``)."""
    text = os.environ.get(_ENV)
    if not text:
        raise ConfigError(f"{_ENV} is not set: start the API with `sriovstack api serve`")
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    return _build(ServeOptions.from_json(text))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sriovstack.api import KEEP_ALIVE_SECONDS
    from sriovstack.db import Database

    host, port = parse_listen(args.listen)
    if args.workers < 1:
        raise Invalid(f"--workers {args.workers} must be at least 1", field="--workers")
    url = _database_url(args)
    display_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    options = ServeOptions(url, args.base_url or f"http://{display_host}:{port}",
                           tuple(str(f) for f in args.config_file), args.test_build_delay,
                           _metrics_token(args.metrics_token_file),
                           image_dir=str(Path(args.state_dir) / "images"),
                           lease_seconds=args.lease_seconds,
                           sweep_interval=args.sweep_interval)
    db = Database(url)
    db.create_schema()  # once, here: workers never race on migrations
    db.dispose()
    _build(options)  # fail fast on bad config before any worker starts (on the new schema)
    metrics_dir = _multiprocess_metrics(args.workers)
    try:
        os.environ[_ENV] = dataclasses.replace(options, metrics_dir=metrics_dir).to_json()
        http, loop = serving_stack(_importable)
        uvicorn.run("sriovstack.cli.api:app_from_environment", factory=True, host=host,
                    port=port, workers=args.workers, log_level=args.log_level,
                    proxy_headers=True, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                    http=http, loop=loop)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def serving_stack(importable: Callable[[str], bool]) -> tuple[str, str]:
    """uvicorn's HTTP parser and event loop: httptools and uvloop, the C implementations that
    cost a request less CPU than h11 and asyncio (both dependencies of sriovstack); if one is
    not importable here, the pure-Python one, and a line on stderr saying so."""
    err = Console(stderr=True, highlight=False)
    http, loop = "httptools", "uvloop"
    if not importable("httptools"):
        http = "h11"
        err.print("httptools is not importable: parsing HTTP with h11 (pure Python, more CPU "
                  "per request)")
    if not importable("uvloop"):
        loop = "asyncio"
        err.print("uvloop is not importable: running on the asyncio event loop (pure Python, "
                  "more CPU per request)")
    return http, loop


def _multiprocess_metrics(workers: int) -> str | None:
    """With several workers, a fresh directory where each keeps its counters (prometheus_client
    reads PROMETHEUS_MULTIPROC_DIR when a worker starts), so any worker's /metrics sums them."""
    if workers == 1:
        return None
    path = tempfile.mkdtemp(prefix="sriovstack-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _metrics_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the metrics token file {path}: {exc.strerror}",
                          option="--metrics-token-file") from exc


def _bootstrap(args: argparse.Namespace) -> int:
    from sriovstack.clock import SystemClock
    from sriovstack.db import Database
    from sriovstack.identity import IdentityService

    password = args.admin_password or os.environ.get("SRIOVSTACK_ADMIN_PASSWORD", "")
    if not password:
        raise Invalid("no admin password given", field="--admin-password",
                      fix="pass --admin-password or set SRIOVSTACK_ADMIN_PASSWORD")
    service_users = dict(_service_user(text) for text in args.service_user)
    db = Database(_database_url(args))
    db.create_schema()
    identity = IdentityService(db, SystemClock(), token_ttl=timedelta(hours=1))
    result = identity.bootstrap(password, demo_password=args.demo_password,
                                service_users=service_users)
    out = Console(highlight=False)
    out.print(f"bootstrapped: projects {', '.join(p.name for p in result.projects)}; users "
              f"admin, demo{''.join(', ' + u.name for u in result.service_users)}")
    return 0


def _service_user(text: str) -> tuple[str, str]:
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise Invalid(f"--service-user {text!r} is not NAME:PASSWORD", field="--service-user")
    return name, password


def _upgrade(args: argparse.Namespace) -> int:
    from sriovstack.db import Database, current_revision

    db = Database(_database_url(args))
    db.create_schema()
    Console(highlight=False).print(f"database at revision {current_revision(db.engine)}")
    return 0


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", metavar="URL",
                        help="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
                             "(default: sriovstack.db in the state directory)")
    parser.add_argument("--state-dir", type=Path, default=_DEFAULT_STATE, metavar="DIR",
                        help=f"state directory (default {_DEFAULT_STATE})")


def register(subparsers: Any) -> None:
    """Add ``api`` (serve, bootstrap) and ``db`` (upgrade) to the top-level parser."""
    api = subparsers.add_parser("api", help="the control-plane HTTP API")
    sub = api.add_subparsers(dest="api_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser("serve", help="serve the OpenStack-compatible API")
    serve.add_argument("--config-file", action="append", default=[], metavar="FILE",
                       type=text_file,
                       help="nova.conf, ml2_conf.ini, sriov_agent.ini ... (repeatable)")
    _add_database_options(serve)
    serve.add_argument("--listen", default="127.0.0.1:8080", metavar="HOST:PORT",
                       help="address and port to serve on (default 127.0.0.1:8080; "
                       "[::]:8080 for every IPv6 address)")
    serve.add_argument("--workers", type=positive_int, default=1, metavar="N",
                       help="uvicorn worker processes (default 1)")
    serve.add_argument("--base-url", metavar="URL",
                       help="public URL for the catalog (default http://HOST:PORT)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"],
                       help="uvicorn's log level (default info)")
    serve.add_argument("--metrics-token-file", type=text_file, metavar="FILE",
                       help="GET /metrics then wants 'Authorization: Bearer <the file's "
                            "content>' (default: open to anyone who reaches --listen)")
    serve.add_argument("--lease-seconds", type=positive_float, default=30.0,
                       metavar="SECONDS", help="how long a multi-step operation's lease lasts "
                       "between renewals: a worker killed mid-operation is recovered that "
                       "long after (default 30)")
    serve.add_argument("--sweep-interval", type=positive_float,
                       default=DEFAULT_SWEEP_INTERVAL, metavar="SECONDS",
                       help="seconds between the recovery sweeps that finish or roll back "
                       "operations whose worker died (default %(default)g)")
    serve.add_argument("--test-build-delay", type=float, default=0.0, metavar="SECONDS",
                       help="test hook, never for service: every server build waits SECONDS "
                            "after the 202 (end-to-end tests kill the API in that window)")
    serve.set_defaults(func=_serve)
    boot = sub.add_parser("bootstrap", help="create the Default domain, projects, users, roles")
    _add_database_options(boot)
    boot.add_argument("--admin-password", help="the admin user's password (or "
                      "SRIOVSTACK_ADMIN_PASSWORD)")
    boot.add_argument("--demo-password", help="the demo user's password (default: the "
                      "admin password)")
    boot.add_argument("--service-user", action="append", default=[], metavar="NAME:PASSWORD",
                      help="a service user for agents (repeatable)")
    boot.set_defaults(func=_bootstrap)
    db = subparsers.add_parser("db", help="the control-plane database")
    dsub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    up = dsub.add_parser("upgrade", help="bring the schema to the newest migration")
    _add_database_options(up)
    up.set_defaults(func=_upgrade)
