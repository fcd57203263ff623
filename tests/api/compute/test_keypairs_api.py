"""os-keypairs over HTTP: generated and imported keys, per user, nova's microversion shapes,
and key_name on server create."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.api.compute.chapter import CIRROS_ID

KP = "/compute/v2.1/os-keypairs"


def _v(version: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"compute {version}"}


def _ed25519_line() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " me@laptop"


def test_generated_key_is_returned_once_with_nova_shapes(api: Any) -> None:
    r = api.client.post(KP, json={"keypair": {"name": "k1"}}, headers={**api.demo, **_v("2.2")})
    assert r.status_code == 201, r.text
    made = r.json()["keypair"]
    assert set(made) == {"name", "public_key", "fingerprint", "user_id", "private_key", "type"}
    assert made["type"] == "ssh" and made["public_key"].startswith("ssh-rsa ")
    assert "PRIVATE KEY" in made["private_key"]
    private = serialization.load_pem_private_key(made["private_key"].encode(), None)
    assert private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode() \
        == " ".join(made["public_key"].split()[:2])
    shown = api.client.get(f"{KP}/k1", headers={**api.demo, **_v("2.2")}).json()["keypair"]
    assert "private_key" not in shown and shown["fingerprint"] == made["fingerprint"]
    assert shown["deleted"] is False and shown["user_id"] == made["user_id"]
    listed = api.client.get(KP, headers=api.demo).json()["keypairs"]
    assert listed == [{"keypair": {"name": "k1", "public_key": made["public_key"],
                                   "fingerprint": made["fingerprint"]}}]  # 2.1: no type


def test_import_validates_the_public_key_and_2_1_answers_200(api: Any) -> None:
    line = _ed25519_line()
    r = api.client.post(KP, json={"keypair": {"name": "laptop", "public_key": line}},
                        headers=api.demo)
    assert r.status_code == 200, r.text
    body = r.json()["keypair"]
    assert "private_key" not in body and "type" not in body and body["public_key"] == line
    assert len(body["fingerprint"].split(":")) == 16
    bad = api.client.post(KP, json={"keypair": {"name": "bad", "public_key": "ssh-rsa nope"}},
                          headers=api.demo)
    assert bad.status_code == 400 and "Keypair data is invalid" in bad.json()["badRequest"][
        "message"]


@pytest.mark.parametrize("body, status, words", [
    ({"keypair": {"name": "a/b"}}, 400, "unsafe characters"),
    ({"keypair": {"name": "k", "type": "pgp"}}, 400, "type"),
    ({"keypair": {"name": "k", "type": "ssh"}}, 400, "'type' was unexpected"),  # at 2.1
])
def test_bad_creates_are_400(api: Any, body: dict[str, Any], status: int, words: str) -> None:
    version = "2.1" if body["keypair"].get("type") == "ssh" else "2.2"
    r = api.client.post(KP, json=body, headers={**api.demo, **_v(version)})
    assert r.status_code == status and words in r.json()["badRequest"]["message"], r.text


def test_duplicate_is_409_and_delete_is_204_then_404(api: Any) -> None:
    headers = {**api.demo, **_v("2.2")}
    assert api.client.post(KP, json={"keypair": {"name": "k"}}, headers=headers).status_code == 201
    dup = api.client.post(KP, json={"keypair": {"name": "k"}}, headers=headers)
    assert dup.status_code == 409 and "already exists" in dup.json()["conflictingRequest"][
        "message"]
    assert api.client.delete(f"{KP}/k", headers=headers).status_code == 204
    gone = api.client.get(f"{KP}/k", headers=headers)
    assert gone.status_code == 404 and "Keypair k not found" in gone.json()["itemNotFound"][
        "message"]
    assert api.client.delete(f"{KP}/k", headers=api.demo).status_code == 404


def test_keys_are_per_user_and_admin_may_name_a_user_from_2_10(api: Any) -> None:
    demo_user = api.services.identity.tokens.validate(api.demo_token).user.id
    assert api.client.post(KP, json={"keypair": {"name": "mine"}},
                           headers=api.demo).status_code == 200
    assert api.client.get(KP, headers=api.admin).json()["keypairs"] == []
    theirs = api.client.get(f"{KP}?user_id={demo_user}", headers={**api.admin, **_v("2.10")})
    assert [k["keypair"]["name"] for k in theirs.json()["keypairs"]] == ["mine"]
    made = api.client.post(KP, json={"keypair": {"name": "given", "user_id": demo_user}},
                           headers={**api.admin, **_v("2.10")})
    assert made.status_code == 201 and made.json()["keypair"]["user_id"] == demo_user
    admin_user = api.services.identity.tokens.validate(api.admin_token).user.id
    refused = api.client.get(f"{KP}?user_id={admin_user}", headers={**api.demo, **_v("2.10")})
    assert refused.status_code == 403


def test_paging_from_2_35(api: Any) -> None:
    for name in ("a", "b", "c"):
        api.client.post(KP, json={"keypair": {"name": name, "public_key": _ed25519_line()}},
                        headers=api.demo)
    page = api.client.get(f"{KP}?limit=2", headers={**api.demo, **_v("2.35")}).json()
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["a", "b"]
    assert "marker=b" in page["keypairs_links"][0]["href"]
    rest = api.client.get(f"{KP}?limit=2&marker=b", headers={**api.demo, **_v("2.35")}).json()
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["c"]
    assert "keypairs_links" not in rest
    old = api.client.get(f"{KP}?limit=2", headers={**api.demo, **_v("2.34")}).json()
    assert len(old["keypairs"]) == 3


def test_server_create_checks_key_name_and_shows_it(api: Any) -> None:
    body = {"server": {"name": "vm", "imageRef": CIRROS_ID, "flavorRef": "1",
                       "key_name": "nokey"}}
    r = api.client.post("/compute/v2.1/servers", json=body, headers=api.demo)
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == \
        "Invalid key_name provided."
    api.client.post(KP, json={"keypair": {"name": "nokey", "public_key": _ed25519_line()}},
                    headers=api.demo)
    r = api.client.post("/compute/v2.1/servers", json=body, headers=api.demo)
    assert r.status_code == 202, r.text
    server = api.client.get(f"/compute/v2.1/servers/{r.json()['server']['id']}",
                            headers=api.demo).json()["server"]
    assert server["key_name"] == "nokey"
