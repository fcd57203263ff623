"""Password hashing: salted scrypt, constant-time verification, malformed hashes refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from sriovstack.identity import passwords
from sriovstack.identity.passwords import DEFAULT_COST, hash_password, verify_password


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


def test_the_service_hashes_at_rfc_7914s_interactive_cost_and_verifies_any_stored_cost() -> None:
    assert (DEFAULT_COST.n, DEFAULT_COST.r, DEFAULT_COST.p) == (2**14, 8, 1)
    stored = hash_password("pw", DEFAULT_COST)
    assert stored.startswith("scrypt$16384$8$1$") and verify_password("pw", stored)
    # the in-process tests hash at a lower cost (tests/conftest.py); the cost is in the hash
    cheap = hash_password("pw")
    assert cheap.split("$")[1] == str(passwords.COST.n) and verify_password("pw", cheap)
