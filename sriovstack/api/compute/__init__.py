"""The compute API (nova v2.1, microversions 2.1 to 2.79: microversions.py) under /compute."""

from fastapi import Depends

from sriovstack.api.compute import (flavors, hypervisors, interfaces, microversions, servers,
                                    sriov_audit, sriov_hosts, versions, flavor_manage, keypairs,
                                    quotas, services, usage, migrations)

__all__ = ["router"]

# The version documents sit at the prefix root ("/compute", "/compute/v2.1", no token).
router = versions.router
for _part in (flavors.router, servers.router, hypervisors.router, sriov_hosts.router,
               sriov_audit.router, interfaces.router, flavor_manage.router,
               keypairs.router, quotas.router, services.router, usage.router,
               migrations.router):
    router.include_router(_part, prefix="/v2.1",
                          dependencies=[Depends(microversions.negotiate)])
