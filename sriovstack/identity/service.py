"""The identity service: the directory, access, tokens and the bootstrap of a fresh deployment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sriovstack.clock import Clock
from sriovstack.db import Database
from sriovstack.errors import Invalid, NotFound
from sriovstack.identity.access import Access
from sriovstack.identity.directory import Directory
from sriovstack.identity.token_cache import TokenCache
from sriovstack.identity.tokens import TokenService
from sriovstack.identity.values import (DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, NameRef,
                                        Project, RoleName, User)

__all__ = ["IdentityService", "BootstrapResult", "ADMIN_PROJECT", "DEMO_PROJECT",
           "SERVICE_PROJECT"]

ADMIN_PROJECT, DEMO_PROJECT, SERVICE_PROJECT = "admin", "demo", "service"


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    admin: User
    demo: User
    service_users: tuple[User, ...]
    projects: tuple[Project, ...]


class IdentityService:
    """Identity for the control plane: ``directory`` (domains, projects, users), ``access``
    (roles and their assignments), ``tokens``, plus ``bootstrap``."""

    def __init__(self, db: Database, clock: Clock, token_ttl: timedelta,
                 token_cache: TokenCache | None = None) -> None:
        cache = token_cache or TokenCache()
        self.directory = Directory(db, cache)
        self.access = Access(db, self.directory, cache)
        self.tokens = TokenService(db, clock, token_ttl, cache)

    def bootstrap(self, admin_password: str, *, demo_password: str | None = None,
                  service_users: Mapping[str, str] | None = None) -> BootstrapResult:
        """Create (or bring up to date) the Default domain, roles, projects and users.

        Projects admin, demo, service; user admin (admin on admin), demo (member on demo),
        and each of ``service_users`` (name → password) with role service on project service.
        Idempotent: existing users keep their ids and get the given passwords.
        """
        if not admin_password:
            raise Invalid("the admin password must not be empty", field="admin_password")
        d = self.directory
        d.ensure_domain(DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME)
        roles = {role: self.access.ensure_role(role.value).id for role in RoleName}
        projects = tuple(self._ensure_project(n) for n in
                         (ADMIN_PROJECT, DEMO_PROJECT, SERVICE_PROJECT))
        admin = self._ensure_user("admin", admin_password, projects[0], roles[RoleName.ADMIN])
        demo = self._ensure_user("demo", demo_password or admin_password, projects[1],
                                 roles[RoleName.MEMBER])
        services = tuple(self._ensure_user(name, password, projects[2], roles[RoleName.SERVICE])
                         for name, password in sorted((service_users or {}).items()))
        return BootstrapResult(admin, demo, services, projects)

    def _ensure_project(self, name: str) -> Project:
        try:
            return self.directory.get_project(NameRef(name=name, domain_id=DEFAULT_DOMAIN_ID))
        except NotFound:
            return self.directory.create_project(name, description=f"bootstrap: {name}")

    def _ensure_user(self, name: str, password: str, project: Project, role_id: str) -> User:
        d = self.directory
        try:
            user = d.get_user(NameRef(name=name, domain_id=DEFAULT_DOMAIN_ID))
            d.set_password(user.id, password)
        except NotFound:
            user = d.create_user(name, password, default_project_id=project.id)
        self.access.grant(user.id, project.id, role_id)
        return user
