"""The one error mapping: status per family, envelope per API, 400 not 422, 413, 500, ids."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from sriovstack.api.errors import (Envelope, Problem, envelope_for, install_error_handlers,
                                   render, status_of)
from sriovstack.api.middleware import EdgeMiddleware
from sriovstack.errors import (ConfigError, Conflict, ErrorKind, Forbidden, HostError, Invalid,
                               NotAcceptable, NotFound, NotSupported, SriovstackError,
                               Unauthorized, Unavailable, Unreachable, WriteConflict)
from sriovstack.metrics import NullRecorder


@pytest.mark.parametrize("err, status", [
    (Invalid("x"), 400), (Unauthorized("x"), 401), (Forbidden("x"), 403), (NotFound("x"), 404),
    (Conflict("x"), 409), (WriteConflict("x"), 409), (NotAcceptable("2.2"), 406),
    (NotSupported("macvtap (20.9)"), 400),
    (NotSupported("migration (20.9)", status=409), 409), (Unavailable("no VLAN"), 503),
    (ConfigError("bad"), 500), (HostError("sysfs"), 500), (SriovstackError("?"), 500),
    (Unreachable("an API client's error raised inside the API is a bug"), 500),
])
def test_status_of_each_family(err: SriovstackError, status: int) -> None:
    assert status_of(err) == status


@pytest.mark.parametrize("path, envelope", [
    ("/identity/v3/auth/tokens", Envelope.IDENTITY), ("/network/v2.0/ports", Envelope.NETWORK),
    ("/compute/v2.1/servers", Envelope.COMPUTE), ("/image/v2/images", Envelope.IMAGE),
    ("/placement/resource_providers", Envelope.PLACEMENT),
    ("/internal/v1/hosts/h/heartbeat", Envelope.INTERNAL), ("/", Envelope.INTERNAL),
    ("/networking", Envelope.INTERNAL),
])
def test_envelope_is_chosen_by_prefix(path: str, envelope: Envelope) -> None:
    assert envelope_for(path) is envelope


_NOT_FOUND = Problem(404, "Port nope could not be found.", ErrorKind.PORT_NOT_FOUND,
                     "sriovstack.not_found")


# The shapes of openstack_api_compat.md §2.4, §3.8, §4.4, §4.6 and the internal contract.
@pytest.mark.parametrize("envelope, body", [
    (Envelope.IDENTITY, {"error": {"code": 404, "title": "Not Found",
                                   "message": "Port nope could not be found."}}),
    (Envelope.NETWORK, {"NeutronError": {"type": "PortNotFound",
                                         "message": "Port nope could not be found.",
                                         "detail": ""}}),
    (Envelope.COMPUTE, {"itemNotFound": {"code": 404, "message": "Port nope could not be found."}}),
    (Envelope.IMAGE, {"message": "Port nope could not be found.", "code": "404 Not Found",
                      "title": "Not Found"}),
    (Envelope.PLACEMENT, {"errors": [{"status": 404, "title": "Not Found",
                                      "detail": "Port nope could not be found.",
                                      "code": "placement.undefined_code", "request_id": "req-1"}]}),
    (Envelope.INTERNAL, {"error": {"code": 404, "type": "sriovstack.not_found",
                                   "message": "Port nope could not be found."}}),
])
def test_render_each_envelope(envelope: Envelope, body: dict) -> None:
    assert render(envelope, _NOT_FOUND, "req-1") == body


@pytest.mark.parametrize("status, key", [(400, "badRequest"), (403, "forbidden"),
                                         (409, "conflictingRequest"), (413, "overLimit"),
                                         (500, "computeFault"), (503, "serviceUnavailable")])
def test_nova_envelope_key_per_status(status: int, key: str) -> None:
    assert render(Envelope.COMPUTE, Problem(status, "m"), "r") == {key: {"code": status,
                                                                         "message": "m"}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int


def _app(limit: int = 1024) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()

    @router.post("/thing")
    def create_thing(body: _Body) -> dict:
        return {"count": body.count}

    @router.get("/missing")
    def show_missing() -> dict:
        raise NotFound("Port nope could not be found.", kind=ErrorKind.PORT_NOT_FOUND)

    @router.get("/crash")
    def show_crash() -> dict:
        raise KeyError("secret internals")

    @router.get("/microversion")
    def show_microversion() -> dict:
        raise NotAcceptable("Version 2.2 is not supported by the API.")

    @router.get("/macvtap")
    def show_macvtap() -> dict:
        raise NotSupported("vnic_type macvtap is not supported (chapter 20.9)", status=409)

    for prefix in ("/identity", "/network", "/compute", "/image", "/placement", "/internal"):
        app.include_router(router, prefix=prefix)
    app.add_middleware(EdgeMiddleware, max_body_bytes=limit, recorder=NullRecorder())
    return TestClient(app)


def test_service_error_travels_in_the_apis_envelope() -> None:
    client = _app()
    assert client.get("/network/missing").json()["NeutronError"]["type"] == "PortNotFound"
    assert client.get("/compute/missing").json()["itemNotFound"]["code"] == 404
    response = client.get("/compute/macvtap")
    assert response.status_code == 409
    assert "20.9" in response.json()["conflictingRequest"]["message"]


def test_not_acceptable_is_406_under_novas_compute_fault() -> None:
    response = _app().get("/compute/microversion")
    assert response.status_code == 406
    assert response.json() == {"computeFault": {
        "code": 406, "message": "Version 2.2 is not supported by the API."}}


@pytest.mark.parametrize("payload, words", [
    ({"count": 1, "extra": 2}, "extra (in the body): Extra inputs are not permitted"),
    ({"count": "many"}, "count (in the body): Input should be a valid integer"),
    ({}, "count (in the body): Field required"),
])
def test_bad_body_is_400_naming_the_field(payload: dict, words: str) -> None:
    response = _app().post("/network/thing", json=payload)
    assert response.status_code == 400
    assert words in response.json()["NeutronError"]["message"]


def test_invalid_json_is_400_in_the_envelope() -> None:
    response = _app().post("/identity/thing", content=b"{not json",
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("headers", [{}, {"transfer-encoding": "chunked"}])
def test_huge_body_is_413_in_the_envelope(headers: dict) -> None:
    client = _app(limit=100)
    body = b"{" + b" " * 200 + b"}"
    if headers:
        response = client.post("/compute/thing", content=iter([body[:50], body[50:]]))
    else:
        response = client.post("/compute/thing", content=body)
    assert response.status_code == 413
    assert "exceeds the limit of 100 bytes" in response.json()["overLimit"]["message"]


def test_unknown_route_is_404_in_the_envelope() -> None:
    response = _app().get("/placement/nothing/here")
    assert response.status_code == 404
    assert response.json()["errors"][0]["status"] == 404


def test_wrong_method_is_405_in_the_envelope() -> None:
    response = _app().delete("/image/missing", headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert response.json()["code"] == "405 Method Not Allowed"


@pytest.mark.parametrize("accept, media", [
    ("", "text/html"), ("*/*", "text/html"), ("application/json", "application/json"),
    ("application/json, */*;q=0.1", "application/json"), ("text/plain", "text/plain"),
    ("text/html;q=0.2, application/json", "application/json"),
])
def test_glance_errors_are_negotiated_as_webob_does(accept: str, media: str) -> None:
    response = _app().delete("/image/missing", headers={"Accept": accept})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(media)
    assert "Method DELETE is not allowed" in response.text
    if media == "text/html":  # glanceclient strips the tags and joins the lines
        assert "<title>405 Method Not Allowed</title>" in response.text


def test_unexpected_exception_is_500_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    response = _app().get("/internal/crash")
    assert response.status_code == 500
    rid = response.headers["x-openstack-request-id"]
    message = response.json()["error"]["message"]
    assert rid in message and "secret internals" not in message
    assert "Traceback" not in response.text
    assert any(rid in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("path, compute", [("/compute/missing", True), ("/network/missing", False),
                                           ("/identity/nothing", False)])
def test_every_response_carries_a_request_id(path: str, compute: bool) -> None:
    response = _app().get(path)
    rid = response.headers["x-openstack-request-id"]
    assert rid.startswith("req-") and len(rid) == 40
    assert (response.headers.get("x-compute-request-id") == rid) is compute


def test_request_ids_differ_per_request() -> None:
    client = _app()
    ids = {client.get("/identity/missing").headers["x-openstack-request-id"] for _ in range(3)}
    assert len(ids) == 3
