"""Key pairs (nova's os-keypairs): per user, generated or imported, and the public key a new
server takes with it to its guest."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sriovstack.clock import Clock
from sriovstack.compute.keygen import KEY_TYPES, generate_key, read_public_key
from sriovstack.db import Database
from sriovstack.db.models import KeyPairRow
from sriovstack.errors import Conflict, ErrorKind, Invalid, NotFound, WriteConflict
from sriovstack.identity import Caller, policy

__all__ = ["Keypair", "KeypairCreate", "KeypairQuery", "KeypairService"]

# nova (pre-2.92): a key pair name is 1-255 of letters, digits, '_', '-' and ' '.
_SAFE = frozenset("_- " + string.digits + string.ascii_letters)
# ``public_key_for``'s read (a server create that names a key), built once.
_K = KeyPairRow.__table__.c
_PUBLIC_KEY = select(_K.public_key).where(_K.user_id == bindparam("user"),
                                          _K.name == bindparam("name"))


@dataclass(frozen=True, slots=True)
class Keypair:
    """One stored key pair; ``private_key`` only in the answer to the create that made it."""

    id: int
    name: str
    user_id: str
    fingerprint: str
    public_key: str
    type: str
    created_at: datetime
    private_key: str | None = None


@dataclass(frozen=True, slots=True)
class KeypairCreate:
    """POST os-keypairs: no ``public_key`` means generate one; ``user_id`` None: the caller."""

    name: str
    type: str = "ssh"
    public_key: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class KeypairQuery:
    """GET os-keypairs: whose (None: the caller's), and nova's 2.35 paging."""

    user_id: str | None = None
    limit: int | None = None
    marker: str | None = None


def _to_keypair(row: KeyPairRow, private_key: str | None = None) -> Keypair:
    return Keypair(id=row.id, name=row.name, user_id=row.user_id, fingerprint=row.fingerprint,
                   public_key=row.public_key, type=row.type, created_at=row.created_at,
                   private_key=private_key)


def _not_found(name: str, user_id: str) -> NotFound:
    return NotFound(f"Keypair {name} not found for user {user_id}",
                    kind=ErrorKind.KEYPAIR_NOT_FOUND, field="keypair_name", value=name)


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 255:
        raise Invalid("Keypair data is invalid: Keypair name must be string and between 1 "
                      "and 255 characters long", kind=ErrorKind.INVALID_KEYPAIR, field="name",
                      value=name)
    if not set(name) <= _SAFE:
        raise Invalid("Keypair data is invalid: Keypair name contains unsafe characters",
                      kind=ErrorKind.INVALID_KEYPAIR, field="name", value=name,
                      fix="use letters, digits, '_', '-' and spaces")


class KeypairService:
    """Each user's key pairs; admins may act for another user (nova's default policy)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def _owner(self, caller: Caller, user_id: str | None, action: str) -> str:
        owner = user_id or caller.user_id
        policy.require_self_or_admin(caller, owner, f"os_compute_api:os-keypairs:{action}")
        return owner

    def create(self, caller: Caller, spec: KeypairCreate) -> Keypair:
        """Generate or import a key pair. Raises Forbidden (another user, not admin),
        Invalid (InvalidKeypair: a bad name, type or public key), Conflict (KeyPairExists)."""
        owner = self._owner(caller, spec.user_id, "create")
        _check_name(spec.name)
        if spec.type not in KEY_TYPES:
            raise Invalid(f"Invalid input for field/attribute type. Value: {spec.type}. "
                          f"'{spec.type}' is not one of {list(KEY_TYPES)}", field="type",
                          value=spec.type)
        material = generate_key(spec.type, owner) if spec.public_key is None \
            else read_public_key(spec.type, spec.public_key)
        row = KeyPairRow(name=spec.name, user_id=owner, fingerprint=material.fingerprint,
                         public_key=material.public_key, type=spec.type,
                         created_at=self._clock.now())
        try:
            with self._db.transaction() as session:
                if session.scalar(select(KeyPairRow.id).where(
                        KeyPairRow.user_id == owner, KeyPairRow.name == spec.name)) is not None:
                    raise _exists(spec.name)
                session.add(row)
                session.flush()
                return _to_keypair(row, material.private_key)
        except WriteConflict as exc:  # a concurrent create of the same name won
            raise _exists(spec.name) from exc

    def list(self, caller: Caller, query: KeypairQuery = KeypairQuery()) -> tuple[Keypair, ...]:
        """The user's key pairs by name, after ``marker`` (a name: Invalid when unknown,
        nova's "marker [x] not found"), at most ``limit``."""
        owner = self._owner(caller, query.user_id, "index")
        with self._db.transaction() as session:
            rows = [_to_keypair(r) for r in session.scalars(
                select(KeyPairRow).where(KeyPairRow.user_id == owner).order_by(KeyPairRow.name))]
        if query.marker is not None:
            names = [k.name for k in rows]
            if query.marker not in names:
                raise Invalid(f"marker [{query.marker}] not found", field="marker",
                              value=query.marker)
            rows = rows[names.index(query.marker) + 1:]
        return tuple(rows if query.limit is None else rows[:query.limit])

    def get(self, caller: Caller, name: str, user_id: str | None = None) -> Keypair:
        """The user's key pair ``name``; NotFound (KeypairNotFound) otherwise."""
        owner = self._owner(caller, user_id, "show")
        with self._db.transaction() as session:
            row = _row(session, owner, name)
            return _to_keypair(row)

    def delete(self, caller: Caller, name: str, user_id: str | None = None) -> None:
        """Delete the key pair (servers keep the key they were given); NotFound otherwise."""
        owner = self._owner(caller, user_id, "delete")
        with self._db.transaction() as session:
            session.delete(_row(session, owner, name))

    @staticmethod
    def public_key_for(session: Session, caller: Caller, name: str) -> str:
        """The public key of the caller's key pair ``name`` for a new server, read in
        ``session`` (server create's transaction); Invalid ("Invalid key_name provided.",
        nova's 400) when the caller has none by that name."""
        key = session.execute(_PUBLIC_KEY, {"user": caller.user_id, "name": name}).scalar()
        if key is None:
            raise Invalid("Invalid key_name provided.", field="key_name", value=name)
        return key


def _exists(name: str) -> Conflict:
    return Conflict(f"Key pair '{name}' already exists.", kind=ErrorKind.KEY_PAIR_EXISTS,
                    field="name", value=name)


def _row(session: Session, owner: str, name: str) -> KeyPairRow:
    row = session.scalar(select(KeyPairRow).where(KeyPairRow.user_id == owner,
                                                  KeyPairRow.name == name))
    if row is None:
        raise _not_found(name, owner)
    return row
