"""The Networking v2.0 API (neutron subset): versions, extensions, networks, subnets, ports,
security groups and rules, agents, quotas, port bindings."""

from fastapi import APIRouter

from sriovstack.api.network import (agents, extensions, networks, port_bindings, ports,
                                    quotas, security_groups, subnets, versions)

__all__ = ["router"]

# One flat list of routes (the parts' own route objects, in this order), not included routers:
# FastAPI matches an included router's routes through a layer of bookkeeping per candidate.
router = APIRouter(routes=[route for part in (versions, extensions, networks, subnets, ports,
                                              port_bindings, security_groups, agents, quotas)
                           for route in part.router.routes])
