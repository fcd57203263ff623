"""The request context: who is calling (from X-Auth-Token), the request id, and the services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from sriovstack.api.errors import request_id_of
from sriovstack.api.services import Services
from sriovstack.errors import Forbidden, Unauthorized
from sriovstack.identity import Caller, RoleName, Token

__all__ = ["RequestContext", "request_context", "services_of", "optional_token"]

_NEEDS_AUTH = "The request you have made requires authentication."


@dataclass(frozen=True, slots=True)
class RequestContext:
    """An authenticated request: the token's user, project and roles, and the services."""

    token: Token
    request_id: str
    services: Services

    @property
    def user_id(self) -> str:
        return self.token.user.id

    @property
    def project_id(self) -> str | None:
        return self.token.project.id if self.token.project else None

    @property
    def roles(self) -> frozenset[str]:
        return self.token.role_names

    @property
    def is_admin(self) -> bool:
        return RoleName.ADMIN in self.roles

    @property
    def is_service(self) -> bool:
        return RoleName.SERVICE in self.roles

    @property
    def is_reader_only(self) -> bool:
        """Only the reader role: may look, may not change anything."""
        writers = {RoleName.ADMIN, RoleName.MEMBER, RoleName.SERVICE}
        return not (self.roles & writers)

    @property
    def caller(self) -> Caller:
        """The typed value services take instead of the request."""
        return Caller(self.user_id, self.project_id, self.is_admin, self.is_service,
                      self.is_reader_only)

    def require_admin(self, what: str = "this action") -> None:
        """Raise Forbidden unless the caller has the admin role."""
        if not self.is_admin:
            raise Forbidden(f"{what} is admin only", kind="PolicyNotAuthorized")

    def require_service(self, what: str = "this endpoint") -> None:
        """Raise Forbidden unless the caller is a service user (agents) or admin."""
        if not (self.is_service or self.is_admin):
            raise Forbidden(f"{what} is for service users (agents) only",
                            kind="PolicyNotAuthorized")

    def require_writer(self, what: str = "this action") -> None:
        """Raise Forbidden for reader-only callers."""
        if self.is_reader_only:
            raise Forbidden(f"{what} needs the member role; the reader role may only read",
                            kind="PolicyNotAuthorized")


def services_of(request: Request) -> Services:
    """The Services bundle of the app serving ``request``."""
    services: Services = request.app.state.services
    return services


def optional_token(request: Request) -> str | None:
    """The X-Auth-Token header, if any."""
    return request.headers.get("x-auth-token") or None


def request_context(request: Request) -> RequestContext:
    """FastAPI dependency: validate X-Auth-Token; Unauthorized (401) when missing or invalid."""
    secret = optional_token(request)
    if secret is None:
        raise Unauthorized(_NEEDS_AUTH)
    services = services_of(request)
    token = services.identity.tokens.validate(secret)
    return RequestContext(token, request_id_of(request), services)
