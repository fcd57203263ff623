"""Issue 10, finding 1 (SQLite and PostgreSQL): a server deleted at any moment of its build
leaves nothing behind: no VF claimed or allocated for it, no host allocation or used vCPU/RAM,
no port bound to it.  The delete and the build agree through one fenced change of the server
row; a build that loses undoes its own claims."""

from __future__ import annotations

import random
import threading
import time

from sqlalchemy import func, select

from sriovstack.compute.types import NetworkRequest, ServerCreate
from sriovstack.db.models.hosts import HostAllocationRow, HostRow, PciDeviceRow
from sriovstack.db.models.network import PortRow
from sriovstack.errors import NotFound
from tests.compute.conftest import ADMIN, Cloud, intel_82576_devices

CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"


def _boot(cloud: Cloud, network_id: str) -> str:
    """The 202: a server in BUILD on a new direct port, its build not yet run."""
    port = cloud.port(ADMIN, network_id)
    return cloud.compute.servers.create(ADMIN, ServerCreate(
        name="racer", flavor_ref="1", image_ref=CIRROS_ID,
        networks=(NetworkRequest(port_id=port.id),))).id


def _leftovers(cloud: Cloud) -> dict[str, object]:
    """Everything a deleted server could have left behind; all empty when nothing leaked."""
    with cloud.db.transaction() as s:
        return {
            "devices": s.execute(select(PciDeviceRow.address, PciDeviceRow.status,
                                        PciDeviceRow.owner).where(
                PciDeviceRow.owner.is_not(None))).all(),
            "allocations": s.scalars(select(HostAllocationRow.server_id)).all(),
            "ram_used": int(s.scalar(select(func.sum(HostRow.memory_mb_used))) or 0),
            "vcpus_used": int(s.scalar(select(func.sum(HostRow.vcpus_used))) or 0),
            "bound_ports": s.execute(select(PortRow.id, PortRow.device_id).where(
                PortRow.device_id != "")).all(),
        }


NOTHING = {"devices": [], "allocations": [], "ram_used": 0, "vcpus_used": 0, "bound_ports": []}


def test_a_build_that_places_the_server_while_delete_tears_down_leaves_nothing(
        cloud: Cloud) -> None:
    """The interleaving the issue names: delete's teardown runs, then the whole build
    (claim, bind, place), then delete removes the row.  Before the fix the claim, the
    allocation and the binding stayed for a server that no longer existed."""
    cloud.add_host("compute-1")
    server_id = _boot(cloud, cloud.network())
    builder = cloud.compute.servers.builder
    real_teardown = builder.teardown

    def teardown_then_build(sid: str, ports: tuple[str, ...]) -> None:
        real_teardown(sid, ports)
        builder.build(server_id)  # the background build runs in the gap

    builder.teardown = teardown_then_build  # type: ignore[method-assign]
    cloud.compute.servers.delete(ADMIN, server_id)
    builder.teardown = real_teardown  # type: ignore[method-assign]
    assert _leftovers(cloud) == NOTHING


def test_a_build_that_claimed_before_the_delete_undoes_its_own_claims(cloud: Cloud) -> None:
    """The build claims and binds, the delete runs to the end, then the build goes on: it
    finds the server gone and undoes what it did."""
    cloud.add_host("compute-1")
    server_id = _boot(cloud, cloud.network())
    real_bind = cloud.net.bind_devices  # a build binds its batch's ports with one call

    def bind_then_delete(*args: object, **kwargs: object) -> object:
        refusals = real_bind(*args, **kwargs)  # type: ignore[arg-type]
        cloud.compute.servers.delete(ADMIN, server_id)
        return refusals

    cloud.net.bind_devices = bind_then_delete  # type: ignore[method-assign]
    cloud.compute.servers.builder.build(server_id)
    cloud.net.bind_devices = real_bind  # type: ignore[method-assign]
    assert _leftovers(cloud) == NOTHING
    try:
        cloud.compute.servers.get(ADMIN, server_id)
        raise AssertionError("the deleted server is still shown")
    except NotFound:
        pass


def test_deletes_0_to_200_ms_after_the_202_in_parallel_leave_nothing(cloud: Cloud) -> None:
    """Many boots on direct ports, each deleted at a random moment 0-200 ms after its 202
    while its build runs in another thread (as the issue's probe did against the API)."""
    for host in ("compute-1", "compute-2"):
        cloud.add_host(host, devices=intel_82576_devices(vfs_per_pf=8))
    network_id = cloud.network()
    # 24 servers: past nova's default instance quota (10), so the project's limit goes first.
    cloud.compute.quotas.update(ADMIN, "p-admin", {"instances": -1, "cores": -1, "ram": -1})
    rng = random.Random(10)
    servers = [_boot(cloud, network_id) for _ in range(24)]
    builder = cloud.compute.servers.builder
    errors: list[BaseException] = []

    def guarded(fn, *args):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 (reported by the assert below)
                errors.append(exc)
        return run

    def delete_later(server_id: str, delay: float) -> None:
        time.sleep(delay)
        cloud.compute.servers.delete(ADMIN, server_id)

    threads = []
    for server_id in servers:
        threads.append(threading.Thread(target=guarded(builder.build, server_id)))
        threads.append(threading.Thread(target=guarded(
            delete_later, server_id, rng.uniform(0.0, 0.2))))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert _leftovers(cloud) == NOTHING
    assert cloud.compute.servers.list(ADMIN) == ()


def test_a_delete_whose_worker_died_after_the_fence_is_finished_by_the_sweep(
        cloud: Cloud) -> None:
    cloud.add_host("compute-1")
    server_id = _boot(cloud, cloud.network())
    builder = cloud.compute.servers.builder
    builder.build(server_id)
    assert _leftovers(cloud)["allocations"] == [server_id]
    assert builder.leases.fence_delete(server_id) is not None  # then the worker dies
    assert cloud.compute.servers.list(ADMIN) == ()  # users see it gone at once
    builder.recover()
    assert _leftovers(cloud)["allocations"] == [server_id]  # the delete's lease is live
    cloud.clock.advance(31)
    builder.recover()
    assert _leftovers(cloud) == NOTHING
