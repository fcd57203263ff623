"""Neutron's list query: ``fields=`` keeps only the keys asked (list and show); other keys
filter (exact match, a repeated key means OR, unknown keys ignored; ``fixed_ips=ip_address=...``
matches inside the list); ``sort_key``/``sort_dir``, ``limit``/``marker``/``page_reverse`` page.

The network service applies filters, order and page in SQL (``ListQuery``); ``Query.keep``
re-checks every filter on the rendered page, which is what applies the few the service leaves
to the view (the times, and the view's constants such as ``router:external``). Pages carry
neutron's ``<collection>_links`` (``next`` unless the page is short, ``previous`` likewise).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request

from sriovstack.api.context import RequestContext

from sriovstack.errors import Invalid
from sriovstack.network import ListQuery

__all__ = ["Query", "query_of", "list_query_of", "page_links", "listing"]

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


def _limit(text: str | None) -> int | None:
    """neutron's ``_get_limit_param``: an integer 0 or greater (0: no paging), else 400."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise Invalid(f"Bad limit request: Limit must be an integer 0 or greater and not "
                      f"'{text}'.", field="limit", value=text)
    return value


def _sorts(params: QueryParams) -> tuple[tuple[str, bool], ...]:
    """neutron's ``get_sorts``: as many ``sort_dir`` as ``sort_key``, each asc or desc."""
    keys = [v for v in params.getlist("sort_key") if v]
    dirs = [v for v in params.getlist("sort_dir") if v]
    if len(keys) != len(dirs):
        raise Invalid("The number of sort_keys and sort_dirs must be same", field="sort_dir",
                      value=",".join(dirs), fix="give one sort_dir per sort_key")
    bad = [d for d in dirs if d not in ("asc", "desc")]
    if bad:
        raise Invalid(f"{bad} is invalid value for sort_dirs, valid value is 'asc' and "
                      "'desc'", field="sort_dir", value=bad[0])
    return tuple((key, direction == "asc") for key, direction in zip(keys, dirs, strict=True))


def list_query_of(params: QueryParams) -> ListQuery:
    """The service's list query of a neutron list request (400 for a bad limit or sort)."""
    filters: dict[str, list[str]] = defaultdict(list)
    for key, value in params.multi_items():
        if key not in _NOT_FILTERS and value not in filters[key]:
            filters[key].append(value)
    return ListQuery(filters=tuple((k, tuple(v)) for k, v in filters.items() if v),
                     sorts=_sorts(params), limit=_limit(params.get("limit")),
                     marker=params.get("marker") or None,
                     page_reverse=params.get("page_reverse", "false").lower() == "true")


def page_links(url: str, params: QueryParams, query: ListQuery,
               ids: list[str]) -> list[dict[str, str]]:
    """neutron's ``get_pagination_links`` for a page of ``ids`` served at ``url``."""
    if not query.paged:
        return []
    assert query.limit is not None
    short = len(ids) < query.limit
    links = []
    if not (short and not query.page_reverse):
        links.append({"rel": "next", "href": _link(url, params, ids[-1] if ids else None,
                                                     reverse=False)})
    if not (short and query.page_reverse):
        links.append({"rel": "previous", "href": _link(url, params, ids[0] if ids else None,
                                                         reverse=True)})
    return links


def _link(url: str, params: QueryParams, marker: str | None, *, reverse: bool) -> str:
    items = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse")]
    if marker is not None:
        items.append(("marker", marker))
    if reverse:
        items.append(("page_reverse", "True"))
    return f"{url}?{urlencode(items)}"


def listing(collection: str, request: Request, ctx: RequestContext, query: ListQuery,
            ids: list[str], views: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The list answer: the views that pass every filter, projected to ``fields``, and the
    page's ``<collection>_links`` when it has any."""
    params = request.query_params
    body: dict[str, Any] = {collection: query_of(params).listing(views)}
    links = page_links(ctx.services.settings.url(request.url.path), params, query, ids)
    if links:
        body[f"{collection}_links"] = links
    return body
