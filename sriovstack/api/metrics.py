"""``GET /metrics``: Prometheus text for scrapers (each request's duration is recorded by the
edge, api/middleware.py).

VF gauges are computed from the database at scrape time (one census query), not kept in
process: any API worker then answers with the same figures, nothing goes stale when a worker
dies, and the database is already the truth that ``host show`` reads. Counters and histograms
(scheduler decisions, request durations) are per process; under ``--workers N`` the metrics
seam sums every worker's (prometheus_client's multiprocess mode, ``ApiSettings.metrics_dir``).

A scrape needs no Keystone token (Prometheus has none); ``ApiSettings.metrics_token`` asks
for ``Authorization: Bearer <token>`` instead.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sriovstack.api.context import services_of
from sriovstack.api.services import Services
from sriovstack.compute import VfRecord
from sriovstack.errors import Unauthorized
from sriovstack.identity import Caller
from sriovstack.metrics import CONTENT_TYPE, GaugeFamily, render

__all__ = ["router"]

router = APIRouter()

_SCRAPER = Caller("sriovstack-metrics", None, is_admin=True, is_service=True)


def _authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                               token.encode())


@router.get("/metrics", include_in_schema=False)
def show_metrics(request: Request) -> Response:
    """200 Prometheus text; 401 when a metrics token is configured and not presented."""
    services = services_of(request)
    settings = services.settings
    if not _authorized(request, settings.metrics_token):
        raise Unauthorized("GET /metrics wants the configured bearer token "
                           "(Authorization: Bearer <token>)")
    body = render(services.recorder, _gauges(services), settings.metrics_dir)
    return Response(body, media_type=CONTENT_TYPE)


def _count(records: list[VfRecord], key: str) -> dict[tuple[str, ...], list[int]]:
    """(host, physnet) or (host, pf, physnet) → [total, used, unhealthy]."""
    out: dict[tuple[str, ...], list[int]] = {}
    for r in records:
        physnet = r.physnet or ""
        labels = (r.host, physnet) if key == "physnet" else (r.host, str(r.pf), physnet)
        counts = out.setdefault(labels, [0, 0, 0])
        counts[0] += 1
        counts[1] += r.used
        counts[2] += r.unhealthy
    return out


def _usage(prefix: str, what: str, labels: tuple[str, ...],
           counts: dict[tuple[str, ...], list[int]]) -> Iterator[GaugeFamily]:
    columns = (("", "VFs", lambda c: c[0]), ("_used", "VFs held or unavailable", lambda c: c[1]),
               ("_free", "VFs free to schedule", lambda c: c[0] - c[1] - c[2]),
               ("_unhealthy", "VFs not held whose PF has no carrier", lambda c: c[2]))
    for suffix, doc, pick in columns:
        yield GaugeFamily(f"{prefix}{suffix}", f"{doc} per {what}.", labels,
                          tuple((k, float(pick(c))) for k, c in sorted(counts.items())))


def _gauges(services: Services) -> Iterator[GaugeFamily]:
    records = list(services.compute.host_devices.census())
    sriov = [r for r in records if r.physnet is not None]  # as host show counts them
    yield from _usage("sriovstack_physnet_vfs", "host and physnet", ("host", "physnet"),
                      _count(sriov, "physnet"))
    yield from _usage("sriovstack_pf_vfs", "PF", ("host", "pf", "physnet"),
                      _count(records, "pf"))
    yield GaugeFamily(
        "sriovstack_vf_info", "One series per VF: where it is, its state and who holds it.",
        ("host", "pf", "vf", "physnet", "status", "healthy", "server", "port", "project"),
        tuple(((r.host, str(r.pf), str(r.address), r.physnet or "", r.status,
                "false" if r.unhealthy_reason else "true", r.server_id or "", r.port_id or "",
                r.project_id or ""), 1.0)
              for r in records))
    yield from _heartbeats(services)


def _heartbeats(services: Services) -> Iterator[GaugeFamily]:
    now = services.clock.now()
    hosts = services.hosts.list()
    yield GaugeFamily("sriovstack_host_heartbeat_age_seconds",
                      "Seconds since the host's compute agent last reported.", ("host",),
                      tuple(((h.name,), (now - h.last_heartbeat).total_seconds())
                            for h in hosts if h.last_heartbeat is not None))
    agents = services.network.agents.list(_SCRAPER)
    yield GaugeFamily("sriovstack_agent_heartbeat_age_seconds",
                      "Seconds since the network agent's last heartbeat.",
                      ("host", "agent_type"),
                      tuple(((a.host, a.agent_type), (now - a.heartbeat_at).total_seconds())
                            for a in agents))
    states = Counter((h.up, h.enabled) for h in hosts)
    yield GaugeFamily("sriovstack_hosts", "Compute hosts by liveness and enabled state.",
                      ("up", "enabled"),
                      tuple(((str(up).lower(), str(en).lower()), float(n))
                            for (up, en), n in sorted(states.items())))
