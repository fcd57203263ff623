"""Neutron's list query semantics on rendered views: ``fields=`` keeps only the keys asked
(list and show), other keys filter (exact match, a repeated key means OR, unknown keys and
paging/sorting keys are ignored), and ``fixed_ips=ip_address=...`` matches inside the list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import QueryParams

__all__ = ["Query", "query_of"]

_NOT_FILTERS = frozenset({"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir",
                          "verbose"})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _wanted(text: str) -> str:
    lowered = text.lower()
    return lowered if lowered in ("true", "false") else text


def _matches(value: Any, wanted: set[str]) -> bool:
    if isinstance(value, list):
        if any(isinstance(v, dict) for v in value):
            # fixed_ips=ip_address=10.0.0.2 / fixed_ips=subnet_id=<id>
            pairs = {f"{k}={_text(v)}" for item in value if isinstance(item, dict)
                     for k, v in item.items()}
            return bool(pairs & wanted)
        return bool({_text(v) for v in value} & wanted)
    if isinstance(value, dict):
        return True  # binding:profile, configurations: not filterable, so ignored
    return _wanted(_text(value)) in wanted


class Query:
    """The parsed query string of one list or show request."""

    def __init__(self, fields: tuple[str, ...], filters: dict[str, set[str]]) -> None:
        self.fields = fields
        self.filters = filters

    def keep(self, view: dict[str, Any]) -> bool:
        """True when the view passes every filter whose key it has."""
        return all(_matches(view[key], wanted) for key, wanted in self.filters.items()
                   if key in view)

    def project(self, view: dict[str, Any]) -> dict[str, Any]:
        """Only the asked ``fields`` (in the asked order) or the whole view."""
        if not self.fields:
            return view
        return {name: view[name] for name in self.fields if name in view}

    def listing(self, views: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.project(view) for view in views if self.keep(view)]


def query_of(params: QueryParams) -> Query:
    """Split a query string into ``fields`` and filters (booleans compared case-blind)."""
    fields: list[str] = []
    filters: dict[str, set[str]] = defaultdict(set)
    for key, value in params.multi_items():
        if key == "fields":
            fields.extend(part for part in value.split(",") if part and part not in fields)
        elif key not in _NOT_FILTERS:
            filters[key].add(_wanted(value))
    return Query(tuple(fields), dict(filters))
