"""The identity directory: domains, projects and users in the database, and the row readers
the rest of identity shares (roles and who holds them live in access.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from sriovstack.db import Database
from sriovstack.db.models import DomainRow, ProjectRow, RoleRow, UserRow
from sriovstack.errors import Conflict, ErrorKind, NotFound
from sriovstack.identity.passwords import hash_password
from sriovstack.identity.token_cache import TokenCache
from sriovstack.identity.values import DEFAULT_DOMAIN_ID, Domain, NameRef, Project, Role, User

__all__ = ["Directory", "domain_of", "project_of", "user_of", "role_of", "find_user_row",
           "find_project_row"]


def domain_of(row: DomainRow) -> Domain:
    return Domain(row.id, row.name, row.enabled)


def project_of(row: ProjectRow) -> Project:
    return Project(row.id, row.name, row.domain_id, row.description, row.enabled)


def user_of(row: UserRow) -> User:
    return User(row.id, row.name, row.domain_id, row.enabled, row.default_project_id)


def role_of(row: RoleRow) -> Role:
    return Role(row.id, row.name)


def _domain_id(session: Session, ref: NameRef, what: str) -> str:
    if ref.domain_id:
        return ref.domain_id
    if ref.domain_name:
        row = session.scalar(select(DomainRow).where(DomainRow.name == ref.domain_name))
        if row is None:
            raise NotFound(f"Could not find domain: {ref.domain_name}.",
                           kind=ErrorKind.DOMAIN_NOT_FOUND)
        return row.id
    raise NotFound(f"{what} {ref.name!r} needs a domain (domain.id or domain.name)",
                   kind=ErrorKind.VALIDATION_ERROR)


def find_user_row(session: Session, ref: NameRef) -> UserRow:
    """The user named by id, or by name within a domain; NotFound otherwise."""
    if ref.id:
        row = session.get(UserRow, ref.id)
    else:
        domain_id = _domain_id(session, ref, "user")
        row = session.scalar(select(UserRow).where(UserRow.name == ref.name,
                                                   UserRow.domain_id == domain_id))
    if row is None:
        raise NotFound(f"Could not find user: {ref.id or ref.name}.", kind=ErrorKind.USER_NOT_FOUND)
    return row


def find_project_row(session: Session, ref: NameRef) -> ProjectRow:
    """The project named by id, or by name within a domain; NotFound otherwise."""
    if ref.id:
        row = session.get(ProjectRow, ref.id)
    else:
        domain_id = _domain_id(session, ref, "project")
        row = session.scalar(select(ProjectRow).where(ProjectRow.name == ref.name,
                                                      ProjectRow.domain_id == domain_id))
    if row is None:
        raise NotFound(f"Could not find project: {ref.id or ref.name}.",
                       kind=ErrorKind.PROJECT_NOT_FOUND)
    return row


class Directory:
    """Domains, projects and users; every method is one transaction.

    Role assignments, and what they let a caller see, are ``Access``'s (access.py). Deleting
    a project or user, or changing a password, tells ``tokens`` (the token cache).
    """

    def __init__(self, db: Database, tokens: TokenCache) -> None:
        self._db = db
        self._tokens = tokens

    def ensure_domain(self, domain_id: str, name: str) -> Domain:
        """The domain with this id, created when missing."""
        with self._db.transaction() as s:
            row = s.get(DomainRow, domain_id)
            if row is None:
                row = DomainRow(id=domain_id, name=name, description="", enabled=True)
                s.add(row)
            return domain_of(row)

    def list_domains(self, name: str | None = None,
                     enabled: bool | None = None) -> tuple[Domain, ...]:
        """Domains by name, optionally one exact ``name`` and/or by ``enabled``."""
        with self._db.transaction() as s:
            query = select(DomainRow).order_by(DomainRow.name)
            if name is not None:
                query = query.where(DomainRow.name == name)
            if enabled is not None:
                query = query.where(DomainRow.enabled == enabled)
            return tuple(domain_of(r) for r in s.scalars(query))

    def get_domain(self, domain_id: str) -> Domain:
        """The domain with this id; NotFound (keystone's message) otherwise."""
        with self._db.transaction() as s:
            row = s.get(DomainRow, domain_id)
            if row is None:
                raise NotFound(f"Could not find domain: {domain_id}.",
                               kind=ErrorKind.DOMAIN_NOT_FOUND, value=domain_id)
            return domain_of(row)

    def create_project(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID,
                       description: str = "") -> Project:
        """A new project; Conflict when the name is taken in the domain."""
        with self._db.transaction() as s:
            if s.get(DomainRow, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.",
                               kind=ErrorKind.DOMAIN_NOT_FOUND)
            if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name,
                                                    ProjectRow.domain_id == domain_id)):
                raise Conflict(f"Conflict occurred attempting to store project - "
                               f"it is not permitted to have two projects with the same "
                               f"name in the same domain : {name}.", kind=ErrorKind.CONFLICT)
            row = ProjectRow(id=uuid.uuid4().hex, name=name, domain_id=domain_id,
                             description=description, enabled=True)
            s.add(row)
            return project_of(row)

    def get_project(self, ref: NameRef) -> Project:
        """The project named by ``ref``; NotFound otherwise."""
        with self._db.transaction() as s:
            return project_of(find_project_row(s, ref))

    def list_projects(self, name: str | None = None,
                      ids: frozenset[str] | None = None) -> tuple[Project, ...]:
        """Projects, optionally by exact name and/or limited to ``ids``."""
        with self._db.transaction() as s:
            query = select(ProjectRow).order_by(ProjectRow.name)
            if name is not None:
                query = query.where(ProjectRow.name == name)
            if ids is not None:
                query = query.where(ProjectRow.id.in_(ids))
            return tuple(project_of(r) for r in s.scalars(query))

    def delete_project(self, project_id: str) -> None:
        """Delete the project (its role assignments go with it); NotFound if unknown."""
        with self._db.transaction() as s:
            row = find_project_row(s, NameRef(id=project_id))
            s.delete(row)
            self._tokens.note_change(s)

    def create_user(self, name: str, password: str, domain_id: str = DEFAULT_DOMAIN_ID,
                    default_project_id: str | None = None) -> User:
        """A new user with a hashed password; Conflict when the name is taken."""
        with self._db.transaction() as s:
            if s.scalar(select(UserRow.id).where(UserRow.name == name,
                                                 UserRow.domain_id == domain_id)):
                raise Conflict(f"Conflict occurred attempting to store user - Duplicate "
                               f"entry found with name {name} at domain ID {domain_id}.",
                               kind=ErrorKind.CONFLICT)
            if default_project_id is not None:
                find_project_row(s, NameRef(id=default_project_id))
            row = UserRow(id=uuid.uuid4().hex, name=name, domain_id=domain_id,
                          password_hash=hash_password(password), enabled=True,
                          default_project_id=default_project_id)
            s.add(row)
            return user_of(row)

    def set_password(self, user_id: str, password: str) -> None:
        """Store a new (hashed) password for the user; NotFound if unknown."""
        with self._db.transaction() as s:
            find_user_row(s, NameRef(id=user_id)).password_hash = hash_password(password)
            self._tokens.note_change(s)

    def get_user(self, ref: NameRef) -> User:
        """The user named by ``ref``; NotFound otherwise."""
        with self._db.transaction() as s:
            return user_of(find_user_row(s, ref))

    def list_users(self, name: str | None = None) -> tuple[User, ...]:
        """Every user by name, optionally only those named exactly ``name``."""
        with self._db.transaction() as s:
            query = select(UserRow).order_by(UserRow.name)
            if name is not None:
                query = query.where(UserRow.name == name)
            return tuple(user_of(r) for r in s.scalars(query))

    def delete_user(self, user_id: str) -> None:
        """Delete the user (their tokens and assignments go with them); NotFound if unknown."""
        with self._db.transaction() as s:
            s.delete(find_user_row(s, NameRef(id=user_id)))
            self._tokens.note_change(s)
