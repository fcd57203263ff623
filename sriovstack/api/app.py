"""create_app: the only way to build the HTTP API from settings and services.

Each API is mounted under its prefix (``_ApiMount``): a request is matched against its own
API's routes only, never against the other APIs' (FastAPI would try every route of every
included router, the agents' internal API last).

Middleware order (outermost first): EdgeMiddleware (request id, body limit, 500 guard, and
each request's duration for /metrics, timed inside the guard so a crash counts as the 500 it
is answered with), then FastAPI's own stack whose exception handlers render every error in
its API's envelope.
The app's lifespan runs the sweep at start and every ``recovery_interval`` seconds: it reads
what changed into the scheduler's host index (so hosts that register while nothing is built
do not all land on a worker's first decision), finishes builds and deletes whose worker died
(ServerBuilder.recover), and every ``AUDIT_EVERY`` sweeps audits the ledger, repairing what is
safe and found by two audits in a row (compute/audit.py ``Audit.sweep``; one API process
audits at a time, the holder of the audit's lease, which it gives back when it stops).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.routing import Match, Mount
from starlette.types import Scope

from sriovstack.api import compute, identity, image, internal, network, placement
from sriovstack.api.dashboard import router as dashboard_router
from sriovstack.api.errors import install_error_handlers
from sriovstack.api.metrics import router as metrics_router
from sriovstack.api.middleware import EdgeMiddleware
from sriovstack.api.routes import one_hop
from sriovstack.api.services import Services
from sriovstack.api.settings import ApiSettings

__all__ = ["create_app", "API_PREFIXES", "RECOVERY_INTERVAL"]

_LOG = logging.getLogger(__name__)
RECOVERY_INTERVAL = 10.0  # seconds between build-recovery sweeps (leases last 30 s)
AUDIT_EVERY = 6  # sweeps between two audit repairs (a minute at the default interval)

# sriovstack's telemetry is its Prometheus /metrics (api/metrics.py), and no OpenTelemetry SDK
# is installed to configure a provider with; FastAPI's native OpenTelemetry would otherwise
# look the global providers up (reading os.environ) on every request to find them unset.
_NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

# Each API lives under its own prefix, which also picks its error envelope (api/errors.py).
# Its plain ``def`` handlers are rebuilt, once, to reach the threadpool once per request, not
# twice (api/routes.py ``one_hop``).
API_PREFIXES = tuple(
    (prefix, APIRouter(routes=[one_hop(route) for route in router.routes]))
    for prefix, router in (("/identity", identity.router), ("/network", network.router),
                           ("/compute", compute.router), ("/image", image.router),
                           ("/placement", placement.router), ("/internal", internal.router)))


class _ApiMount(Mount):
    """One API's router under its prefix: the prefix itself (``GET /identity``, the version
    document) and every path under ``prefix/`` go to that router alone.

    The router answers a path it has no route for with 404 (a slash redirect never: the app
    turns it off too), in its API's envelope (api/errors.py picks it by path, which stays
    whole; only ``root_path`` grows by the prefix).  The child scope names no endpoint, so a
    path no route matches stays "unmatched" for /metrics (api/middleware.py ``route_template``).
    """

    def __init__(self, prefix: str, router: APIRouter) -> None:
        super().__init__(prefix, app=APIRouter(routes=list(router.routes),
                                               redirect_slashes=False))
        self._under = self.path + "/"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path) and path[len(root_path):][:1] in ("", "/"):
            path = path[len(root_path):]  # the path below root_path, as starlette matches it
        if path != self.path and not path.startswith(self._under):
            return Match.NONE, {}
        return Match.FULL, {"app_root_path": scope.get("app_root_path", root_path),
                            "root_path": root_path + self.path}


async def _sweep_builds(services: Services, interval: float) -> None:
    """Re-drive orphaned builds now and every ``interval`` seconds until cancelled; every
    ``AUDIT_EVERY`` sweeps, audit the ledger and repair what is safe (each repair logged and
    counted by the audit)."""
    sweeps = 0
    while True:
        try:
            await asyncio.to_thread(services.scheduler.refresh)  # keep the host index warm
            await asyncio.to_thread(services.compute.servers.builder.recover)
            await asyncio.to_thread(services.compute.recovery.recover)
            if services.compute.migrations is not None:  # moves whose worker died
                await asyncio.to_thread(services.compute.migrations.recover)
            if sweeps % AUDIT_EVERY == AUDIT_EVERY - 1:
                # one API process at a time audits, holding the sweep's lease for three
                # of its own sweeps' intervals (renewed at each)
                await asyncio.to_thread(services.compute.audit.sweep,
                                        3 * AUDIT_EVERY * interval)
        except Exception:  # the database may be down for a while: try again next time
            _LOG.exception("build recovery sweep failed")
        sweeps += 1
        await asyncio.sleep(interval)


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi``: the document of every API's routes under its prefix (FastAPI's own
    would not look inside the mounts), made once, on the first ``GET /openapi.json``."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            everything = APIRouter()
            for prefix, router in API_PREFIXES:
                everything.include_router(router, prefix=prefix)
            app.openapi_schema = get_openapi(title=app.title, version=app.version,
                                             routes=[*everything.routes, *app.routes])
        return app.openapi_schema
    return openapi


def _lifespan(services: Services, interval: float
              ) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep_builds(services, interval), name="build-recovery")
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            try:  # another process takes the audit over at once, not when the lease ends
                await asyncio.to_thread(services.compute.audit.release)
            except Exception:  # the database may be down: the lease then simply expires
                _LOG.exception("releasing the audit's lease failed")
    return lifespan


def create_app(settings: ApiSettings, services: Services, *,
               recovery_interval: float = RECOVERY_INTERVAL) -> FastAPI:
    """The ASGI app serving every API over ``services``; nothing global is touched.

    Served with its lifespan on (uvicorn's default), it sweeps for orphaned builds.
    """
    app = FastAPI(title="sriovstack", version="0.1.0", redirect_slashes=False,
                  telemetry=_NO_NATIVE_TELEMETRY,
                  default_response_class=JSONResponse, docs_url=None, redoc_url=None,
                  routes=[_ApiMount(p, r) for p, r in API_PREFIXES],
                  lifespan=_lifespan(services, recovery_interval))
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.state.settings = settings
    app.state.services = services
    install_error_handlers(app)
    app.include_router(metrics_router)
    app.include_router(dashboard_router)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes,
                       recorder=services.recorder)
    return app
