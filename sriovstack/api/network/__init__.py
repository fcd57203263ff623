"""The Networking v2.0 API (neutron subset): versions, extensions, networks, subnets, ports,
security groups and rules, agents, quotas, port bindings."""

from fastapi import APIRouter

from sriovstack.api.network import (agents, extensions, networks, port_bindings, ports,
                                    quotas, security_groups, subnets, versions)

__all__ = ["router"]

# NOTE: the version routes sit on the top router itself: FastAPI refuses to include a router
# whose route path is "" without a prefix, and GET /network (no slash) must answer.
router: APIRouter = versions.router
for _module in (extensions, networks, subnets, ports, port_bindings, security_groups, agents,
                quotas):
    router.include_router(_module.router)
