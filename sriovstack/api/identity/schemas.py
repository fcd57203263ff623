"""Request bodies of the identity API (keystone v3 shapes), each turned into typed values."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sriovstack.errors import Invalid, NotSupported
from sriovstack.identity import DEFAULT_DOMAIN_ID, NameRef, PasswordAuth, TokenAuth

__all__ = ["AuthRequest", "ProjectCreateRequest", "UserCreateRequest"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DomainRef(_Strict):
    id: str | None = None
    name: str | None = None


class UserRef(_Strict):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None
    password: str

    def to_ref(self) -> NameRef:
        if not self.id and not self.name:
            raise Invalid("auth.identity.password.user needs an id or a name",
                          field="auth.identity.password.user")
        domain = self.domain or DomainRef()
        return NameRef(self.id, self.name, domain.id, domain.name)


class PasswordMethod(_Strict):
    user: UserRef


class TokenMethod(_Strict):
    id: str = Field(min_length=1)


class IdentityIn(_Strict):
    methods: list[Literal["password", "token"]] = Field(min_length=1)
    password: PasswordMethod | None = None
    token: TokenMethod | None = None


class ProjectScope(_Strict):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class ScopeIn(_Strict):
    project: ProjectScope | None = None
    domain: DomainRef | None = None
    system: dict[str, bool] | None = None


class AuthIn(_Strict):
    identity: IdentityIn
    scope: ScopeIn | None = None


class AuthRequest(_Strict):
    """POST /v3/auth/tokens: password or token method, optional project scope."""

    auth: AuthIn

    def credentials(self) -> PasswordAuth | TokenAuth:
        """The password credentials, or the token being re-scoped."""
        ident = self.auth.identity
        if "password" in ident.methods:
            if ident.password is None:
                raise Invalid("auth.identity.password is required by method 'password'",
                              field="auth.identity.password")
            return PasswordAuth(ident.password.user.to_ref(), ident.password.user.password)
        if ident.token is None:
            raise Invalid("auth.identity.token is required by method 'token'",
                          field="auth.identity.token")
        return TokenAuth(ident.token.id)

    def scope_ref(self) -> NameRef | None:
        """The project scope, or None for an unscoped token."""
        scope = self.auth.scope
        if scope is None:
            return None
        if scope.domain is not None or scope.system is not None:
            raise NotSupported("only project scope is supported (not domain or system scope)",
                               field="auth.scope", fix="scope the token to a project")
        if scope.project is None:
            return None
        p = scope.project
        if not p.id and not p.name:
            raise Invalid("auth.scope.project needs an id or a name", field="auth.scope.project")
        domain = p.domain or DomainRef()
        return NameRef(p.id, p.name, domain.id, domain.name)


class ProjectIn(_Strict):
    name: str = Field(min_length=1, max_length=64)
    domain_id: str = DEFAULT_DOMAIN_ID
    description: str = ""
    enabled: bool = True
    is_domain: bool = False


class ProjectCreateRequest(_Strict):
    project: ProjectIn


class UserIn(_Strict):
    name: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1)
    domain_id: str = DEFAULT_DOMAIN_ID
    default_project_id: str | None = None
    enabled: bool = True


class UserCreateRequest(_Strict):
    user: UserIn
