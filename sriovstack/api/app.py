"""create_app: the only way to build the HTTP API from settings and services.

Middleware order (outermost first): EdgeMiddleware (request id, body limit, 500 guard), then
FastAPI's own stack whose exception handlers render every error in its API's envelope.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from sriovstack.api import compute, identity, image, internal, network, placement
from sriovstack.api.errors import install_error_handlers
from sriovstack.api.middleware import EdgeMiddleware
from sriovstack.api.services import Services
from sriovstack.api.settings import ApiSettings

__all__ = ["create_app", "API_PREFIXES"]

# Each API lives under its own prefix, which also picks its error envelope (api/errors.py).
API_PREFIXES = (
    ("/identity", identity.router),
    ("/network", network.router),
    ("/compute", compute.router),
    ("/image", image.router),
    ("/placement", placement.router),
    ("/internal", internal.router),
)


def create_app(settings: ApiSettings, services: Services) -> FastAPI:
    """The ASGI app serving every API over ``services``; nothing global is touched."""
    app = FastAPI(title="sriovstack", version="0.1.0", redirect_slashes=False,
                  default_response_class=JSONResponse, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.services = services
    install_error_handlers(app)
    for prefix, router in API_PREFIXES:
        app.include_router(router, prefix=prefix)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
