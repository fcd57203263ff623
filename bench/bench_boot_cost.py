"""What one boot costs the API, request by request (run by hand, issue 14).

``bench_api_boots.py`` measures the rate a served API reaches on this machine; its figures
move with whatever else runs.  This one measures the work behind the rate and holds still
under load: the whole API in this process (the app over httpx's ASGI transport, no server, no
sockets) on a fresh PostgreSQL database, N simulated hosts registered through the agent API,
then M servers booted one after another on pre-created direct ports, each through the same four
requests the agents and a user send (create with its build, the host's desired state, the VF
report, the guest's status report).  For each request it prints the CPU time of this process
(``time.process_time``), the SQL statements and the transactions committed, and the CPU time
of the PostgreSQL processes on this machine (the work the statements cost the database; on a
quiet machine only; a mean, as /proc counts it in ticks), per boot.  Boots run one at a
time, so a build never shares a batch.

With ``--batch N`` the builds run as a busy worker runs them: N servers are created with their
builds held back (the builder's ``build_async``, which the API's 202 schedules, is replaced by
a list for the while), then built together by one ``build_batch`` call; it prints the create
and the build per server (the agents' requests are not sent).  ``--batch 1`` gives a lone
build's share of create+build.

    .venv/bin/python bench/bench_boot_cost.py [--hosts 100] [--boots 100] [--warmup 20] \
        [--batch 16] [--host-subset-size 10] \
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.progress import Progress
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from served_cloud import (  # noqa: E402 - the benchmarks' shared hosts and database
    AGENT_PASSWORD, AGENT_USER, CLK, COMPUTE_BEAT, CONTROLLER, PHYSNET, SRIOV_BEAT,
    fresh_database, heartbeat, inventory)

from sriovstack.cli.api import ServeOptions, _build  # noqa: E402

Reading = tuple[float, int, int, float]  # CPU s, statements, commits, PostgreSQL CPU s
PHASES = ("create+build", "desired state", "VF report", "status report")
BEAT_EVERY = 20.0  # seconds between the hosts' heartbeats (the scheduler's down time is 60)
BATCH_PHASES = ("create", "build")


@dataclass
class Cost:
    """What the API spent on one kind of request, over every measured boot."""

    cpu: list[float] = field(default_factory=list)
    postgres: list[float] = field(default_factory=list)
    statements: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)


class Hosts:
    """The simulated hosts' heartbeats, sent again between boots (never inside a measured
    request) so a run slowed by other load never finds its hosts down."""

    def __init__(self, count: int, agent: dict[str, str]) -> None:
        self._names = [f"compute-{h:05d}" for h in range(count)]
        self._agent = agent
        self._last = time.monotonic()

    async def keep_alive(self, c: httpx.AsyncClient) -> None:
        if time.monotonic() - self._last < BEAT_EVERY:
            return
        for name in self._names:
            for beat in (COMPUTE_BEAT, SRIOV_BEAT):
                (await c.post(f"/internal/v1/hosts/{name}/heartbeat", json=beat,
                              headers=self._agent)).raise_for_status()
        self._last = time.monotonic()


class Meter:
    """Counts the statements and commits of one engine, this process's CPU time and that of
    the PostgreSQL processes on this machine (found again by ``find_postgres`` between boots,
    never inside a measured request; a quiet machine makes their figure the API's work)."""

    def __init__(self, engine: object) -> None:
        self.statements = 0
        self.commits = 0
        self._postgres: list[Path] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *_args: object) -> None:
        self.statements += 1

    def _commit(self, *_args: object) -> None:
        self.commits += 1

    def find_postgres(self) -> None:
        self._postgres = [stat for stat in Path("/proc").glob("[0-9]*/stat")
                          if _command(stat) in ("postgres", "postmaster")]

    def _postgres_cpu(self) -> float:
        """utime + stime of each PostgreSQL process, and the postmaster's ended children's."""
        total = 0
        for stat in self._postgres:
            try:
                text = stat.read_text()
            except OSError:  # a backend that ended: the postmaster's cutime holds it now
                continue
            total += sum(int(f) for f in text[text.rindex(")") + 2:].split()[11:15])
        return total / CLK

    def reading(self) -> Reading:
        postgres = self._postgres_cpu()  # first: its own CPU falls in the phase that ends
        return time.process_time(), self.statements, self.commits, postgres


def _command(stat: Path) -> str:
    try:
        text = stat.read_text()
    except OSError:
        return ""
    return text[text.index("(") + 1:text.rindex(")")]


def _password(user: str, password: str, project: str) -> dict[str, object]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}


async def run(args: argparse.Namespace) -> dict[str, Cost]:
    with fresh_database(args.database) as url, tempfile.TemporaryDirectory() as tmp:
        files = [str(p) for p in CONTROLLER]
        if args.host_subset_size != 1:
            extra = Path(tmp) / "scheduler.conf"
            extra.write_text(f"[filter_scheduler]\nhost_subset_size = {args.host_subset_size}\n")
            files.append(str(extra))
        from sriovstack.db import Database
        db = Database(url)
        db.create_schema()
        db.dispose()
        app = _build(ServeOptions(url, "http://bench", tuple(files),
                                  image_dir=str(Path(tmp) / "images")))
        services = app.state.services
        services.identity.bootstrap("bench-admin", service_users={AGENT_USER: AGENT_PASSWORD})
        meter = Meter(services.db.engine)
        costs: dict[str, Cost] = defaultdict(Cost)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://bench", timeout=120) as c:
            async def token(user: str, password: str, project: str) -> dict[str, str]:
                r = await c.post("/identity/v3/auth/tokens",
                                 json=_password(user, password, project))
                r.raise_for_status()
                return {"X-Auth-Token": r.headers["X-Subject-Token"]}

            admin = await token("admin", "bench-admin", "admin")
            agent = await token(AGENT_USER, AGENT_PASSWORD, "service")
            r = await c.get("/identity/v3/auth/tokens",
                            headers={**admin, "X-Subject-Token": admin["X-Auth-Token"]})
            project = r.json()["token"]["project"]["id"]
            (await c.put(f"/compute/v2.1/os-quota-sets/{project}", headers=admin, json={
                "quota_set": {"instances": -1, "cores": -1, "ram": -1}})
             ).raise_for_status()
            (await c.put(f"/network/v2.0/quotas/{project}", headers=admin,
                         json={"quota": {"port": -1}})).raise_for_status()
            c.headers.update(agent)
            with Progress(transient=True) as bar:
                task = bar.add_task("register", total=args.hosts)
                for h in range(args.hosts):
                    (await c.put(f"/internal/v1/hosts/compute-{h:05d}/inventory",
                                 json=inventory(h))).raise_for_status()
                    await heartbeat(c, f"compute-{h:05d}")
                    bar.advance(task)
            c.headers.update(admin)
            net = (await c.post("/network/v2.0/networks", json={"network": {
                "name": "bench", "provider:network_type": "vlan",
                "provider:physical_network": PHYSNET, "provider:segmentation_id": 15}})
                   ).json()["network"]["id"]
            (await c.post("/network/v2.0/subnets", json={"subnet": {
                "network_id": net, "cidr": "10.64.0.0/16", "ip_version": 4}})).raise_for_status()
            image = (await c.get("/image/v2/images", params={"name": "cirros"})
                     ).json()["images"][0]["id"]
            total = args.warmup + args.boots
            hosts = Hosts(args.hosts, agent)
            if args.batch:
                await _batches(c, services, meter, costs, args, net, image, admin, hosts)
                services.db.dispose()
                return costs
            with Progress(transient=True) as bar:
                task = bar.add_task("boot", total=total)
                for i in range(total):
                    await hosts.keep_alive(c)
                    r = await c.post("/network/v2.0/ports", json={"port": {
                        "network_id": net, "name": f"vf{i}", "binding:vnic_type": "direct"}})
                    r.raise_for_status()
                    port = r.json()["port"]["id"]
                    spent: list[tuple[str, Reading, Reading]] = []
                    meter.find_postgres()
                    start = meter.reading()
                    r = await c.post("/compute/v2.1/servers", headers=admin, json={"server": {
                        "name": f"bench-{i}", "imageRef": image, "flavorRef": "1",
                        "networks": [{"port": port}]}})
                    if r.status_code != 202:
                        raise SystemExit(f"create: {r.status_code} {r.text}")
                    server = r.json()["server"]["id"]
                    spent.append((PHASES[0], start, meter.reading()))
                    host = (await c.get(f"/compute/v2.1/servers/{server}", headers=admin)
                            ).json()["server"]["OS-EXT-SRV-ATTR:host"]
                    if not host:
                        raise SystemExit(f"server {server} was not placed")
                    start = meter.reading()
                    r = await c.get(f"/internal/v1/hosts/{host}/desired-state", headers=agent)
                    r.raise_for_status()
                    spent.append((PHASES[1], start, start := meter.reading()))
                    for srv in r.json()["servers"]:
                        for p in srv["ports"] if srv["id"] == server else ():
                            (await c.post(f"/internal/v1/hosts/{host}/devices", headers=agent,
                                          json={"mac": p["mac"], "pci_slot": p["pci_address"],
                                                "up": True})).raise_for_status()
                    spent.append((PHASES[2], start, start := meter.reading()))
                    (await c.post(f"/internal/v1/hosts/{host}/servers/{server}/status",
                                  headers=agent, json={"status": "running"})).raise_for_status()
                    spent.append((PHASES[3], start, meter.reading()))
                    for name, before, after in spent if i >= args.warmup else ():
                        cost = costs[name]
                        cost.cpu.append(after[0] - before[0])
                        cost.postgres.append(after[3] - before[3])
                        cost.statements.append(after[1] - before[1])
                        cost.commits.append(after[2] - before[2])
                    bar.advance(task)
        services.db.dispose()
        return costs


async def _batches(c: httpx.AsyncClient, services: object, meter: Meter,
                   costs: dict[str, Cost], args: argparse.Namespace, net: str, image: str,
                   admin: dict[str, str], hosts: Hosts) -> None:
    """Boot ``--batch`` servers at a time: create them all with their builds held back, then
    build them in one ``build_batch``; each phase's cost is recorded per server."""
    builder = services.compute.servers.builder  # type: ignore[attr-defined]
    groups = -(-(args.warmup + args.boots) // args.batch)
    warm = -(-args.warmup // args.batch)
    with Progress(transient=True) as bar:
        task = bar.add_task("boot", total=groups)
        for g in range(groups):
            await hosts.keep_alive(c)
            ports = []
            for i in range(args.batch):
                r = await c.post("/network/v2.0/ports", json={"port": {
                    "network_id": net, "name": f"vf{g}-{i}", "binding:vnic_type": "direct"}})
                r.raise_for_status()
                ports.append(r.json()["port"]["id"])
            held: list[str] = []

            async def hold(server_id: str, held: list[str] = held) -> None:
                held.append(server_id)

            builder.build_async = hold  # the creates' background builds queue here meanwhile
            meter.find_postgres()
            start = meter.reading()
            for i, port in enumerate(ports):
                r = await c.post("/compute/v2.1/servers", headers=admin, json={"server": {
                    "name": f"bench-{g}-{i}", "imageRef": image, "flavorRef": "1",
                    "networks": [{"port": port}]}})
                if r.status_code != 202:
                    raise SystemExit(f"create: {r.status_code} {r.text}")
            created = meter.reading()
            del builder.build_async
            if len(held) != args.batch:
                raise SystemExit(f"{len(held)} of {args.batch} builds were held back")
            builder.build_batch(tuple(held))
            built = meter.reading()
            for server in held:
                host = (await c.get(f"/compute/v2.1/servers/{server}", headers=admin)
                        ).json()["server"]["OS-EXT-SRV-ATTR:host"]
                if not host:
                    raise SystemExit(f"server {server} was not placed")
            for name, before, after in (("create", start, created), ("build", created, built)):
                if g < warm:
                    continue
                cost = costs[name]
                cost.cpu.append((after[0] - before[0]) / args.batch)
                cost.postgres.append((after[3] - before[3]) / args.batch)
                cost.statements.append((after[1] - before[1]) / args.batch)
                cost.commits.append((after[2] - before[2]) / args.batch)
            bar.advance(task)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--boots", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20, help="boots not measured")
    parser.add_argument("--batch", type=int, default=0,
                        help="create this many servers, then build them as one batch")
    parser.add_argument("--host-subset-size", type=int, default=10)
    parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/"
                        "postgres", help="a PostgreSQL server URL (a database is made there)")
    args = parser.parse_args()
    costs = asyncio.run(run(args))
    if args.batch:
        _print_batches(args, costs)
        return
    print(f"hosts {args.hosts}, {args.boots} boots measured one at a time (after "
          f"{args.warmup}), the API in process; per boot, medians:")
    print(f"{'request':<16}{'CPU ms':>9}{'statements':>12}{'commits':>9}{'PostgreSQL ms*':>15}")
    totals = [0.0, 0.0, 0.0, 0.0]
    for name in PHASES:
        cost = costs[name]
        row = (statistics.median(cost.cpu) * 1000, statistics.median(cost.statements),
               statistics.median(cost.commits), statistics.fmean(cost.postgres) * 1000)
        totals = [t + v for t, v in zip(totals, row, strict=True)]
        print(f"{name:<16}{row[0]:9.2f}{row[1]:12.0f}{row[2]:9.0f}{row[3]:15.2f}")
    print(f"{'boot':<16}{totals[0]:9.2f}{totals[1]:12.0f}{totals[2]:9.0f}{totals[3]:15.2f}")
    mean_cpu = sum(statistics.fmean(costs[n].cpu) for n in PHASES) * 1000
    print(f"(mean CPU per boot {mean_cpu:.2f} ms; the GET of the server that finds its host "
          "is not counted; *PostgreSQL: means, as /proc counts in 10 ms ticks)")


def _print_batches(args: argparse.Namespace, costs: dict[str, Cost]) -> None:
    print(f"hosts {args.hosts}, {args.boots} boots measured in batches of {args.batch} (after "
          f"{args.warmup}), the API in process; per server, medians over the batches "
          "(*PostgreSQL: means):")
    print(f"{'request':<16}{'CPU ms':>9}{'statements':>12}{'commits':>9}{'PostgreSQL ms*':>15}")
    for name in BATCH_PHASES:
        cost = costs[name]
        print(f"{name:<16}{statistics.median(cost.cpu) * 1000:9.2f}"
              f"{statistics.median(cost.statements):12.1f}{statistics.median(cost.commits):9.1f}"
              f"{statistics.fmean(cost.postgres) * 1000:15.2f}")


if __name__ == "__main__":
    main()
