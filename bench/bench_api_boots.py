"""End-to-end boot benchmark (run by hand, issue 14): ``sriovstack api serve --workers W`` on a
fresh PostgreSQL database, N simulated hosts (2 PFs x 64 VFs) registered through the agent API,
M servers booted concurrently on pre-created direct ports through the compute API, and the
agents played promptly (desired state read, VF ports and the server reported up).

    .venv/bin/python bench/bench_api_boots.py --hosts 1000 --boots 200 --workers 2 \
        [--host-subset-size N] [--heartbeats] [--warmup N] \
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

``--heartbeats`` plays every host's agents' heartbeats while the boots run, at the agents'
report intervals (compute every 10 s, NIC Switch every 30 s): the background load of a live
cloud, 133 beats a second at 1,000 hosts, which a run without it leaves out.

``--warmup N`` boots N servers first and measures only the next M: each API worker's pooled
connections have then met the boot's statements (PostgreSQL plans a statement at each of its
first executions on a connection), as in an API that has run a while.

``--database`` names a server (and a database to connect to first): the benchmark creates its
own database there and drops it at the end.  It prints registration rate, ports/s, placed/s,
ACTIVE/s (and the rate of the creates' 202s), p50/p99 latency from the create request to
ACTIVE, the API workers' CPU per boot
(utime + stime of every process under ``api serve``, from /proc), the CPU that PostgreSQL's
processes and the benchmark itself spent per boot (the three share the machine; PostgreSQL's
also as the part its own database's backends spent, which holds while other work runs), and
per boot the SQL statements the API sent (its ``sriovstack_db_statements`` counter, summed over workers by
/metrics) and the transactions PostgreSQL committed (``pg_stat_database.xact_commit``; this
also counts the benchmark's own watcher queries, which are listed apart).

The boots and heartbeats are sent with aiohttp (the ``bench`` extra), not httpx: on two
shared cores the client's CPU is taken from the API and PostgreSQL it measures, and httpx's
async client cost 1.5-2.4 ms of CPU per request here against aiohttp's 0.15 ms.  Setting up
(registration, ports) keeps httpx; its rates are the setup's, not the boots'.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from served_cloud import (  # noqa: E402 - the benchmarks' shared cloud, beside this file
    ADMIN_PASSWORD, AGENT_PASSWORD, AGENT_USER, BEAT_EVERY, HEARTBEAT_STALE, PFS, PHYSNET,
    SWEEP_EVERY, VFS,
    Backends, api_cpu_seconds, autovacuums, commits, fresh_database, heartbeat, inventory,
    postgres_cpu_seconds, served_api, statements, token, unlimited)


# --- the agents' heartbeats during the boots --------------------------------------------------

@dataclass
class Beats:
    """The heartbeats every host's two agents send while the boots run (``--heartbeats``):
    a live cloud's background load, which a run without them leaves out."""

    hosts: int
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    async def play(self, c: aiohttp.ClientSession, stop: asyncio.Event, limit: int = 16) -> None:
        """Each agent beats once per its interval, the hosts spread evenly over it (the
        beats due by the clock sent every 0.1 s or as soon as the loop gets to it), until
        ``stop``."""
        gate = asyncio.Semaphore(limit)
        due = [0.0 for _ in BEAT_EVERY]
        last = time.monotonic()
        sending: set[asyncio.Task[None]] = set()

        async def one(host: str, beat: dict[str, Any]) -> None:
            async with gate:
                async with c.post(f"/internal/v1/hosts/{host}/heartbeat", json=beat) as r:
                    self.sent += 1
                    if r.status != 200:
                        self.errors.append(f"heartbeat: {r.status} {(await r.text())[:200]}")

        while not stop.is_set():
            now = time.monotonic()
            elapsed, last = now - last, now
            for kind, (beat, every) in enumerate(BEAT_EVERY):
                due[kind] += self.hosts * elapsed / every
                while due[kind] >= 1.0:
                    due[kind] -= 1.0
                    host = f"compute-{random.randrange(self.hosts):05d}"
                    task = asyncio.create_task(one(host, beat))
                    sending.add(task)
                    task.add_done_callback(sending.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        await asyncio.gather(*sending, return_exceptions=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), transient=True)


async def _gather(limit: int, what: str, total: int, jobs: Any) -> None:
    """Run the coroutines of ``jobs`` with at most ``limit`` in flight, with a progress bar."""
    gate = asyncio.Semaphore(limit)
    with _progress() as bar:
        task = bar.add_task(what, total=total)

        async def one(job: Any) -> None:
            async with gate:
                await job
            bar.advance(task)

        await asyncio.gather(*(one(j) for j in jobs))


def _measured_client(base: str, token: str) -> aiohttp.ClientSession:
    """The boot phase's client: aiohttp, whose C HTTP parser costs the shared cores a tenth
    of httpx's async client per request (about 0.15 ms against 1.5-2.4 ms here, 8 to 50 in
    flight), so the benchmark takes less of the CPU it measures (a cloud's clients and agents
    run on other machines).  At most 100 connections, kept alive as an agent keeps its own."""
    return aiohttp.ClientSession(base, headers={"X-Auth-Token": token},
                                 timeout=aiohttp.ClientTimeout(total=120),
                                 connector=aiohttp.TCPConnector(limit=100))


# --- the run ------------------------------------------------------------------------------------

@dataclass
class Boot:
    port_id: str
    server_id: str = ""
    sent: float = 0.0
    accepted: float = 0.0  # its 202
    placed: float = 0.0
    active: float = 0.0
    host: str = ""
    errors: list[str] = field(default_factory=list)


async def register(base: str, token: str, hosts: int, limit: int) -> tuple[float, list[float]]:
    """Every host's inventory and heartbeats; (seconds, inventory PUT latencies)."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, headers={"X-Auth-Token": token},
                                 timeout=120) as c:
        async def one(h: int) -> None:
            start = time.perf_counter()
            r = await c.put(f"/internal/v1/hosts/compute-{h:05d}/inventory", json=inventory(h))
            r.raise_for_status()
            latencies.append(time.perf_counter() - start)
            await heartbeat(c, f"compute-{h:05d}")

        start = time.perf_counter()
        await _gather(limit, "register", hosts, (one(h) for h in range(hosts)))
        return time.perf_counter() - start, latencies


async def make_ports(base: str, token: str, boots: int,
                     limit: int) -> tuple[list[Boot], float, str, int]:
    """The network, its subnet and ``boots`` direct ports; (boots, seconds, image id, how
    many creates were refused with 409 and sent again)."""
    async with httpx.AsyncClient(base_url=base, headers={"X-Auth-Token": token},
                                 timeout=120) as c:
        r = await c.post("/network/v2.0/networks", json={"network": {
            "name": "bench", "provider:network_type": "vlan",
            "provider:physical_network": PHYSNET, "provider:segmentation_id": 15}})
        r.raise_for_status()
        net = r.json()["network"]["id"]
        (await c.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": net, "cidr": "10.64.0.0/16", "ip_version": 4}})).raise_for_status()
        out: list[Boot] = []
        conflicts: list[str] = []

        async def one(i: int) -> None:
            for _ in range(5):  # a 409 for a valid create is a bug (issue 14): count it
                r = await c.post("/network/v2.0/ports", json={"port": {
                    "network_id": net, "name": f"vf{i}", "binding:vnic_type": "direct"}})
                if r.status_code != 409:
                    break
                conflicts.append(r.text[:200])
            if r.status_code != 201:
                raise SystemExit(f"port create: {r.status_code} {r.text}")
            out.append(Boot(r.json()["port"]["id"]))

        start = time.perf_counter()
        await _gather(limit, "ports", boots, (one(i) for i in range(boots)))
        seconds = time.perf_counter() - start
        images = (await c.get("/image/v2/images", params={"name": "cirros"})).json()["images"]
        return out, seconds, images[0]["id"], len(conflicts)


async def boot_all(base: str, admin: str, service: str, engine: Engine, boots: list[Boot],
                   image: str, limit: int, timeout: float,
                   backends: Backends | None = None, beats: Beats | None = None) -> float:
    """Create every server, watch the database for placements, play each host's agents
    (and with ``beats`` every host's heartbeats meanwhile)."""
    by_id: dict[str, Boot] = {}
    plays: list[asyncio.Task[None]] = []
    stop_beats = asyncio.Event()
    async with _measured_client(base, admin) as api, _measured_client(base, service) as agent:
        async def create(b: Boot) -> None:
            b.sent = time.perf_counter()
            async with api.post("/compute/v2.1/servers", json={"server": {
                    "name": f"bench-{b.port_id[:8]}", "imageRef": image, "flavorRef": "1",
                    "networks": [{"port": b.port_id}]}}) as r:
                if r.status != 202:
                    b.errors.append(f"create: {r.status} {(await r.text())[:200]}")
                    return
                b.accepted = time.perf_counter()
                b.server_id = (await r.json())["server"]["id"]
            by_id[b.server_id] = b

        async def play(b: Boot) -> None:
            """The host's agents, promptly: read the desired state, report VF and guest up."""
            async with agent.get(f"/internal/v1/hosts/{b.host}/desired-state") as r:
                r.raise_for_status()
                state = await r.json()
            for srv in state["servers"]:
                if srv["id"] != b.server_id:
                    continue
                for port in srv["ports"]:
                    async with agent.post(f"/internal/v1/hosts/{b.host}/devices", json={
                            "mac": port["mac"], "pci_slot": port["pci_address"], "up": True}) as r:
                        r.raise_for_status()
            async with agent.post(f"/internal/v1/hosts/{b.host}/servers/{b.server_id}/status",
                                  json={"status": "running"}) as r:
                if r.status == 200:
                    b.active = time.perf_counter()
                else:
                    b.errors.append(f"report: {r.status} {(await r.text())[:200]}")

        def placed(pending: list[str]) -> list[tuple[str, str | None, str]]:
            """Of the servers created and not yet seen placed, those placed or failed since
            (the agents' own watch is a long-poll per host: this plays it from one query)."""
            if not pending:
                return []
            with engine.connect() as conn:
                return [(r[0], r[1], r[2] if r[3] is None else f"ERROR: {r[3]}")
                        for r in conn.execute(text(
                            "SELECT s.id, s.host, s.status, f.message FROM servers s "
                            "LEFT JOIN server_faults f ON f.server_id = s.id "
                            "WHERE s.id = ANY(:pending) AND (s.host IS NOT NULL "
                            "OR s.status = 'ERROR' OR f.message IS NOT NULL)"),
                            {"pending": pending})]

        beating = (asyncio.create_task(beats.play(agent, stop_beats)) if beats is not None
                   else None)
        start = time.perf_counter()
        creating = asyncio.create_task(_gather(limit, "boot", len(boots),
                                               (create(b) for b in boots)))
        deadline = start + timeout
        sampled = start
        while time.perf_counter() < deadline:
            if backends is not None and time.perf_counter() - sampled > 1.0:
                backends.sample()  # keep the CPU of backends that exit before the end
                sampled = time.perf_counter()
            pending = [i for i, b in by_id.items() if not b.placed]
            for server_id, host, status in await asyncio.to_thread(placed, pending):
                b = by_id.get(server_id)
                if b is None or b.placed:
                    continue
                if status.startswith("ERROR"):
                    b.placed = -1.0
                    b.errors.append(status[:300])
                elif host:
                    b.placed, b.host = time.perf_counter(), host
                    plays.append(asyncio.create_task(play(b)))
            if creating.done() and all(b.placed for b in boots if b.server_id):
                break
            await asyncio.sleep(0.05)
        await creating
        await asyncio.gather(*plays, return_exceptions=True)
        wall = time.perf_counter() - start
        if beating is not None:
            stop_beats.set()
            await beating
        return wall


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> None:
    with fresh_database(args.database) as url, \
            tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, \
            served_api(url, args.workers, Path(tmp), args.host_subset_size) as (base, pid):
        engine = create_engine(url)
        admin = token(base, "admin", ADMIN_PASSWORD, "admin")
        unlimited(base, admin)  # nova's default quota allows 10 instances
        service = token(base, AGENT_USER, AGENT_PASSWORD, "service")
        reg_s, inv = await register(base, service, args.hosts, args.register_concurrency)
        registered = time.perf_counter()
        boots, ports_s, image, port_409 = await make_ports(
            base, admin, args.warmup + args.boots, args.concurrency)
        made, (warm, boots) = len(boots), (boots[:args.warmup], boots[args.warmup:])
        if warm:  # not measured: every worker's pooled connections have met the statements
            await boot_all(base, admin, service, engine, warm, image, args.concurrency,
                           args.timeout, None, None)
        if reg_s + ports_s + len(warm) > HEARTBEAT_STALE:  # keep every host up meanwhile
            async with httpx.AsyncClient(base_url=base, headers={"X-Auth-Token": service},
                                         timeout=120) as c:
                await _gather(args.register_concurrency, "heartbeat", args.hosts,
                              (heartbeat(c, f"compute-{h:05d}") for h in range(args.hosts)))
            # Every host beat within seconds: a burst a live cloud never sends (its agents'
            # beats are spread over their intervals).
            registered = time.perf_counter()
        # Each worker's index takes in the hosts registered (and the beats) at its next sweep
        # (every SWEEP_EVERY s), as a live cloud's index has them, not in the first builds
        # measured: those would pay for loading hundreds of hosts at once.
        await asyncio.sleep(max(0.0, registered + SWEEP_EVERY + 2 - time.perf_counter()))
        cpu0, stm0, xact0 = api_cpu_seconds(pid), statements(base, pid), commits(engine)
        pg0, own0, vac0 = postgres_cpu_seconds(), time.process_time(), autovacuums(engine)
        backends = Backends(make_url(url).database or "")
        beats = Beats(args.hosts) if args.heartbeats else None
        wall = await boot_all(base, admin, service, engine, boots, image, args.concurrency,
                              args.timeout, backends, beats)
        pg1, own1, vac1 = postgres_cpu_seconds(), time.process_time(), autovacuums(engine)
        ours = backends.seconds()
        cpu1, stm1, xact1 = api_cpu_seconds(pid), statements(base, pid), commits(engine)
        engine.dispose()
    accepted = [b.accepted - b.sent for b in boots if b.accepted > 0]
    placed = [b.placed - b.sent for b in boots if b.placed > 0]
    active = [b.active - b.sent for b in boots if b.active > 0]
    last_accepted = max((b.accepted for b in boots if b.accepted > 0), default=0.0)
    last_placed = max((b.placed for b in boots if b.placed > 0), default=0.0)
    last_active = max((b.active for b in boots if b.active > 0), default=0.0)
    first = min(b.sent for b in boots)
    errors = [e for b in boots for e in b.errors] + (beats.errors if beats else [])
    n = len(boots)
    print(f"hosts {args.hosts} ({PFS}x{VFS} VFs), boots {n}, api workers {args.workers}, "
          f"{os.cpu_count()} cores")
    print(f"register      {args.hosts / reg_s:8.1f} hosts/s   inventory PUT p50 "
          f"{statistics.median(inv) * 1000:.0f} ms, p99 {_pct(inv, 0.99) * 1000:.0f} ms")
    print(f"ports         {made / ports_s:8.1f} ports/s   ({port_409} refused with 409 and "
          f"sent again){f'; {len(warm)} boots before these, not measured' if warm else ''}")
    print(f"accepted      {len(accepted) / (last_accepted - first):8.1f} boots/s   "
          f"({len(accepted)}/{n} answered 202, p50 {statistics.median(accepted):.2f} s)"
          if accepted else "accepted      none")
    print(f"placed        {len(placed) / (last_placed - first):8.1f} boots/s   "
          f"({len(placed)}/{n}, p50 {statistics.median(placed):.2f} s)" if placed else
          "placed        none")
    print(f"ACTIVE        {len(active) / (last_active - first):8.1f} boots/s   "
          f"({len(active)}/{n})" if active else "ACTIVE        none")
    print(f"to ACTIVE     p50 {_pct(active, 0.5):.2f} s   p99 {_pct(active, 0.99):.2f} s   "
          f"(on {len({b.host for b in boots if b.host})} hosts)")
    print(f"API CPU       {(cpu1 - cpu0) / n * 1000:8.1f} ms/boot   (boot phase {wall:.1f} s)")
    if beats is not None:
        print(f"heartbeats    {beats.sent / wall:8.1f} beats/s   ({beats.sent} during the boot "
              "phase: every host's compute agent every 10 s, its NIC agent every 30 s; their "
              "cost is in the CPU figures)")
    print(f"other CPU     {(pg1 - pg0) / n * 1000:8.1f} ms/boot PostgreSQL "
          f"({ours / n * 1000:.1f} of it in this database's backends), "
          f"{(own1 - own0) / n * 1000:.1f} ms/boot this benchmark (its clients and watcher); "
          f"{vac1 - vac0} autovacuum/autoanalyze runs during the boots")
    print(f"SQL           {(stm1 - stm0) / n:8.1f} statements/boot   "
          f"{(xact1 - xact0) / n:.1f} commits/boot (incl. the watcher's)")
    if errors:
        print(f"errors        {len(errors)}: {errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--boots", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "postgres", help="a PostgreSQL server URL (a database is made there)")
    parser.add_argument("--concurrency", type=int, default=50,
                        help="requests in flight when creating ports and servers")
    parser.add_argument("--register-concurrency", type=int, default=16)
    parser.add_argument("--host-subset-size", type=int, default=1,
                        help="nova.conf [filter_scheduler] host_subset_size for the API")
    parser.add_argument("--heartbeats", action="store_true",
                        help="play every host's agents' heartbeats during the boots, as a "
                             "live cloud sends them (compute every 10 s, NIC every 30 s)")
    parser.add_argument("--warmup", type=int, default=0, help="boots run first, not "
                        "measured (a long-running API's connections have planned its statements)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds the boots may take")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
