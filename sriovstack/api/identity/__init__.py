"""The identity API (keystone v3 subset): versions, tokens, projects, users, roles, domains,
services, endpoints and regions."""

from fastapi import APIRouter

from sriovstack.api.identity import catalog, projects, roles, tokens, users, versions

__all__ = ["router"]

# NOTE: the version routes sit on the top router itself: FastAPI refuses to include a router
# whose route path is "" without a prefix, and GET /identity (no slash) must answer.
router: APIRouter = versions.router
for _module in (tokens, projects, users, roles, catalog):
    router.include_router(_module.router)
