"""The identity API (keystone v3 subset): versions, tokens, projects, users, roles, domains,
services, endpoints and regions."""

from fastapi import APIRouter

from sriovstack.api.identity import catalog, projects, roles, tokens, users, versions

__all__ = ["router"]

# One flat list of routes (the parts' own route objects, in this order), not included routers:
# FastAPI matches an included router's routes through a layer of bookkeeping per candidate.
router = APIRouter(routes=[route for part in (versions, tokens, projects, users, roles, catalog)
                           for route in part.router.routes])
