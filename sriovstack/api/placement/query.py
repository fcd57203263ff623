"""Placement query strings: ``resources=VCPU:1,SRIOV_NET_VF:2`` and ``required=A,!B`` /
``required=in:A,B``, parsed once with placement's 400 messages."""

from __future__ import annotations

from sriovstack.api.placement.microversion import Microversion
from sriovstack.compute import CandidateRequest
from sriovstack.errors import Invalid

__all__ = ["parse_resources", "parse_required", "candidate_request"]


def parse_resources(text: str) -> tuple[tuple[str, int], ...]:
    """``VCPU:1,MEMORY_MB:512`` → ((VCPU, 1), (MEMORY_MB, 512)); Invalid when malformed."""
    out: list[tuple[str, int]] = []
    for item in text.split(","):
        rc, sep, amount = item.strip().partition(":")
        if not sep or not rc or not amount.isdigit():
            raise Invalid(f"Badly formed resources parameter. Expected resources query string "
                          f"parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. Got: {text}.",
                          field="resources", value=text)
        out.append((rc, int(amount)))
    return tuple(out)


def parse_required(values: list[str], version: Microversion
                   ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(required, forbidden, any-of groups) from every ``required`` value."""
    required: list[str] = []
    forbidden: list[str] = []
    any_of: list[tuple[str, ...]] = []
    for value in values:
        if value.startswith("in:"):
            if not version.at_least("1.39"):
                raise Invalid(f"Invalid query string parameters: 'required' in:{value[3:]} "
                              f"needs microversion 1.39", field="required", value=value)
            any_of.append(tuple(t for t in value[3:].split(",") if t))
            continue
        for trait in (t.strip() for t in value.split(",")):
            if trait.startswith("!"):
                if not version.at_least("1.22"):
                    raise Invalid(f"Invalid trait name '{trait}': forbidden traits need "
                                  f"microversion 1.22", field="required", value=trait)
                forbidden.append(trait[1:])
            elif trait:
                required.append(trait)
    return tuple(required), tuple(forbidden), tuple(any_of)


def candidate_request(resources: str | None, required: list[str], limit: str | None,
                      numbered: list[str], version: Microversion) -> CandidateRequest:
    """The request of GET /allocation_candidates; Invalid naming the bad parameter."""
    if numbered:
        raise Invalid(f"Granular request groups ({', '.join(sorted(numbered))}) are not "
                      f"supported by this placement", field=sorted(numbered)[0])
    if not resources:
        raise Invalid("'resources' is a required property", field="resources")
    if required and not version.at_least("1.17"):
        raise Invalid("Invalid query string parameters: 'required' needs microversion 1.17",
                      field="required")
    if limit is not None and (not limit.isdigit() or int(limit) < 1):
        raise Invalid(f"Invalid query string parameters: limit {limit!r} is not a positive "
                      f"integer", field="limit", value=limit)
    req, forbidden, any_of = parse_required(required, version)
    return CandidateRequest(parse_resources(resources), req, forbidden, any_of,
                            int(limit) if limit is not None else None)
