"""The authorization rules as one table: each rule against each kind of caller.

Callers are built from tokens the way the API builds them (policy.caller_of), so the table
also pins which roles make a caller admin, service or reader-only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from sriovstack.errors import ErrorKind, Forbidden
from sriovstack.identity import Caller, Domain, Project, Role, RoleName, Token, User, policy

_NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
_DOMAIN = Domain("default", "Default")


def _token(roles: tuple[RoleName, ...], project: str | None = "p-own") -> Token:
    scope = Project(project, project, _DOMAIN.id) if project else None
    return Token("t", User("u-1", "someone", _DOMAIN.id), _DOMAIN, scope,
                 _DOMAIN if scope else None, tuple(Role(f"r-{r}", r) for r in roles),
                 ("password",), "audit", _NOW, _NOW)


# Keystone's implied roles as bootstrap assigns them: admin carries member and reader.
CALLERS: dict[str, Caller] = {
    "admin": policy.caller_of(_token((RoleName.ADMIN, RoleName.MEMBER, RoleName.READER))),
    "member": policy.caller_of(_token((RoleName.MEMBER, RoleName.READER))),
    "reader": policy.caller_of(_token((RoleName.READER,))),
    "service": policy.caller_of(_token((RoleName.SERVICE,))),
    "unscoped member": policy.caller_of(_token((RoleName.MEMBER,), project=None)),
    "no role": policy.caller_of(_token(())),
}


@pytest.mark.parametrize("who, expected", [
    ("admin", Caller("u-1", "p-own", is_admin=True)),
    ("member", Caller("u-1", "p-own")),
    ("reader", Caller("u-1", "p-own", is_reader_only=True)),
    ("service", Caller("u-1", "p-own", is_service=True)),
    ("unscoped member", Caller("u-1", None)),
    ("no role", Caller("u-1", "p-own", is_reader_only=True)),
])
def test_a_token_becomes_its_caller(who: str, expected: Caller) -> None:
    assert CALLERS[who] == expected


_RULES: dict[str, Callable[[Caller], object]] = {
    "is_privileged": policy.is_privileged,
    "in_scope(own)": lambda c: policy.in_scope(c, "p-own"),
    "in_scope(other)": lambda c: policy.in_scope(c, "p-other"),
    "require_admin": lambda c: policy.require_admin(c, "it"),
    "require_privileged": lambda c: policy.require_privileged(c, "it is admin only"),
    "require_service": lambda c: policy.require_service(c, "it"),
    "require_writer": lambda c: policy.require_writer(c, "it"),
    "require_project_scope": lambda c: policy.require_project_scope(c, "it"),
    "owner_of(none)": lambda c: policy.owner_of(c, None),
    "owner_of(own)": lambda c: policy.owner_of(c, "p-own"),
    "owner_of(other)": lambda c: policy.owner_of(c, "p-other"),
}

# What each rule answers for each caller: True/False for predicates, the returned project,
# None for a check that passes, "403" where it raises Forbidden.
_COLUMNS = ("admin", "member", "reader", "service", "unscoped member")
TABLE: dict[str, tuple[object, ...]] = {
    "is_privileged":         (True, False, False, True, False),
    "in_scope(own)":         (True, True, True, True, False),
    "in_scope(other)":       (True, False, False, True, False),
    "require_admin":         (None, "403", "403", "403", "403"),
    "require_privileged":    (None, "403", "403", None, "403"),
    "require_service":       ("403", "403", "403", None, "403"),
    "require_writer":        (None, None, "403", None, None),
    "require_project_scope": ("p-own", "p-own", "p-own", "p-own", "403"),
    "owner_of(none)":        ("p-own", "p-own", "p-own", "p-own", "403"),
    "owner_of(own)":         ("p-own", "p-own", "p-own", "p-own", "403"),
    "owner_of(other)":       ("p-other", "403", "403", "p-other", "403"),
}


def _outcome(rule: Callable[[Caller], object], caller: Caller) -> object:
    try:
        return rule(caller)
    except Forbidden as err:
        assert err.kind is ErrorKind.POLICY_NOT_AUTHORIZED
        return "403"


@pytest.mark.parametrize("rule", sorted(TABLE))
@pytest.mark.parametrize("who", _COLUMNS)
def test_the_rule_table(rule: str, who: str) -> None:
    assert _outcome(_RULES[rule], CALLERS[who]) == TABLE[rule][_COLUMNS.index(who)]


@pytest.mark.parametrize("rule, message", [
    (lambda c: policy.require_admin(c, "listing users"), "listing users is admin only"),
    (lambda c: policy.require_service(c, "the internal agent API"),
     "the internal agent API is for service users (role 'service') only"),
    (lambda c: policy.require_writer(c, "creating ports"),
     "creating ports needs the member role; the reader role may only read"),
    (lambda c: policy.require_project_scope(Caller("u", None), "creating a server"),
     "creating a server needs a project-scoped token"),
    (lambda c: policy.owner_of(c, "p-other"),
     "creating a resource for another project is admin only"),
])
def test_refusals_name_what_was_refused(rule: Callable[[Caller], object], message: str) -> None:
    with pytest.raises(Forbidden) as err:
        rule(CALLERS["reader"])
    assert err.value.message == message
