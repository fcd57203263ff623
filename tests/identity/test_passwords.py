"""Password hashing: salted scrypt, constant-time verification, malformed hashes refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from sriovstack.identity.passwords import hash_password, verify_password


@settings(max_examples=8, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_only_the_same_password_verifies(password: str, other: str) -> None:
    stored = hash_password(password)
    assert verify_password(password, stored)
    assert verify_password(other, stored) == (other == password)


def test_the_plain_password_is_not_stored() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("scrypt$") and "horse" not in stored


def test_each_hash_has_its_own_salt() -> None:
    assert hash_password("same") != hash_password("same")


@pytest.mark.parametrize("stored", ["", "plain-text", "scrypt$1$2$3$x", "md5$1$1$1$AA==$AA==",
                                    "scrypt$x$8$1$AA==$AA==", "scrypt$16384$8$1$!!$AA=="])
def test_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)
