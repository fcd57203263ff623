"""What the agents' steady requests cost the served API (run by hand, issue 14).

Every host's agents keep talking to the API when nothing boots: the compute agent beats every
10 s and the NIC Switch agent every 30 s (133 beats a second at 1,000 hosts, 667 at 5,000),
and each agent long-polls its host's revision and reads the desired state after a change.
``bench_api_boots.py --heartbeats`` shows what that load takes from the boots; this one
measures each request alone: ``api serve --workers W`` on a fresh PostgreSQL database with one
registered host, then for each request N sends at C in flight and prints requests/s, the API
workers' CPU per request (utime + stime of ``api serve`` and its workers, from /proc) and this
client's own. A version document (no token, no database) is the floor every request pays.

    .venv/bin/python bench/bench_agent_requests.py [--requests 1500] [--concurrency 10] \
        [--workers 2] [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parent))
from served_cloud import (ADMIN_PASSWORD, AGENT_PASSWORD, AGENT_USER,  # noqa: E402
                          COMPUTE_BEAT, SRIOV_BEAT, api_cpu_seconds, fresh_database,
                          inventory, served_api, token)

HOST = "compute-00001"


@dataclass(frozen=True)
class Request:
    label: str
    agent: bool  # sent with the agents' service token (else the admin's)
    method: str
    path: str
    body: dict[str, Any] | None = None


REQUESTS = (
    Request("version document (floor)", False, "GET", "/compute/v2.1"),
    Request("flavor show (user)", False, "GET", "/compute/v2.1/flavors/1"),
    Request("compute heartbeat", True, "POST", f"/internal/v1/hosts/{HOST}/heartbeat",
            COMPUTE_BEAT),
    Request("NIC Switch heartbeat", True, "POST", f"/internal/v1/hosts/{HOST}/heartbeat",
            SRIOV_BEAT),
    Request("revision (no wait)", True, "GET", f"/internal/v1/hosts/{HOST}/revision"),
    Request("desired state (no server)", True, "GET",
            f"/internal/v1/hosts/{HOST}/desired-state"),
)


async def send(c: httpx.AsyncClient, r: Request, n: int, limit: int) -> None:
    """``n`` of ``r`` with ``limit`` in flight; any answer but 200 stops the benchmark."""
    gate = asyncio.Semaphore(limit)

    async def one() -> None:
        async with gate:
            answer = await c.request(r.method, r.path, json=r.body)
        if answer.status_code != 200:
            raise SystemExit(f"{r.label}: {answer.status_code} {answer.text[:300]}")

    await asyncio.gather(*(one() for _ in range(n)))


async def run(args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    with fresh_database(args.database) as url, \
            tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp, \
            served_api(url, args.workers, Path(tmp)) as (base, pid):
        tokens = {False: token(base, "admin", ADMIN_PASSWORD, "admin"),
                  True: token(base, AGENT_USER, AGENT_PASSWORD, "service")}
        clients = {agent: httpx.AsyncClient(base_url=base, timeout=60, limits=limits,
                                            headers={"X-Auth-Token": token})
                   for agent, token in tokens.items()}
        rows = []
        try:
            (await clients[True].put(f"/internal/v1/hosts/{HOST}/inventory",
                                     json=inventory(1))).raise_for_status()
            for beat in (COMPUTE_BEAT, SRIOV_BEAT):  # each agent's first beat, as it starts
                (await clients[True].post(f"/internal/v1/hosts/{HOST}/heartbeat",
                                          json=beat)).raise_for_status()
            with Progress(transient=True) as bar:
                task = bar.add_task("requests", total=len(REQUESTS))
                for r in REQUESTS:
                    c = clients[r.agent]
                    await send(c, r, args.requests // 5, args.concurrency)  # warm up
                    api0, own0 = api_cpu_seconds(pid), time.process_time()
                    start = time.perf_counter()
                    await send(c, r, args.requests, args.concurrency)
                    wall = time.perf_counter() - start
                    api1, own1 = api_cpu_seconds(pid), time.process_time()
                    rows.append((r.label, args.requests / wall,
                                 (api1 - api0) / args.requests * 1000,
                                 (own1 - own0) / args.requests * 1000))
                    bar.advance(task)
        finally:
            for c in clients.values():
                await c.aclose()
    print(f"api workers {args.workers}, {args.requests} of each request, "
          f"{args.concurrency} in flight")
    print(f"{'request':<28}{'req/s':>8}{'API CPU ms':>12}{'client CPU ms':>15}")
    for label, rate, api, own in rows:
        print(f"{label:<28}{rate:8.0f}{api:12.2f}{own:15.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "postgres", help="a PostgreSQL server URL (a database is made there)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
