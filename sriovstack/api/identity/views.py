"""Response bodies of the identity API: tokens with their catalog, projects, users, roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sriovstack.api.settings import ApiSettings
from sriovstack.identity import Domain, Project, Role, RoleAssignment, Token, User

__all__ = ["version_view", "token_view", "catalog_view", "project_view", "user_view",
           "role_view", "assignment_view", "domain_view", "service_views", "endpoint_views",
           "region_view", "SERVICES"]

# (type, name, path): what the catalog publishes (openstack_api_compat.md §2.3).
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("identity", "keystone", "/identity"),
    ("network", "neutron", "/network"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("placement", "placement", "/placement"),
)
_INTERFACES = ("public", "internal", "admin")
_NS = uuid.UUID("5f0b6c52-3c1e-4a55-9c61-3a2f1b5e8d10")


def _stable_id(*parts: str) -> str:
    # Same ids from every worker and every restart, without storing the catalog.
    return uuid.uuid5(_NS, "/".join(parts)).hex


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def version_view(settings: ApiSettings) -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": settings.url("/identity/v3/")}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


def catalog_view(settings: ApiSettings) -> list[dict[str, Any]]:
    entries = []
    for kind, name, path in SERVICES:
        endpoints = [{"id": _stable_id(kind, iface), "interface": iface,
                      "region_id": settings.region, "region": settings.region,
                      "url": settings.url(path)} for iface in _INTERFACES]
        entries.append({"id": _stable_id(kind), "type": kind, "name": name,
                        "endpoints": endpoints})
    return entries


def token_view(token: Token, settings: ApiSettings, *, catalog: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "methods": list(token.methods),
        "user": {"id": token.user.id, "name": token.user.name,
                 "domain": {"id": token.domain.id, "name": token.domain.name},
                 "password_expires_at": None},
        "audit_ids": [token.audit_id],
        "issued_at": _time(token.issued_at),
        "expires_at": _time(token.expires_at),
    }
    if token.project is not None and token.project_domain is not None:
        body["project"] = {"id": token.project.id, "name": token.project.name,
                           "domain": {"id": token.project_domain.id,
                                      "name": token.project_domain.name}}
        body["is_domain"] = False
        body["roles"] = [{"id": r.id, "name": r.name} for r in token.roles]
        if catalog:
            body["catalog"] = catalog_view(settings)
    return body


def project_view(project: Project, settings: ApiSettings) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "domain_id": project.domain_id,
            "description": project.description, "enabled": project.enabled,
            "is_domain": False, "parent_id": project.domain_id, "tags": [], "options": {},
            "links": {"self": settings.url(f"/identity/v3/projects/{project.id}")}}


def user_view(user: User, settings: ApiSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": user.id, "name": user.name, "domain_id": user.domain_id, "enabled": user.enabled,
        "password_expires_at": None, "options": {},
        "links": {"self": settings.url(f"/identity/v3/users/{user.id}")}}
    if user.default_project_id:
        body["default_project_id"] = user.default_project_id
    return body


def role_view(role: Role, settings: ApiSettings) -> dict[str, Any]:
    return {"id": role.id, "name": role.name, "domain_id": None, "description": None,
            "options": {}, "links": {"self": settings.url(f"/identity/v3/roles/{role.id}")}}


def _named(ref_id: str, name: str, domain: Domain) -> dict[str, Any]:
    return {"id": ref_id, "name": name, "domain": {"id": domain.id, "name": domain.name}}


def assignment_view(a: RoleAssignment, settings: ApiSettings) -> dict[str, Any]:
    """One assignment; with names (``include_names``) the user and project carry their
    names and domains, as keystone gives them."""
    link = f"/identity/v3/projects/{a.project_id}/users/{a.user_id}/roles/{a.role.id}"
    body: dict[str, Any] = {
        "role": {"id": a.role.id, "name": a.role.name}, "user": {"id": a.user_id},
        "scope": {"project": {"id": a.project_id}}, "links": {"assignment": settings.url(link)}}
    if a.names is not None:
        n = a.names
        body["user"] = _named(a.user_id, n.user_name, n.user_domain)
        body["scope"] = {"project": _named(a.project_id, n.project_name, n.project_domain)}
    return body


def domain_view(domain: Domain, settings: ApiSettings) -> dict[str, Any]:
    return {"id": domain.id, "name": domain.name, "description": "", "enabled": domain.enabled,
            "tags": [], "options": {},
            "links": {"self": settings.url(f"/identity/v3/domains/{domain.id}")}}


def service_views(settings: ApiSettings) -> list[dict[str, Any]]:
    """The catalog's services as /v3/services lists them (ids as in the token catalog)."""
    return [{"id": _stable_id(kind), "type": kind, "name": name, "enabled": True,
             "description": f"{name} ({kind}) served by sriovstack",
             "links": {"self": settings.url(f"/identity/v3/services/{_stable_id(kind)}")}}
            for kind, name, _path in SERVICES]


def endpoint_views(settings: ApiSettings) -> list[dict[str, Any]]:
    """Every service's public, internal and admin endpoint (ids as in the token catalog)."""
    return [{"id": _stable_id(kind, iface), "interface": iface, "region": settings.region,
             "region_id": settings.region, "service_id": _stable_id(kind),
             "url": settings.url(path), "enabled": True,
             "links": {"self": settings.url(f"/identity/v3/endpoints/"
                                            f"{_stable_id(kind, iface)}")}}
            for kind, _name, path in SERVICES for iface in _INTERFACES]


def region_view(settings: ApiSettings) -> dict[str, Any]:
    return {"id": settings.region, "description": "", "parent_region_id": None,
            "links": {"self": settings.url(f"/identity/v3/regions/{settings.region}")}}
