"""Password hashing with scrypt and a per-password salt; verification in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = ["DEFAULT_COST", "ScryptCost", "hash_password", "verify_password"]


@dataclass(frozen=True, slots=True)
class ScryptCost:
    """scrypt's work factor ``n`` (a power of two), block size ``r`` and parallelism ``p``."""

    n: int
    r: int
    p: int


# RFC 7914's interactive-login figure: 16 MiB of memory, about 40 ms here.
DEFAULT_COST = ScryptCost(n=2**14, r=8, p=1)
# What new hashes are made with. A stored hash carries its own cost, so verification never
# reads this: the in-process tests lower it (tests/conftest.py), where every test bootstraps
# three users and logs each of them in.
COST = DEFAULT_COST
_LEN = 32
_SCHEME = "scrypt"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=_LEN,
                          maxmem=64 * 1024 * 1024)


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    """Return ``scrypt$n$r$p$salt$hash`` (base64) for storage, at ``cost`` (default COST)."""
    c = cost or COST
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, c.n, c.r, c.p)
    b64 = base64.b64encode
    return f"{_SCHEME}${c.n}${c.r}${c.p}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a value from hash_password (False for a malformed one)."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p), digest)
