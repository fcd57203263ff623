"""Key material for key pairs: generating (nova: RSA 2048 for ``ssh``, a self-signed RSA
certificate for ``x509``), reading an imported public key, and nova's fingerprints."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sriovstack.errors import ErrorKind, Invalid

__all__ = ["KeyMaterial", "generate_key", "read_public_key", "KEY_TYPES"]

KEY_TYPES = ("ssh", "x509")  # nova's keypair types (2.2)
_RSA_BITS = 2048  # nova's crypto.generate_key_pair
_CERT_DAYS = 3650  # nova's generate_winrm_x509_cert: ten years


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """A public key as stored (OpenSSH line or PEM certificate), its fingerprint, and the
    private key when we generated it (returned to the user once, never stored)."""

    public_key: str
    fingerprint: str
    private_key: str | None = None


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _invalid(reason: str) -> Invalid:
    return Invalid(f"Keypair data is invalid: {reason}", kind=ErrorKind.INVALID_KEYPAIR,
                   field="public_key")


def _ssh_fingerprint(line: str) -> str:
    # nova: the MD5 of the key blob (the base64 field), colon separated.
    return _colons(hashlib.md5(base64.b64decode(line.split()[1]),
                               usedforsecurity=False).digest())


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def generate_key(key_type: str, user_id: str) -> KeyMaterial:
    """A new key pair of nova's ``key_type``: ``ssh`` an RSA key (``ssh-rsa ...
    Generated-by-Nova``), ``x509`` an RSA key with a self-signed certificate for ``user_id``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    if key_type == "x509":
        return _certificate(key, user_id)
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()
    line = f"{line} Generated-by-Nova"
    return KeyMaterial(line, _ssh_fingerprint(line), _private_pem(key))


def _certificate(key: rsa.RSAPrivateKey, user_id: str) -> KeyMaterial:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=_CERT_DAYS))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return KeyMaterial(pem, _colons(cert.fingerprint(hashes.SHA1())), _private_pem(key))


def read_public_key(key_type: str, text: str) -> KeyMaterial:
    """An imported public key checked as nova does: an OpenSSH public key line (rsa, ecdsa,
    ed25519) for ``ssh``, a PEM certificate for ``x509``. Invalid (InvalidKeypair, 400)
    naming why otherwise."""
    data = text.strip()
    if key_type == "x509":
        try:
            cert = x509.load_pem_x509_certificate(data.encode())
        except ValueError as exc:
            raise _invalid("failed to generate fingerprint (not a PEM x509 "
                           "certificate)") from exc
        return KeyMaterial(data, _colons(cert.fingerprint(hashes.SHA1())))
    try:
        serialization.load_ssh_public_key(data.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _invalid("failed to generate fingerprint (not an OpenSSH public key "
                       "such as 'ssh-ed25519 AAAA... comment')") from exc
    if "\n" in data:
        raise _invalid("a public key is one line")
    return KeyMaterial(data, _ssh_fingerprint(data))
