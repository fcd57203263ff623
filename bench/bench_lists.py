"""List benchmark (run by hand): server, port, network and subnet lists through the whole API
in process, at 10,000 servers each holding one port on 1,000 networks (issue 14).

    .venv/bin/python bench/bench_lists.py [--servers 10000] [--networks 1000] [--url URL] \
        [--no-analyze]

Rows are inserted straight into the tables (creating them is not what we time), and on
PostgreSQL analyzed, as autovacuum keeps a live cloud's tables (``--no-analyze`` lists them
before: each statement's generic plan then scans a table where it would use an index); each
list is asked as a project member (the demo project owns everything) and the median of
``--repeat`` answers is printed in milliseconds, token validation included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent))
from in_process import analyze, cloud, token_headers  # noqa: E402 - beside this file

from sriovstack.db import Database  # noqa: E402
from sriovstack.db.models import (NetworkRow, PortRow, ServerPortRow, ServerRow,  # noqa: E402
                                  SubnetRow)


def populate(db: Database, project: str, servers: int, networks: int) -> dict[str, str]:
    """Networks with a subnet each, then servers each holding one port; returns probes."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    net_ids = [str(uuid.uuid4()) for _ in range(networks)]
    with db.engine.begin() as conn:
        conn.execute(insert(NetworkRow), [dict(
            id=nid, project_id=project, name=f"net-{i:05d}", description="",
            admin_state_up=True, shared=False, mtu=1500, port_security_enabled=True,
            network_type="vlan", physnet="physnet1", segmentation_id=100 + i,
            created_at=start + timedelta(seconds=i), updated_at=start, revision_number=1)
            for i, nid in enumerate(net_ids)])
        conn.execute(insert(SubnetRow), [dict(
            id=str(uuid.uuid4()), network_id=nid, project_id=project, name=f"sub-{i:05d}",
            description="", cidr=f"10.{i // 256}.{i % 256}.0/24", ip_version=4,
            gateway_ip=f"10.{i // 256}.{i % 256}.1", allocation_pools=[], enable_dhcp=True,
            dns_nameservers=[], host_routes=[], created_at=start + timedelta(seconds=i),
            updated_at=start, revision_number=1) for i, nid in enumerate(net_ids)])
        for first in range(0, servers, 1000):
            batch = range(first, min(servers, first + 1000))
            sids = {i: str(uuid.uuid4()) for i in batch}
            pids = {i: str(uuid.uuid4()) for i in batch}
            conn.execute(insert(ServerRow), [dict(
                id=sids[i], name=f"vm-{i:05d}", project_id=project, user_id="bench",
                status="ACTIVE", flavor_id="1", image_id=None, host=f"compute-{i % 100:03d}",
                availability_zone="nova", access_ipv4="", access_ipv6="", meta={},
                created_at=start + timedelta(seconds=i), updated_at=start, locked=False)
                for i in batch])
            conn.execute(insert(PortRow), [dict(
                id=pids[i], network_id=net_ids[i % networks], project_id=project, name="",
                description="", mac_address=f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:"
                f"{i & 255:02x}", admin_state_up=True, device_id=sids[i],
                device_owner="compute:nova", vnic_type="direct", port_security_enabled=False,
                binding_host=f"compute-{i % 100:03d}", binding_profile={}, vif_type="hw_veb",
                vif_details={}, binding_failure=None, device_up=True,
                created_at=start + timedelta(seconds=i), updated_at=start, revision_number=1)
                for i in batch])
            conn.execute(insert(ServerPortRow), [dict(
                server_id=sids[i], port_id=pids[i], network_id=net_ids[i % networks],
                position=0, created_by_compute=False, vnic_type="direct") for i in batch])
            if first == 0:
                probe = {"server": sids[batch[len(batch) // 2]], "port": pids[batch[0]]}
    probe["network"] = net_ids[networks // 2]
    return probe


def timed(call: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--url", default=None, help="database URL (default: temp SQLite)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-analyze", action="store_true", help="on PostgreSQL, list the rows "
                        "before statistics are gathered on them (as right after a bulk load)")
    args = parser.parse_args()
    bench = cloud(args.url)
    db, services = bench.db, bench.services
    with bench.client() as client:
        headers = token_headers(client, "demo")
        project = services.identity.tokens.validate(  # type: ignore[union-attr]
            headers["X-Auth-Token"]).project.id
        t0 = time.perf_counter()
        probe = populate(db, project, args.servers, args.networks)
        print(f"populated {args.servers} servers/ports, {args.networks} networks/subnets "
              f"in {time.perf_counter() - t0:.1f} s ({db.dialect})")
        if not args.no_analyze:
            analyze(db)
        cases = (
            ("server list --limit 100", "/compute/v2.1/servers?limit=100", None),
            ("server list (1000, max_limit)", "/compute/v2.1/servers", None),
            ("server list --long --limit 100", "/compute/v2.1/servers/detail?limit=100", None),
            ("server list page after marker", "/compute/v2.1/servers?limit=100&marker="
             + probe["server"], None),
            ("server list --name vm-0099 (10)", "/compute/v2.1/servers?name=vm-0099", None),
            ("port list --device-id", "/network/v2.0/ports?device_id=" + probe["server"], 1),
            ("port list --network (10 ports)", "/network/v2.0/ports?network_id="
             + probe["network"], None),
            ("port list --limit 100", "/network/v2.0/ports?limit=100", 100),
            ("port list (all 10,000)", "/network/v2.0/ports", None),
            ("port list fields=id,name", "/network/v2.0/ports?fields=id&fields=name", None),
            ("network list (all)", "/network/v2.0/networks", None),
            ("network list --limit 100", "/network/v2.0/networks?limit=100", 100),
            ("subnet list (all)", "/network/v2.0/subnets", None),
            ("subnet list --network", "/network/v2.0/subnets?network_id=" + probe["network"], 1),
        )
        print(f"{'list':<34} {'ms':>9} {'items':>6}")
        for name, path, expected in cases:
            answer = client.get(path, headers=headers)
            assert answer.status_code == 200, (path, answer.text[:300])
            items = len(next(v for v in answer.json().values() if isinstance(v, list)))
            if expected is not None and items != expected:
                print(f"  note: {name} gave {items} items, not {expected} (filter ignored?)")
            ms = timed(lambda: client.get(path, headers=headers), args.repeat)
            print(f"{name:<34} {ms:>9.1f} {items:>6}")
    db.dispose()


if __name__ == "__main__":
    main()
