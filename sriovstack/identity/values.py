"""The typed values of identity: domains, projects, users, roles, tokens, and the Caller."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RoleName", "Domain", "Project", "User", "Role", "RoleAssignment",
           "AssignmentNames", "Token",
           "IssuedToken", "NameRef", "PasswordAuth", "TokenAuth", "Caller", "DEFAULT_DOMAIN_ID",
           "DEFAULT_DOMAIN_NAME"]

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


class RoleName(enum.StrEnum):
    """The roles the control plane knows; admin implies member implies reader (as keystone)."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"
    SERVICE = "service"


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    name: str
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    name: str
    domain_id: str
    description: str = ""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    domain_id: str
    enabled: bool = True
    default_project_id: str | None = None


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class AssignmentNames:
    """The names keystone adds to an assignment for ``include_names``."""

    user_name: str
    user_domain: Domain
    project_name: str
    project_domain: Domain


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    user_id: str
    project_id: str
    role: Role
    names: AssignmentNames | None = None


@dataclass(frozen=True, slots=True)
class NameRef:
    """A user or project named as clients name them: by id, or by name within a domain."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclass(frozen=True, slots=True)
class PasswordAuth:
    user: NameRef
    password: str


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """Re-scoping: a valid token's secret stands for the user (keystone's token method)."""

    secret: str


@dataclass(frozen=True, slots=True)
class Token:
    """A valid token as validation returns it (never the secret itself)."""

    id: str
    user: User
    domain: Domain
    project: Project | None
    project_domain: Domain | None
    roles: tuple[Role, ...]
    methods: tuple[str, ...]
    audit_id: str
    issued_at: datetime
    expires_at: datetime

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.name for r in self.roles)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just issued: ``secret`` goes to the client in X-Subject-Token, once."""

    secret: str
    token: Token


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as every API and service sees it: the user, the project scope and the
    roles that matter (``policy.caller_of`` builds it from a token; ``policy`` judges it)."""

    user_id: str
    project_id: str | None
    is_admin: bool = False
    is_service: bool = False
    is_reader_only: bool = False
