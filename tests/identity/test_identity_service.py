"""The identity service over a real database: bootstrap, tokens, expiry, revocation, roles."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sriovstack.clock import FakeClock
from sriovstack.db import Database
from sriovstack.db.models.identity import TokenRow
from sriovstack.errors import Conflict, Forbidden, NotFound, Unauthorized
from sriovstack.identity import (Caller, IdentityService, NameRef, PasswordAuth, RoleName,
                                 TokenAuth)


@pytest.fixture
def identity(database: Database, clock: FakeClock) -> IdentityService:
    service = IdentityService(database, clock, timedelta(hours=1))
    service.bootstrap("admin-pw", demo_password="demo-pw", service_users={"agent": "agent-pw"})
    return service


def _login(user: str, password: str) -> PasswordAuth:
    return PasswordAuth(NameRef(name=user, domain_name="Default"), password)


def _project(name: str) -> NameRef:
    return NameRef(name=name, domain_name="Default")


# Keystone's implied roles: admin ⇒ member ⇒ reader; service stands alone.
@pytest.mark.parametrize("user, password, project, roles", [
    ("admin", "admin-pw", "admin", {"admin", "member", "reader"}),
    ("demo", "demo-pw", "demo", {"member", "reader"}),
    ("agent", "agent-pw", "service", {"service"}),
])
def test_bootstrap_users_get_their_roles(identity: IdentityService, user: str, password: str,
                                         project: str, roles: set[str]) -> None:
    issued = identity.tokens.issue(_login(user, password), _project(project))
    assert issued.token.role_names == roles
    assert issued.token.project is not None and issued.token.project.name == project


def test_bootstrap_twice_keeps_ids_and_sets_passwords(identity: IdentityService) -> None:
    first = identity.directory.get_user(NameRef(name="admin", domain_id="default"))
    again = identity.bootstrap("new-pw")
    assert again.admin.id == first.id
    with pytest.raises(Unauthorized):
        identity.tokens.issue(_login("admin", "admin-pw"), None)
    assert identity.tokens.issue(_login("admin", "new-pw"), None).token.user.id == first.id


@pytest.mark.parametrize("user, password, project", [
    ("admin", "wrong", "admin"),          # wrong password
    ("nobody", "admin-pw", "admin"),      # unknown user
    ("demo", "demo-pw", "admin"),         # no role on the project
    ("demo", "demo-pw", "no-such"),       # unknown project
])
def test_bad_credentials_or_scope_are_unauthorized(identity: IdentityService, user: str,
                                                   password: str, project: str) -> None:
    with pytest.raises(Unauthorized):
        identity.tokens.issue(_login(user, password), _project(project))


def test_token_by_ids_and_unscoped(identity: IdentityService) -> None:
    admin = identity.directory.get_user(NameRef(name="admin", domain_id="default"))
    demo = identity.directory.get_project(NameRef(name="demo", domain_id="default"))
    identity.access.grant(admin.id, demo.id, identity.access.list_roles("member")[0].id)
    scoped = identity.tokens.issue(PasswordAuth(NameRef(id=admin.id), "admin-pw"),
                                   NameRef(id=demo.id))
    assert scoped.token.project == demo
    unscoped = identity.tokens.issue(_login("admin", "admin-pw"), None)
    assert unscoped.token.project is None and unscoped.token.roles == ()


def test_token_expires_after_its_lifetime(identity: IdentityService, clock: FakeClock) -> None:
    issued = identity.tokens.issue(_login("demo", "demo-pw"), _project("demo"))
    assert issued.token.expires_at - issued.token.issued_at == timedelta(hours=1)
    clock.advance(timedelta(minutes=59))
    assert identity.tokens.validate(issued.secret).id == issued.token.id
    clock.advance(timedelta(minutes=1))
    with pytest.raises(Unauthorized, match="expired"):
        identity.tokens.validate(issued.secret)


def test_revoked_token_is_invalid(identity: IdentityService) -> None:
    issued = identity.tokens.issue(_login("demo", "demo-pw"), _project("demo"))
    caller = Caller(issued.token.user.id, issued.token.project.id)  # type: ignore[union-attr]
    identity.tokens.revoke(caller, issued.secret)
    with pytest.raises(Unauthorized):
        identity.tokens.validate(issued.secret)
    with pytest.raises(NotFound):
        identity.tokens.revoke(caller, issued.secret)


def test_rescoping_keeps_the_audit_chain(identity: IdentityService) -> None:
    unscoped = identity.tokens.issue(_login("demo", "demo-pw"), None)
    scoped = identity.tokens.issue(TokenAuth(unscoped.secret), _project("demo"))
    assert scoped.token.methods == ("token",)
    assert scoped.token.audit_id == unscoped.token.audit_id
    assert scoped.token.project is not None and scoped.token.project.name == "demo"


def test_only_privileged_callers_inspect_others_tokens(identity: IdentityService) -> None:
    admin = identity.tokens.issue(_login("admin", "admin-pw"), _project("admin")).token
    demo = identity.tokens.issue(_login("demo", "demo-pw"), _project("demo"))
    other = identity.tokens.issue(_login("agent", "agent-pw"), _project("service"))
    demo_caller = Caller(demo.token.user.id, demo.token.project.id)  # type: ignore[union-attr]
    with pytest.raises(Forbidden):
        identity.tokens.inspect(demo_caller, other.secret)
    assert identity.tokens.inspect(demo_caller, demo.secret).id == demo.token.id
    admin_caller = Caller(admin.user.id, admin.project.id, is_admin=True)  # type: ignore[union-attr]
    assert identity.tokens.inspect(admin_caller, other.secret).id == other.token.id


def test_only_a_hash_of_the_secret_is_stored(identity: IdentityService, database: Database) -> None:
    issued = identity.tokens.issue(_login("demo", "demo-pw"), None)
    with database.transaction() as s:
        stored = s.scalars(select(TokenRow.secret_hash)).all()
    assert issued.secret not in stored and len(stored) == 1


def test_duplicate_names_conflict(identity: IdentityService) -> None:
    with pytest.raises(Conflict):
        identity.directory.create_project("demo")
    with pytest.raises(Conflict):
        identity.directory.create_user("demo", "pw")


def test_disabled_or_deleted_user_loses_access(identity: IdentityService) -> None:
    user = identity.directory.create_user("temp", "pw")
    project = identity.directory.create_project("temp")
    identity.access.grant(user.id, project.id, identity.access.list_roles(
        RoleName.MEMBER.value)[0].id)
    issued = identity.tokens.issue(_login("temp", "pw"), _project("temp"))
    identity.directory.delete_user(user.id)
    with pytest.raises(Unauthorized):
        identity.tokens.validate(issued.secret)


def test_purge_drops_expired_and_revoked(identity: IdentityService, clock: FakeClock) -> None:
    identity.tokens.issue(_login("demo", "demo-pw"), None)
    clock.advance(timedelta(hours=2))
    fresh = identity.tokens.issue(_login("demo", "demo-pw"), None)
    assert identity.tokens.purge_expired() == 1
    assert identity.tokens.validate(fresh.secret).id == fresh.token.id


def test_access_follows_grants_and_revokes(identity: IdentityService) -> None:
    user = identity.directory.create_user("visitor", "pw")
    project = identity.directory.create_project("lab")
    member = identity.access.list_roles(RoleName.MEMBER.value)[0]
    caller = Caller(user.id, None)
    assert identity.access.visible_projects(caller) == ()
    with pytest.raises(Forbidden):
        identity.access.show_project(caller, project.id)
    identity.access.grant(user.id, project.id, member.id)
    identity.access.grant(user.id, project.id, member.id)  # idempotent
    assert identity.access.visible_projects(caller) == (project,)
    assert identity.access.show_project(caller, project.id) == project
    assert [a.role for a in identity.access.assignments(user_id=user.id)] == [member]
    identity.access.revoke(user.id, project.id, member.id)
    assert identity.access.projects_of(user.id) == ()
    with pytest.raises(NotFound):
        identity.access.revoke(user.id, project.id, member.id)
    with pytest.raises(NotFound):
        identity.access.grant(user.id, project.id, "no-such-role")


def test_a_rescoped_token_never_outlives_its_parent(identity: IdentityService,
                                                    clock: FakeClock) -> None:
    """Issue 10, finding 3: rescoping a token about to expire gave another full hour."""
    parent = identity.tokens.issue(_login("demo", "demo-pw"), None)
    clock.advance(timedelta(minutes=59).total_seconds())
    child = identity.tokens.issue(TokenAuth(parent.secret), _project("demo"))
    assert child.token.expires_at == parent.token.expires_at
    grandchild = identity.tokens.issue(TokenAuth(child.secret), _project("demo"))
    assert grandchild.token.expires_at == parent.token.expires_at
    clock.advance(61)
    for secret in (parent.secret, child.secret, grandchild.secret):
        with pytest.raises(Unauthorized):
            identity.tokens.validate(secret)


def test_revoking_a_token_revokes_the_tokens_made_from_it(identity: IdentityService) -> None:
    root = identity.tokens.issue(_login("demo", "demo-pw"), None)
    child = identity.tokens.issue(TokenAuth(root.secret), _project("demo"))
    grandchild = identity.tokens.issue(TokenAuth(child.secret), _project("demo"))
    sibling = identity.tokens.issue(TokenAuth(root.secret), _project("demo"))
    caller = Caller(child.token.user.id, child.token.project.id)  # type: ignore[union-attr]
    identity.tokens.revoke(caller, child.secret)
    for secret in (child.secret, grandchild.secret):
        with pytest.raises(Unauthorized):
            identity.tokens.validate(secret)
    assert identity.tokens.validate(root.secret).id == root.token.id  # its parent stays
    assert identity.tokens.validate(sibling.secret).id == sibling.token.id
    identity.tokens.revoke(caller, root.secret)
    with pytest.raises(Unauthorized):
        identity.tokens.validate(sibling.secret)
