"""The identity directory: domains, projects, users, roles and role assignments in the database."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sriovstack.db import Database
from sriovstack.db.models.identity import (DomainRow, ProjectRow, RoleAssignmentRow, RoleRow,
                                           UserRow)
from sriovstack.errors import Conflict, Forbidden, NotFound
from sriovstack.identity.passwords import hash_password
from sriovstack.identity.values import (DEFAULT_DOMAIN_ID, Caller, Domain, NameRef, Project, Role,
                                        RoleAssignment, User)

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
            raise NotFound(f"Could not find domain: {ref.domain_name}.", kind="DomainNotFound")
        return row.id
    raise NotFound(f"{what} {ref.name!r} needs a domain (domain.id or domain.name)",
                   kind="ValidationError")


def find_user_row(session: Session, ref: NameRef) -> UserRow:
    """The user named by id, or by name within a domain; NotFound otherwise."""
    if ref.id:
        row = session.get(UserRow, ref.id)
    else:
        domain_id = _domain_id(session, ref, "user")
        row = session.scalar(select(UserRow).where(UserRow.name == ref.name,
                                                   UserRow.domain_id == domain_id))
    if row is None:
        raise NotFound(f"Could not find user: {ref.id or ref.name}.", kind="UserNotFound")
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
        raise NotFound(f"Could not find project: {ref.id or ref.name}.", kind="ProjectNotFound")
    return row


class Directory:
    """Reads and changes the identity directory; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def ensure_domain(self, domain_id: str, name: str) -> Domain:
        """The domain with this id, created when missing."""
        with self._db.transaction() as s:
            row = s.get(DomainRow, domain_id)
            if row is None:
                row = DomainRow(id=domain_id, name=name, description="", enabled=True)
                s.add(row)
            return domain_of(row)

    def ensure_role(self, name: str) -> Role:
        """The role with this name, created when missing."""
        with self._db.transaction() as s:
            row = s.scalar(select(RoleRow).where(RoleRow.name == name))
            if row is None:
                row = RoleRow(id=uuid.uuid4().hex, name=name)
                s.add(row)
            return role_of(row)

    def list_roles(self, name: str | None = None) -> tuple[Role, ...]:
        with self._db.transaction() as s:
            query = select(RoleRow).order_by(RoleRow.name)
            if name is not None:
                query = query.where(RoleRow.name == name)
            return tuple(role_of(r) for r in s.scalars(query))

    def create_project(self, name: str, domain_id: str = DEFAULT_DOMAIN_ID,
                       description: str = "") -> Project:
        """A new project; Conflict when the name is taken in the domain."""
        with self._db.transaction() as s:
            if s.get(DomainRow, domain_id) is None:
                raise NotFound(f"Could not find domain: {domain_id}.", kind="DomainNotFound")
            if s.scalar(select(ProjectRow.id).where(ProjectRow.name == name,
                                                    ProjectRow.domain_id == domain_id)):
                raise Conflict(f"Conflict occurred attempting to store project - "
                               f"it is not permitted to have two projects with the same "
                               f"name in the same domain : {name}.", kind="Conflict")
            row = ProjectRow(id=uuid.uuid4().hex, name=name, domain_id=domain_id,
                             description=description, enabled=True)
            s.add(row)
            return project_of(row)

    def get_project(self, ref: NameRef) -> Project:
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

    def projects_of(self, user_id: str, name: str | None = None) -> tuple[Project, ...]:
        """The projects ``user_id`` holds any role on (optionally by exact name)."""
        with self._db.transaction() as s:
            query = select(ProjectRow).where(ProjectRow.id.in_(
                select(RoleAssignmentRow.project_id).where(RoleAssignmentRow.user_id == user_id)
            )).order_by(ProjectRow.name)
            if name is not None:
                query = query.where(ProjectRow.name == name)
            return tuple(project_of(r) for r in s.scalars(query))

    def visible_projects(self, caller: Caller, name: str | None = None) -> tuple[Project, ...]:
        """Every project for admins and services; the caller's own projects otherwise."""
        if caller.is_privileged:
            return self.list_projects(name)
        return self.projects_of(caller.user_id, name)

    def show_project(self, caller: Caller, project_id: str) -> Project:
        """One project; Forbidden unless the caller is privileged or holds a role on it."""
        project = self.get_project(NameRef(id=project_id))
        if caller.is_privileged or project in self.projects_of(caller.user_id):
            return project
        raise Forbidden(f"You are not authorized to see project {project_id}.",
                        kind="PolicyNotAuthorized")

    def delete_project(self, project_id: str) -> None:
        with self._db.transaction() as s:
            row = find_project_row(s, NameRef(id=project_id))
            s.delete(row)

    def create_user(self, name: str, password: str, domain_id: str = DEFAULT_DOMAIN_ID,
                    default_project_id: str | None = None) -> User:
        """A new user with a hashed password; Conflict when the name is taken."""
        with self._db.transaction() as s:
            if s.scalar(select(UserRow.id).where(UserRow.name == name,
                                                 UserRow.domain_id == domain_id)):
                raise Conflict(f"Conflict occurred attempting to store user - Duplicate "
                               f"entry found with name {name} at domain ID {domain_id}.",
                               kind="Conflict")
            if default_project_id is not None:
                find_project_row(s, NameRef(id=default_project_id))
            row = UserRow(id=uuid.uuid4().hex, name=name, domain_id=domain_id,
                          password_hash=hash_password(password), enabled=True,
                          default_project_id=default_project_id)
            s.add(row)
            return user_of(row)

    def set_password(self, user_id: str, password: str) -> None:
        with self._db.transaction() as s:
            find_user_row(s, NameRef(id=user_id)).password_hash = hash_password(password)

    def get_user(self, ref: NameRef) -> User:
        with self._db.transaction() as s:
            return user_of(find_user_row(s, ref))

    def list_users(self, name: str | None = None) -> tuple[User, ...]:
        with self._db.transaction() as s:
            query = select(UserRow).order_by(UserRow.name)
            if name is not None:
                query = query.where(UserRow.name == name)
            return tuple(user_of(r) for r in s.scalars(query))

    def delete_user(self, user_id: str) -> None:
        with self._db.transaction() as s:
            s.delete(find_user_row(s, NameRef(id=user_id)))

    def grant(self, user_id: str, project_id: str, role_id: str) -> RoleAssignment:
        """Give ``user_id`` the role ``role_id`` on the project (idempotent)."""
        with self._db.transaction() as s:
            find_user_row(s, NameRef(id=user_id))
            find_project_row(s, NameRef(id=project_id))
            role = s.get(RoleRow, role_id)
            if role is None:
                raise NotFound(f"Could not find role: {role_id}.", kind="RoleNotFound")
            key = {"user_id": user_id, "project_id": project_id, "role_id": role.id}
            if s.get(RoleAssignmentRow, key) is None:
                s.add(RoleAssignmentRow(**key))
            return RoleAssignment(user_id, project_id, role_of(role))

    def get_role(self, role_id: str) -> Role:
        with self._db.transaction() as s:
            row = s.get(RoleRow, role_id)
            if row is None:
                raise NotFound(f"Could not find role: {role_id}.", kind="RoleNotFound")
            return role_of(row)

    def revoke(self, user_id: str, project_id: str, role_id: str) -> None:
        """Remove one assignment; NotFound when it does not exist."""
        with self._db.transaction() as s:
            result = s.execute(delete(RoleAssignmentRow).where(
                RoleAssignmentRow.user_id == user_id, RoleAssignmentRow.project_id == project_id,
                RoleAssignmentRow.role_id == role_id))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"Could not find role assignment: {role_id} for user "
                               f"{user_id} on project {project_id}.", kind="RoleAssignmentNotFound")

    def assignments(self, user_id: str | None = None,
                    project_id: str | None = None) -> tuple[RoleAssignment, ...]:
        """Role assignments, filtered by user and/or project."""
        with self._db.transaction() as s:
            query = select(RoleAssignmentRow, RoleRow).join(
                RoleRow, RoleRow.id == RoleAssignmentRow.role_id)
            if user_id is not None:
                query = query.where(RoleAssignmentRow.user_id == user_id)
            if project_id is not None:
                query = query.where(RoleAssignmentRow.project_id == project_id)
            return tuple(RoleAssignment(a.user_id, a.project_id, role_of(r))
                         for a, r in s.execute(query))
