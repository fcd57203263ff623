"""Placement response bodies, shaped by the microversion asked."""

from __future__ import annotations

from typing import Any

from sriovstack.api.placement.microversion import Microversion
from sriovstack.compute import (Candidate, ConsumerAllocations, Inventory,
                                ProviderAllocations, ResourceProvider)

__all__ = ["provider_view", "inventory_view", "provider_allocations_view",
           "consumer_allocations_view", "candidates_view", "usages_view"]


def _links(base: str, rp: ResourceProvider, version: Microversion) -> list[dict[str, str]]:
    me = f"{base}/resource_providers/{rp.uuid}"
    links = [{"rel": "self", "href": me}, {"rel": "inventories", "href": f"{me}/inventories"},
             {"rel": "usages", "href": f"{me}/usages"}]
    for since, rel in (("1.1", "aggregates"), ("1.6", "traits"), ("1.11", "allocations")):
        if version.at_least(since):
            links.append({"rel": rel, "href": f"{me}/{rel}"})
    return links


def provider_view(base: str, rp: ResourceProvider, version: Microversion) -> dict[str, Any]:
    """One resource provider (parent/root uuids from 1.14)."""
    body: dict[str, Any] = {"uuid": rp.uuid, "name": rp.name, "generation": rp.generation,
                            "links": _links(base, rp, version)}
    if version.at_least("1.14"):
        body["parent_provider_uuid"] = rp.parent_uuid
        body["root_provider_uuid"] = rp.root_uuid
    return body


def inventory_view(inv: Inventory) -> dict[str, Any]:
    """One class's inventory (allocation ratio 1.0: the claims never overcommit)."""
    return {"total": inv.total, "reserved": inv.reserved, "min_unit": 1,
            "max_unit": inv.max_unit or max(inv.total, 1), "step_size": 1,
            "allocation_ratio": 1.0}


def _resources(pairs: tuple[tuple[str, int], ...]) -> dict[str, int]:
    return dict(pairs)


def provider_allocations_view(allocs: ProviderAllocations) -> dict[str, Any]:
    """GET /resource_providers/{uuid}/allocations."""
    return {"allocations": {c: {"resources": _resources(r)} for c, r in allocs.consumers},
            "resource_provider_generation": allocs.generation}


def consumer_allocations_view(allocs: ConsumerAllocations,
                              version: Microversion) -> dict[str, Any]:
    """GET /allocations/{consumer}: by provider; project/user from 1.12, generation 1.28."""
    body: dict[str, Any] = {"allocations": {
        rp: {"generation": gen, "resources": _resources(res)}
        for rp, gen, res in allocs.providers}}
    if version.at_least("1.12") and allocs.project_id is not None:
        body["project_id"], body["user_id"] = allocs.project_id, allocs.user_id
    if version.at_least("1.28") and allocs.providers:
        body["consumer_generation"] = 1
    if version.at_least("1.38") and allocs.providers:
        body["consumer_type"] = "INSTANCE"
    return body


def usages_view(consumers: int, totals: tuple[tuple[str, int], ...],
                version: Microversion) -> dict[str, Any]:
    """GET /usages: totals by class; from 1.38 grouped by consumer type (all INSTANCE)."""
    if not version.at_least("1.38"):
        return {"usages": _resources(totals)}
    if not consumers:
        return {"usages": {}}
    return {"usages": {"INSTANCE": {"consumer_count": consumers, **_resources(totals)}}}


def _summary(rp: ResourceProvider, traits: tuple[str, ...],
             version: Microversion) -> dict[str, Any]:
    body: dict[str, Any] = {"resources": {
        i.resource_class: {"capacity": i.total - i.reserved, "used": i.used}
        for i in rp.inventories}}
    if version.at_least("1.17"):
        body["traits"] = list(traits)
    if version.at_least("1.29"):
        body["parent_provider_uuid"] = rp.parent_uuid
        body["root_provider_uuid"] = rp.root_uuid
    return body


def candidates_view(candidates: tuple[Candidate, ...],
                    traits: dict[str, tuple[str, ...]],
                    version: Microversion) -> dict[str, Any]:
    """GET /allocation_candidates: requests (a dict by provider from 1.12, mappings from
    1.34) and a summary of every provider in the candidates' trees."""
    requests: list[dict[str, Any]] = []
    for c in candidates:
        if version.at_least("1.12"):
            request: dict[str, Any] = {"allocations": {
                rp: {"resources": _resources(res)} for rp, res in c.allocations}}
            if version.at_least("1.34"):
                request["mappings"] = {"": [rp for rp, _ in c.allocations]}
        else:
            request = {"allocations": [{"resource_provider": {"uuid": rp},
                                        "resources": _resources(res)}
                                       for rp, res in c.allocations]}
        requests.append(request)
    summaries: dict[str, Any] = {}
    for c in candidates:
        for rp in c.tree:
            if version.at_least("1.29") or any(rp.uuid == u for u, _ in c.allocations):
                summaries[rp.uuid] = _summary(rp, traits.get(rp.uuid, ()), version)
    return {"allocation_requests": requests, "provider_summaries": summaries}
