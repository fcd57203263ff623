"""Tokens: issue by password or by re-scoping a token, validate, revoke; secrets stored hashed."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.db import Database
from sriovstack.db.models import (DomainRow, ProjectRow, RoleAssignmentRow, RoleRow, TokenRow,
                                  UserRow)
from sriovstack.errors import ErrorKind, NotFound, Unauthorized
from sriovstack.identity import policy
from sriovstack.identity.directory import (domain_of, find_project_row, find_user_row,
                                           project_of, role_of, user_of)
from sriovstack.identity.passwords import verify_password
from sriovstack.identity.token_cache import TokenCache, identity_revision
from sriovstack.identity.values import (Caller, IssuedToken, NameRef, PasswordAuth, Role, RoleName,
                                        Token, TokenAuth)

__all__ = ["TokenService"]

_AUTH_FAILED = "The request you have made requires authentication."

# Keystone's default implied roles: admin implies member, member implies reader.
_IMPLIES: dict[str, tuple[str, ...]] = {
    RoleName.ADMIN: (RoleName.MEMBER, RoleName.READER),
    RoleName.MEMBER: (RoleName.READER,),
}


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# The reads of a token check that misses the cache, built once.
_BY_SECRET = select(TokenRow).where(TokenRow.secret_hash == bindparam("digest"))
_ASSIGNED = (select(RoleRow).join(RoleAssignmentRow, RoleAssignmentRow.role_id == RoleRow.id)
             .where(RoleAssignmentRow.user_id == bindparam("user"),
                    RoleAssignmentRow.project_id == bindparam("project")))
_NAMED = select(RoleRow).where(RoleRow.name.in_(bindparam("names", expanding=True)))


def _effective_roles(session: Session, user_id: str, project_id: str) -> tuple[Role, ...]:
    rows = session.scalars(_ASSIGNED, {"user": user_id, "project": project_id})
    direct = {r.name: role_of(r) for r in rows}
    wanted = set(direct)
    for name in direct:
        wanted.update(_IMPLIES.get(name, ()))
    missing = wanted - set(direct)
    if missing:
        for r in session.scalars(_NAMED, {"names": sorted(missing)}):
            direct[r.name] = role_of(r)
    return tuple(sorted(direct.values(), key=lambda r: r.name))


class TokenService:
    """Issues and checks bearer tokens that expire after ``ttl``; validated tokens are kept
    in ``cache`` (see token_cache.py for how a revocation reaches every worker)."""

    def __init__(self, db: Database, clock: Clock, ttl: timedelta,
                 cache: TokenCache | None = None) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl
        self._cache = cache or TokenCache()

    def issue(self, credentials: PasswordAuth | TokenAuth, scope: NameRef | None) -> IssuedToken:
        """A token for password credentials or by re-scoping a token (see the two below)."""
        if isinstance(credentials, TokenAuth):
            return self.issue_rescope(credentials.secret, scope)
        return self.issue_password(credentials, scope)

    def issue_password(self, auth: PasswordAuth, scope: NameRef | None) -> IssuedToken:
        """A token for the user, scoped to ``scope`` (a project) or unscoped.

        Raises Unauthorized for an unknown user, a wrong password, a disabled user or a
        project the user has no role on (keystone gives 401 for all of these).
        """
        with self._db.transaction() as s:
            try:
                user = find_user_row(s, auth.user)
            except NotFound as exc:
                raise Unauthorized(_AUTH_FAILED) from exc
            if not user.enabled or not verify_password(auth.password, user.password_hash):
                raise Unauthorized(_AUTH_FAILED)
            return self._issue(s, user, scope, ("password",), uuid.uuid4().hex[:22])

    def issue_rescope(self, secret: str, scope: NameRef | None) -> IssuedToken:
        """A new token for the holder of a valid token, scoped to ``scope`` (same audit
        chain); it expires no later than its parent (keystone's rule), and revoking the
        parent revokes it."""
        with self._db.transaction() as s:
            row = self._valid_row(s, secret)
            user = s.get(UserRow, row.user_id)
            assert user is not None  # foreign key
            return self._issue(s, user, scope, ("token",), row.audit_id, parent=row)

    def _issue(self, s: Session, user: UserRow, scope: NameRef | None,
               methods: tuple[str, ...], audit_id: str,
               parent: TokenRow | None = None) -> IssuedToken:
        project = None
        if scope is not None:
            try:
                project = find_project_row(s, scope)
            except NotFound as exc:
                raise Unauthorized(f"{_AUTH_FAILED} (no such project)") from exc
            if not project.enabled or not _effective_roles(s, user.id, project.id):
                raise Unauthorized(f"User {user.id} has no access to project {project.id}")
        secret = secrets.token_urlsafe(32)
        now = self._clock.now()
        expires = now + self._ttl
        if parent is not None:
            expires = min(expires, parent.expires_at)
        row = TokenRow(id=uuid.uuid4().hex, secret_hash=_digest(secret), user_id=user.id,
                       project_id=project.id if project else None, methods=list(methods),
                       audit_id=audit_id, issued_at=now, expires_at=expires,
                       revoked=False, parent_id=parent.id if parent else None)
        s.add(row)
        s.flush()
        return IssuedToken(secret, self._token_of(s, row))

    def validate(self, secret: str) -> Token:
        """The token behind ``secret``; Unauthorized when unknown, revoked or expired.

        Served from the cache while it is valid there (no database read at all, but for the
        identity revision at most once a second)."""
        digest = _digest(secret)
        cached = self._cache.get(digest, self._clock.now(), self._revision)
        if cached is not None:
            return cached
        with self._db.transaction() as s:
            revision = identity_revision(s)  # first: the token read is at least this new
            token = self._token_of(s, self._valid_row(s, secret))
        self._cache.put(digest, token, revision)
        return token

    def cached(self, secret: str) -> Token | None:
        """The token behind ``secret`` if the cache can answer without the database (no
        read, not even of the identity revision); None otherwise: then ``validate`` it."""
        return self._cache.peek(_digest(secret), self._clock.now())

    def _revision(self) -> int:
        with self._db.transaction() as s:
            return identity_revision(s)

    def inspect(self, caller: Caller, secret: str) -> Token:
        """Another token, as keystone's GET /v3/auth/tokens shows it.

        NotFound when it is not valid; Forbidden unless it is the caller's own token or the
        caller is admin or a service.
        """
        with self._db.transaction() as s:
            return self._token_of(s, self._subject_row(s, caller, secret))

    def revoke(self, caller: Caller, secret: str) -> None:
        """Revoke a token and every token re-scoped from it, transitively (same rules as
        ``inspect``)."""
        with self._db.transaction() as s:
            generation = [self._subject_row(s, caller, secret).id]
            while generation:
                s.execute(update(TokenRow).where(TokenRow.id.in_(generation))
                          .values(revoked=True).execution_options(synchronize_session=False))
                generation = list(s.scalars(select(TokenRow.id).where(
                    TokenRow.parent_id.in_(generation), TokenRow.revoked.is_(False))))
            self._cache.note_change(s)

    def _subject_row(self, s: Session, caller: Caller, secret: str) -> TokenRow:
        try:
            row = self._valid_row(s, secret)
        except Unauthorized as exc:
            raise NotFound(f"Could not find token: {exc.message}",
                           kind=ErrorKind.TOKEN_NOT_FOUND) from exc
        if row.user_id != caller.user_id and not policy.is_privileged(caller):
            raise policy.denied("only admins and services may check or revoke other users' "
                                "tokens")
        return row

    def purge_expired(self) -> int:
        """Delete expired and revoked tokens; return how many went."""
        with self._db.transaction() as s:
            result = s.execute(delete(TokenRow).where(
                (TokenRow.expires_at <= self._clock.now()) | TokenRow.revoked.is_(True)))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _valid_row(self, s: Session, secret: str) -> TokenRow:
        row = s.scalar(_BY_SECRET, {"digest": _digest(secret)})
        if row is None or row.revoked:
            raise Unauthorized("The token is not valid (unknown or revoked).")
        if row.expires_at <= self._clock.now():
            raise Unauthorized("The token has expired.")
        user = s.get(UserRow, row.user_id)
        if user is None or not user.enabled:
            raise Unauthorized("The token's user is disabled or gone.")
        return row

    def _token_of(self, s: Session, row: TokenRow) -> Token:
        user = s.get(UserRow, row.user_id)
        assert user is not None
        domain = s.get(DomainRow, user.domain_id)
        assert domain is not None
        project = s.get(ProjectRow, row.project_id) if row.project_id else None
        project_domain = s.get(DomainRow, project.domain_id) if project else None
        roles = _effective_roles(s, user.id, project.id) if project else ()
        return Token(row.id, user_of(user), domain_of(domain),
                     project_of(project) if project else None,
                     domain_of(project_domain) if project_domain else None, roles,
                     tuple(row.methods), row.audit_id, row.issued_at, row.expires_at)
