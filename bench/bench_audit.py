"""Ledger audit benchmark (run by hand): ``Audit.check`` over a cloud of N servers, each on a
VF of one of 100 hosts with its vCPU/RAM/disk allocated and its port bound to that VF (the
chapter's boot, N times), the way the API's sweep runs it once a minute.

    .venv/bin/python bench/bench_audit.py [--servers 10000] [--damage 0] [--url URL]

The rows are inserted straight into the tables (bench_lists' servers and ports, then the
hosts, their VFs, the allocations and the bindings), and on PostgreSQL analyzed, as
autovacuum keeps a live cloud's tables.  ``--damage K`` deletes K servers' rows and leaves
what they held (the old delete race): each then gives three findings, and the audit reads
the ledger twice.  Prints the median wall and CPU time of ``--repeat`` checks, the findings,
and the statements and rows the check sent and received.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, event, insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lists import populate  # noqa: E402 - the lists' servers and ports, beside this file
from in_process import analyze, cloud  # noqa: E402

from sriovstack.db import Database  # noqa: E402
from sriovstack.db.models import (HostAllocationRow, HostRow, PciDeviceRow,  # noqa: E402
                                  PortRow, ServerPortRow, ServerRow)

HOSTS = 100  # bench_lists places server i on compute-{i % 100}


def _vf(k: int) -> str:
    """The k-th VF address of a host (82576 VFs: bus 0x0b, devices 0x10-0x1f, 8 functions)."""
    return f"0000:{0x0b + k // 128:02x}:{0x10 + k // 8 % 16:02x}.{k % 8}"


def hold(db: Database) -> None:
    """Give every server a VF, an allocation and its port's binding to that VF."""
    p, sp = PortRow.__table__, ServerPortRow.__table__
    with db.engine.begin() as conn:
        servers = conn.execute(select(ServerRow.id, ServerRow.host)
                               .order_by(ServerRow.created_at)).all()
        host_ids = {f"compute-{h:03d}": str(uuid.uuid4()) for h in range(HOSTS)}
        held: dict[str, int] = dict.fromkeys(host_ids, 0)
        devices, allocations, bindings = [], [], []
        for server_id, host in servers:
            vf, held[host] = _vf(held[host]), held[host] + 1
            devices.append(dict(id=str(uuid.uuid4()), host_id=host_ids[host], address=vf,
                                vendor_id="8086", product_id="10ca", dev_type="type-VF",
                                parent_addr="0000:0a:00.0", pool_pf="0000:0a:00.0",
                                numa_node=0, physnet="physnet1", tags={}, status="allocated",
                                owner=server_id))
            allocations.append(dict(server_id=server_id, host_id=host_ids[host], vcpus=1,
                                    memory_mb=512, disk_gb=1))
            bindings.append(dict(server=server_id, vf=vf, profile={"pci_slot": vf}))
        conn.execute(insert(HostRow), [dict(
            id=host_ids[name], name=name, vcpus=256, memory_mb=1 << 20, disk_gb=10_000,
            vcpus_used=n, memory_mb_used=512 * n, disk_gb_used=n, capabilities={},
            numa_topology=[]) for name, n in held.items()])
        conn.execute(insert(PciDeviceRow), devices)
        conn.execute(insert(HostAllocationRow), allocations)
        conn.execute(update(p).where(p.c.device_id == bindparam("server"))
                     .values(binding_profile=bindparam("profile")), bindings)
        conn.execute(update(sp).where(sp.c.server_id == bindparam("server"))
                     .values(pci_address=bindparam("vf")), bindings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    parser.add_argument("--damage", type=int, default=0, help="servers whose rows are lost")
    parser.add_argument("--url", default=None, help="database URL (default: temp SQLite)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench = cloud(args.url)
    db = bench.db
    t0 = time.perf_counter()
    populate(db, "bench", args.servers, max(1, args.servers // 10))
    hold(db)
    if args.damage:
        with db.engine.begin() as conn:
            gone = conn.scalars(select(ServerRow.id).limit(args.damage)).all()
            conn.execute(delete(ServerPortRow).where(ServerPortRow.server_id.in_(gone)))
            conn.execute(delete(ServerRow).where(ServerRow.id.in_(gone)))
    analyze(db)
    print(f"{args.servers} servers on {HOSTS} hosts, each with a VF, an allocation and a "
          f"bound port; {args.damage} rows lost; made in {time.perf_counter() - t0:.1f} s "
          f"({db.dialect})")
    audit = bench.services.compute.audit
    seen = [0, 0]

    def count(_conn: object, cursor: Any, *_rest: object) -> None:
        seen[0] += 1
        seen[1] += max(cursor.rowcount, 0)  # known on PostgreSQL; SQLite counts none

    walls, cpus = [], []
    for i in range(args.repeat):
        if i == args.repeat - 1:
            event.listen(db.engine, "after_cursor_execute", count)
        t0, c0 = time.perf_counter(), time.process_time()
        report = audit.check()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    event.remove(db.engine, "after_cursor_execute", count)
    checks = sorted({f.check.value for f in report.findings})
    print(f"audit check   {statistics.median(walls) * 1e3:8.1f} ms wall, "
          f"{statistics.median(cpus) * 1e3:.1f} ms CPU of this process (median of "
          f"{args.repeat})")
    print(f"findings      {len(report.findings):8d}   {', '.join(checks) or 'none'}")
    print(f"SQL           {seen[0]:8d} statements, {seen[1]} rows")


if __name__ == "__main__":
    main()
