"""Identity access: roles, who holds which role on which project, and the projects a caller
may see through those role assignments."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from sriovstack.db import Database
from sriovstack.db.models import DomainRow, ProjectRow, RoleAssignmentRow, RoleRow, UserRow
from sriovstack.errors import ErrorKind, NotFound
from sriovstack.identity import policy
from sriovstack.identity.directory import (Directory, domain_of, find_project_row,
                                           find_user_row, project_of, role_of)
from sriovstack.identity.token_cache import TokenCache
from sriovstack.identity.values import (AssignmentNames, Caller, NameRef, Project, Role,
                                        RoleAssignment)

__all__ = ["Access"]


class Access:
    """Roles and their assignments in the database; every method is one transaction.

    Projects and users themselves belong to ``directory``; this class only says who holds
    what on them (keystone's assignment backend, beside its identity and resource backends).
    """

    def __init__(self, db: Database, directory: Directory, tokens: TokenCache) -> None:
        self._db = db
        self._directory = directory
        self._tokens = tokens  # a granted or revoked role changes what cached tokens say

    def ensure_role(self, name: str) -> Role:
        """The role with this name, created when missing."""
        with self._db.transaction() as s:
            row = s.scalar(select(RoleRow).where(RoleRow.name == name))
            if row is None:
                row = RoleRow(id=uuid.uuid4().hex, name=name)
                s.add(row)
            return role_of(row)

    def get_role(self, role_id: str) -> Role:
        """The role with this id; NotFound otherwise."""
        with self._db.transaction() as s:
            row = s.get(RoleRow, role_id)
            if row is None:
                raise NotFound(f"Could not find role: {role_id}.", kind=ErrorKind.ROLE_NOT_FOUND)
            return role_of(row)

    def list_roles(self, name: str | None = None) -> tuple[Role, ...]:
        """Every role by name, optionally only the one with exactly ``name``."""
        with self._db.transaction() as s:
            query = select(RoleRow).order_by(RoleRow.name)
            if name is not None:
                query = query.where(RoleRow.name == name)
            return tuple(role_of(r) for r in s.scalars(query))

    def grant(self, user_id: str, project_id: str, role_id: str) -> RoleAssignment:
        """Give ``user_id`` the role ``role_id`` on the project (idempotent); NotFound for an
        unknown user, project or role."""
        with self._db.transaction() as s:
            find_user_row(s, NameRef(id=user_id))
            find_project_row(s, NameRef(id=project_id))
            role = s.get(RoleRow, role_id)
            if role is None:
                raise NotFound(f"Could not find role: {role_id}.", kind=ErrorKind.ROLE_NOT_FOUND)
            key = {"user_id": user_id, "project_id": project_id, "role_id": role.id}
            if s.get(RoleAssignmentRow, key) is None:
                s.add(RoleAssignmentRow(**key))
                self._tokens.note_change(s)
            return RoleAssignment(user_id, project_id, role_of(role))

    def revoke(self, user_id: str, project_id: str, role_id: str) -> None:
        """Remove one assignment; NotFound when it does not exist."""
        with self._db.transaction() as s:
            result = s.execute(delete(RoleAssignmentRow).where(
                RoleAssignmentRow.user_id == user_id, RoleAssignmentRow.project_id == project_id,
                RoleAssignmentRow.role_id == role_id))
            self._tokens.note_change(s)
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"Could not find role assignment: {role_id} for user "
                               f"{user_id} on project {project_id}.",
                               kind=ErrorKind.ROLE_ASSIGNMENT_NOT_FOUND)

    def assignments(self, user_id: str | None = None, project_id: str | None = None,
                    role_id: str | None = None, *,
                    include_names: bool = False) -> tuple[RoleAssignment, ...]:
        """Role assignments, filtered by user, project and/or role; with ``include_names``
        each carries its user's and project's names and domains (keystone's include_names)."""
        with self._db.transaction() as s:
            query = select(RoleAssignmentRow, RoleRow).join(
                RoleRow, RoleRow.id == RoleAssignmentRow.role_id).order_by(
                RoleAssignmentRow.project_id, RoleAssignmentRow.user_id, RoleRow.name)
            if user_id is not None:
                query = query.where(RoleAssignmentRow.user_id == user_id)
            if project_id is not None:
                query = query.where(RoleAssignmentRow.project_id == project_id)
            if role_id is not None:
                query = query.where(RoleAssignmentRow.role_id == role_id)
            rows = s.execute(query).all()
            if not include_names:
                return tuple(RoleAssignment(a.user_id, a.project_id, role_of(r))
                             for a, r in rows)
            domains = {d.id: domain_of(d) for d in s.scalars(select(DomainRow))}
            users = {u.id: u for u in s.scalars(select(UserRow).where(
                UserRow.id.in_({a.user_id for a, _ in rows})))}
            projects = {p.id: p for p in s.scalars(select(ProjectRow).where(
                ProjectRow.id.in_({a.project_id for a, _ in rows})))}
            return tuple(RoleAssignment(a.user_id, a.project_id, role_of(r), AssignmentNames(
                users[a.user_id].name, domains[users[a.user_id].domain_id],
                projects[a.project_id].name, domains[projects[a.project_id].domain_id]))
                for a, r in rows)

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
        if policy.is_privileged(caller):
            return self._directory.list_projects(name)
        return self.projects_of(caller.user_id, name)

    def show_project(self, caller: Caller, project_id: str) -> Project:
        """One project; NotFound if unknown; Forbidden unless the caller is privileged or
        holds a role on it."""
        project = self._directory.get_project(NameRef(id=project_id))
        if policy.is_privileged(caller) or project in self.projects_of(caller.user_id):
            return project
        raise policy.denied(f"You are not authorized to see project {project_id}.")
