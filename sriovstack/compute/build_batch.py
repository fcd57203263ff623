"""Group commit for builds (issue 14): the builds queued in one API worker run in batches.

Every ``POST /servers`` queues ``ServerBuilder.build_async(id)`` after its 202.  Run one at a
time, each build pays its own transactions: taking its lease and reading its plan, the
scheduler's index refresh, and placing the server.  ``BuildBatcher`` collects the builds
waiting in a worker and lets at most ``drainers`` threads run them, up to ``batch_size`` at
once: the first caller to find a free drainer slot runs the waiting builds (its own among
them) in batches until none waits, the others wait until theirs is done (so a build's caller
still returns when its build has ended, as the background task always did).  The API waits on
the event loop (``run_async``): a build waiting for its batch holds no threadpool thread,
which the requests need (with 40 threads and 16 builds per batch, the builds waiting behind
two running batches used to hold most of them).  A batch:

- takes every lease and reads every plan in one transaction (``read_plans``), under one
  token: each server row is still fenced on its own (every lease check names the server);
- places the builds one after the other against the scheduler's index, refreshed once per
  batch (each claim is its own fenced conditional transaction, and the index takes each
  claim's resources at once, so the next decision of the batch sees them);
- places every server whose ports were bound in one transaction, one revision bump per host.

One server's failure never fails the others: each keeps its own outcome, and when the
placing transaction fails as a whole, each server is placed again on its own.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sriovstack.db.models import FlavorExtraSpecRow, FlavorRow, ImageRow, ServerPortRow, ServerRow
from sriovstack.wire import VnicType

__all__ = ["BuildBatcher", "Plan", "read_plans", "DEFAULT_BATCH_SIZE", "DEFAULT_DRAINERS"]

_LOG = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16  # builds per batch: enough to amortise, small enough to start soon
DEFAULT_DRAINERS = 2  # batches running at once per worker (one may wait on a row lock)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one build attempt needs, read once from the database."""

    server_id: str
    project_id: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    availability_zone: str | None
    image_properties: tuple[tuple[str, str], ...]
    ports: tuple[tuple[str, VnicType, str | None], ...]  # (port_id, vnic_type, physnet)
    extra_specs: tuple[tuple[str, str], ...] = ()  # the flavor's, sorted


# ``read_plans``'s statements, built once (every build reads its plan), on the Core tables:
# the few columns a plan holds, no ORM rows.
_S, _F, _I = ServerRow.__table__.c, FlavorRow.__table__.c, ImageRow.__table__.c
_SERVERS = (select(_S.id, _S.project_id, _S.availability_zone, _S.flavor_id, _F.vcpus, _F.ram,
                   _F.disk, _I.properties)
            .join_from(ServerRow.__table__, FlavorRow.__table__, _F.id == _S.flavor_id,
                       isouter=True)
            .join(ImageRow.__table__, _I.id == _S.image_id, isouter=True)
            .where(_S.id.in_(bindparam("servers", expanding=True))))
_P = ServerPortRow.__table__.c
_PORTS = (select(_P.server_id, _P.port_id, _P.vnic_type, _P.physnet)
          .where(_P.server_id.in_(bindparam("servers", expanding=True)))
          .order_by(_P.server_id, _P.position))
_SPEC = FlavorExtraSpecRow.__table__.c
_EXTRA_SPECS = (select(_SPEC.flavor_id, _SPEC.key, _SPEC.value)
                .where(_SPEC.flavor_id.in_(bindparam("flavors", expanding=True)))
                .order_by(_SPEC.flavor_id, _SPEC.key))


def read_plans(session: Session, server_ids: Sequence[str]) -> dict[str, Plan]:
    """The plans of these servers as ``session`` sees them (three reads whatever their
    number); servers that are gone are left out."""
    if not server_ids:
        return {}
    found = session.execute(_SERVERS, {"servers": list(server_ids)}).all()
    if not found:
        return {}
    ports: dict[str, list[tuple[str, VnicType, str | None]]] = {}
    for port in session.execute(_PORTS, {"servers": [s.id for s in found]}):
        ports.setdefault(port.server_id, []).append(
            (port.port_id, VnicType(port.vnic_type), port.physnet))
    flavor_ids = sorted({s.flavor_id for s in found if s.flavor_id is not None})
    specs: dict[str, list[tuple[str, str]]] = {}
    if flavor_ids:
        for flavor_id, key, value in session.execute(_EXTRA_SPECS, {"flavors": flavor_ids}):
            specs.setdefault(flavor_id, []).append((key, value))
    # A server whose flavor or image row is gone reads NULLs there: no resources, no
    # image properties (as when the rows were loaded).
    return {server.id: Plan(
        server_id=server.id, project_id=server.project_id,
        vcpus=server.vcpus or 0, memory_mb=server.ram or 0, disk_gb=server.disk or 0,
        availability_zone=server.availability_zone,
        image_properties=tuple(sorted(
            (str(k), str(v)) for k, v in (server.properties or {}).items())),
        ports=tuple(ports.get(server.id, ())),
        extra_specs=tuple(specs.get(server.flavor_id, ())))
        for server in found}


@dataclass(frozen=True, slots=True)
class _Waiting:
    """One build waiting for its batch, and how to tell its caller the build has ended
    (called by the drainer's thread)."""

    server_id: str
    finish: Callable[[], None]


def _settle_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    """Settle ``future`` on its loop, from another thread (a drainer's)."""
    def settle() -> None:
        if not future.done():
            future.set_result(None)
    try:
        loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop has closed (the worker stops): nobody waits
        pass


class BuildBatcher:
    """Runs the builds queued in this worker in batches (module docstring).

    ``run_batch`` is given the server ids of one batch and must not raise for one server's
    sake (it is the builder's ``build_batch``); should it raise anyway, the error is logged
    and the batch's builds end (their leases expire and the recovery sweep redoes them).
    """

    def __init__(self, run_batch: Callable[[tuple[str, ...]], None],
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 drainers: int = DEFAULT_DRAINERS) -> None:
        if batch_size < 1 or drainers < 1:
            raise ValueError(f"a build batch needs a size and drainers of at least 1, not "
                             f"{batch_size} and {drainers}")
        self._run_batch = run_batch
        self._batch_size = batch_size
        self._drainers = drainers
        self._running = 0
        self._pending: list[_Waiting] = []
        self._lock = threading.Lock()
        # ``run_async``'s drainers run here: their own threads, so a drainer busy for a
        # while takes none from the requests' threadpool or the event loop's default
        # executor (the agents' long-polls read there)
        self._threads = ThreadPoolExecutor(drainers, thread_name_prefix="build-drainer")

    def run(self, server_id: str) -> None:
        """Build ``server_id`` in a batch; returns once its build has ended."""
        ended = threading.Event()
        if self._queue(_Waiting(server_id, ended.set)):
            self._drain()
        ended.wait()

    async def run_async(self, server_id: str) -> None:
        """``run`` from the event loop: waiting for the batch takes no thread; only a
        caller that finds a drainer slot free runs the batches, in a drainer thread."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        if self._queue(_Waiting(server_id, functools.partial(_settle_soon, loop, ended))):
            await loop.run_in_executor(self._threads, self._drain)
        await ended

    def _queue(self, waiting: _Waiting) -> bool:
        """Queue a build; True when its caller takes a free drainer slot (then ``_drain``)."""
        with self._lock:
            self._pending.append(waiting)
            if self._running < self._drainers:
                self._running += 1
                return True
            return False

    def _drain(self) -> None:
        """Run the waiting builds, a batch at a time, until none waits; then give the slot
        back (under the lock that queues: a build queued meanwhile finds the slot free)."""
        released = False
        try:
            while True:
                with self._lock:
                    batch = self._pending[:self._batch_size]
                    del self._pending[:self._batch_size]
                    if not batch:
                        self._running -= 1
                        released = True
                        return
                try:
                    self._run_batch(tuple(w.server_id for w in batch))
                except Exception:  # the builder's own guard failed: the sweep redoes them
                    _LOG.exception("a batch of %d builds failed", len(batch))
                finally:
                    for waiting in batch:
                        waiting.finish()
        finally:
            if not released:  # only on an error that is not an Exception
                with self._lock:
                    self._running -= 1
