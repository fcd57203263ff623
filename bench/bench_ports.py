"""Port create benchmark (run by hand): ``POST /network/v2.0/ports`` on a /16 subnet that
already holds N addresses, through the whole API in process, one create at a time.

    .venv/bin/python bench/bench_ports.py [--held 0,10000,50000] [--creates 30] [--url URL]

For each N, a fresh database gets the chapter's VLAN network with a /16 subnet, N ports of
another project holding its first N addresses (inserted straight into the tables, then
analyzed on PostgreSQL), and ``--creates`` direct ports created one by one; it prints the
median and the slowest create in milliseconds and the last address given out.  Each create
allocates under the subnet's row lock, so its time bounds how many creates a second one
subnet takes, whatever the number of API workers.
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from in_process import analyze, cloud, token_headers  # noqa: E402 - beside this file

from sriovstack.conf import load_config  # noqa: E402
from sriovstack.db import Database  # noqa: E402
from sriovstack.db.models import IpAllocationRow, PortRow  # noqa: E402
CHAPTER = Path(__file__).resolve().parents[1] / "examples/chapter"
CONFIG = (CHAPTER / "controller/nova.conf", CHAPTER / "network/ml2_conf.ini",
          CHAPTER / "network/ml2_conf_sriov.ini")


def hold(db: Database, network: dict[str, str], subnet_id: str, held: int) -> None:
    """``held`` ports of another project on the network, on the subnet's first addresses."""
    now, first = datetime.now(UTC), ipaddress.ip_address("10.64.0.2")
    ports = [str(uuid.uuid4()) for _ in range(held)]
    with db.engine.begin() as conn:
        if ports:
            conn.execute(insert(PortRow), [dict(
                id=p, network_id=network["id"], project_id="bench-other", name="",
                description="", mac_address=f"fa:16:3e:{i >> 16 & 255:02x}:"
                f"{i >> 8 & 255:02x}:{i & 255:02x}", admin_state_up=True, device_id="",
                device_owner="", vnic_type="normal", port_security_enabled=False,
                binding_host="", binding_profile={}, vif_type="unbound", vif_details={},
                binding_failure=None, device_up=False, created_at=now, updated_at=now,
                revision_number=1) for i, p in enumerate(ports)])
            conn.execute(insert(IpAllocationRow), [dict(
                subnet_id=subnet_id, ip_address=str(first + i), port_id=p, position=0)
                for i, p in enumerate(ports)])
    analyze(db)


def run(url: str | None, held: int, creates: int) -> str:
    """One row of the table: a fresh cloud at ``url`` (None: a temp SQLite file)."""
    bench = cloud(url, load_config(CONFIG))
    db = bench.db
    with bench.client() as client:
        headers = token_headers(client, "admin")
        answer = client.post("/network/v2.0/networks", headers=headers, json={"network": {
            "name": "bench", "provider:network_type": "vlan",
            "provider:physical_network": "physnet1", "provider:segmentation_id": 15}})
        assert answer.status_code == 201, answer.text
        network = answer.json()["network"]
        answer = client.post("/network/v2.0/subnets", headers=headers, json={"subnet": {
            "network_id": network["id"], "cidr": "10.64.0.0/16", "ip_version": 4}})
        assert answer.status_code == 201, answer.text
        hold(db, network, answer.json()["subnet"]["id"], held)
        times = []
        for _ in range(creates):
            t0 = time.perf_counter()
            answer = client.post("/network/v2.0/ports", headers=headers, json={"port": {
                "network_id": network["id"], "binding:vnic_type": "direct"}})
            times.append(time.perf_counter() - t0)
            assert answer.status_code == 201, answer.text
    db.engine.dispose()
    last = answer.json()["port"]["fixed_ips"][0]["ip_address"]
    return (f"{held:>8} {statistics.median(times) * 1e3:10.1f} {max(times) * 1e3:10.1f}  "
            f"{last}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", default="0,10000,50000",
                        help="addresses the subnet holds before the creates (comma list)")
    parser.add_argument("--creates", type=int, default=30)
    parser.add_argument("--url", default=None, help="a PostgreSQL server URL (a database is "
                        "made there for each run); default: a temp SQLite file each")
    args = parser.parse_args()
    print(f"{'held':>8} {'median ms':>10} {'max ms':>10}  last address")
    for held in (int(n) for n in args.held.split(",")):
        if args.url is None:
            print(run(None, held, args.creates))
            continue
        admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
        name = f"sriovstack_bench_ports_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print(run(make_url(args.url).set(database=name).render_as_string(
                hide_password=False), held, args.creates))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
