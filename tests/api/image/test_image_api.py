"""Glance v2 writes over HTTP: create, upload (streamed past the body limit), download,
JSON-patch update, tags, delete, visibility, versions and schemas, glance's error envelope."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sriovstack.api.settings import DEFAULT_MAX_BODY_BYTES

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


@pytest.fixture(autouse=True)
def _json_errors(api: Any) -> None:
    """Ask for JSON as openstacksdk does (glance answers */* with HTML errors)."""
    api.client.headers["Accept"] = "application/json"


def _create(api: Any, who: dict[str, str], **body: Any) -> dict[str, Any]:
    r = api.client.post("/image/v2/images", headers=who,
                        json={"name": "fedora", "disk_format": "qcow2",
                              "container_format": "bare", **body})
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(f"/image/v2/images/{r.json()['id']}")
    return dict(r.json())


def _patch(api: Any, image_id: str, ops: list[dict[str, Any]],
           who: dict[str, str] | None = None) -> Any:
    return api.client.patch(f"/image/v2/images/{image_id}", json=None, content=_json(ops),
                            headers={**(who or api.demo), **PATCH})


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_versions_answer_at_the_root_and_at_versions_without_a_token(api: Any) -> None:
    for path in ("/image", "/image/versions"):
        versions = api.client.get(path).json()["versions"]
        assert versions[0] == {"id": "v2.16", "status": "CURRENT", "links": [
            {"rel": "self", "href": "http://testserver/image/v2/"}]}
        assert {v["status"] for v in versions[1:]} == {"SUPPORTED"}


def test_a_created_image_is_queued_owned_by_the_project_and_valid_per_the_schema(
        api: Any) -> None:
    image = _create(api, api.demo, hw_vif_model="virtio", tags=["sriov"])
    assert (image["status"], image["visibility"], image["owner"]) == (
        "queued", "shared", api.demo_project_id)
    assert image["hw_vif_model"] == "virtio" and image["tags"] == ["sriov"]
    assert image["size"] is None and image["checksum"] is None
    # glanceclient validates every image against this schema (tests/e2e check it for real)
    schema = api.client.get("/image/v2/schemas/image", headers=api.demo).json()
    assert set(image) - set(schema["properties"]) == {"hw_vif_model"}
    assert schema["additionalProperties"] == {"type": "string"}
    images = api.client.get("/image/v2/schemas/images", headers=api.demo).json()
    assert images["properties"]["images"]["items"] == schema


@pytest.mark.parametrize("body, status, words", [
    ({"disk_format": "floppy"}, 400, "disk_format"),
    ({"min_ram": -1}, 400, "min_ram"),
    ({"id": "not-a-uuid"}, 400, "'id'"),
    ({"status": "active"}, 403, "'status' is read-only"),
    ({"deleted": True}, 403, "'deleted' is reserved"),
    ({"hw_qemu_guest_agent": 1}, 400, "strings"),
    ({"visibility": "public"}, 403, "publicize_image"),
])
def test_create_refusals_in_glances_envelope(api: Any, body: dict[str, Any], status: int,
                                             words: str) -> None:
    r = api.client.post("/image/v2/images", headers=api.demo, json={"name": "x", **body})
    assert r.status_code == status, r.text
    assert r.json()["code"].startswith(str(status)) and words in r.json()["message"]
    assert [i["name"] for i in api.client.get("/image/v2/images",
                                              headers=api.admin).json()["images"]] == ["cirros"]


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


def test_upload_streams_past_the_body_limit_and_download_returns_the_same_bytes(
        api: Any, settings: Any) -> None:
    image = _create(api, api.demo)
    data = bytes(range(256)) * (DEFAULT_MAX_BODY_BYTES // 256 + 4096)  # > the 1 MiB limit
    r = api.client.put(f"/image/v2/images/{image['id']}/file", content=_chunks(data, 65536),
                       headers={**api.demo, "Content-Type": "application/octet-stream"})
    assert r.status_code == 204, r.text
    shown = api.client.get(f"/image/v2/images/{image['id']}", headers=api.demo).json()
    assert (shown["status"], shown["size"]) == ("active", len(data))
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert (shown["os_hash_algo"], shown["os_hash_value"]) == (
        "sha512", hashlib.sha512(data).hexdigest())
    got = api.client.get(f"/image/v2/images/{image['id']}/file", headers=api.demo)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-MD5"] == shown["checksum"]
    assert [p.name for p in (settings.image_dir / ".partial").iterdir()] == []

    again = api.client.put(f"/image/v2/images/{image['id']}/file", content=b"more",
                           headers={**api.demo, "Content-Type": "application/octet-stream"})
    assert again.status_code == 409 and "queued" in again.json()["message"]


def test_a_queued_image_downloads_as_204(api: Any) -> None:
    image = _create(api, api.demo)
    assert api.client.get(f"/image/v2/images/{image['id']}/file",
                          headers=api.demo).status_code == 204


def test_json_patch_replaces_adds_and_removes_all_or_nothing(api: Any) -> None:
    image = _create(api, api.demo, os_distro="fedora")
    r = _patch(api, image["id"], [{"op": "replace", "path": "/name", "value": "f40"},
                                  {"op": "add", "path": "/hw_vif_model", "value": "virtio"},
                                  {"op": "remove", "path": "/os_distro"},
                                  {"op": "replace", "path": "/min_ram", "value": 512}])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["name"], body["hw_vif_model"], body["min_ram"]) == ("f40", "virtio", 512)
    assert "os_distro" not in body
    for ops, status in (([{"op": "replace", "path": "/name", "value": "lost"},
                          {"op": "replace", "path": "/nope", "value": "x"}], 409),
                        ([{"op": "replace", "path": "/status", "value": "active"}], 403),
                        ([{"op": "remove", "path": "/name"}], 403),
                        ([{"op": "move", "path": "/name"}], 400),
                        ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400)):
        assert _patch(api, image["id"], ops).status_code == status, ops
    assert api.client.get(f"/image/v2/images/{image['id']}",
                          headers=api.demo).json()["name"] == "f40"


def test_patch_needs_glances_media_type(api: Any) -> None:
    image = _create(api, api.demo)
    r = api.client.patch(f"/image/v2/images/{image['id']}", headers=api.demo,
                         json=[{"op": "replace", "path": "/name", "value": "x"}])
    assert r.status_code == 400 and "Content-Type" in r.json()["message"]


def test_tags_are_added_and_removed(api: Any) -> None:
    image = _create(api, api.demo)
    url = f"/image/v2/images/{image['id']}/tags"
    assert api.client.put(f"{url}/sriov", headers=api.demo).status_code == 204
    assert api.client.put(f"{url}/sriov", headers=api.demo).status_code == 204
    assert api.client.get(f"/image/v2/images/{image['id']}",
                          headers=api.demo).json()["tags"] == ["sriov"]
    assert api.client.delete(f"{url}/sriov", headers=api.demo).status_code == 204
    assert api.client.get(f"/image/v2/images/{image['id']}",
                          headers=api.demo).json()["tags"] == []


def test_delete_removes_the_data_and_refuses_protected_images(api: Any, settings: Any) -> None:
    image = _create(api, api.demo, protected=True)
    api.client.put(f"/image/v2/images/{image['id']}/file", content=b"qcow",
                   headers={**api.demo, "Content-Type": "application/octet-stream"})
    r = api.client.delete(f"/image/v2/images/{image['id']}", headers=api.demo)
    assert r.status_code == 403 and "protected" in r.json()["message"]
    assert _patch(api, image["id"], [{"op": "replace", "path": "/protected",
                                      "value": False}]).status_code == 200
    assert api.client.delete(f"/image/v2/images/{image['id']}",
                             headers=api.demo).status_code == 204
    assert api.client.get(f"/image/v2/images/{image['id']}",
                          headers=api.demo).status_code == 404
    assert [p.name for p in settings.image_dir.iterdir() if p.is_file()] == []


def test_another_projects_private_image_is_invisible_and_cirros_is_read_only(
        api: Any) -> None:
    private = _create(api, api.admin, visibility="private")
    assert api.client.get(f"/image/v2/images/{private['id']}",
                          headers=api.demo).status_code == 404
    names = [i["name"] for i in api.client.get("/image/v2/images",
                                                headers=api.demo).json()["images"]]
    assert names == ["cirros"]
    cirros = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"
    assert api.client.delete(f"/image/v2/images/{cirros}", headers=api.demo).status_code == 403
    assert _patch(api, cirros, [{"op": "replace", "path": "/name",
                                 "value": "mine"}]).status_code == 403
