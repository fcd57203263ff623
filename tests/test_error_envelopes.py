"""Clients map our API's error responses back: status → error family, envelope → message."""

from __future__ import annotations

import pytest

from sriovstack.errors import (Conflict, Forbidden, Invalid, NotAcceptable, NotFound,
                               SriovstackError, Unauthorized, Unreachable, envelope_message,
                               error_for_status)


@pytest.mark.parametrize("body, message", [
    ({"error": {"code": 401, "title": "Unauthorized", "message": "bad token"}}, "bad token"),
    ({"NeutronError": {"type": "PortNotFound", "message": "Port p could not be found.",
                       "detail": ""}}, "Port p could not be found."),
    ({"itemNotFound": {"code": 404, "message": "Instance s could not be found."}},
     "Instance s could not be found."),
    ({"message": "No image found with ID x", "code": "404 Not Found", "title": "Not Found"},
     "No image found with ID x"),
    ({"errors": [{"status": 404, "title": "Not Found", "detail": "No provider x"}]},
     "No provider x"),
    ({"error": {"message": ""}}, None),
    (["not", "a", "dict"], None),
])
def test_the_message_comes_out_of_every_envelope(body: object, message: str | None) -> None:
    assert envelope_message(body) == message


@pytest.mark.parametrize("status, family", [
    (400, Invalid), (401, Unauthorized), (403, Forbidden), (404, NotFound),
    (406, NotAcceptable), (409, Conflict), (503, Unreachable), (500, Unreachable),
])
def test_statuses_map_back_to_error_families(status: int, family: type[SriovstackError]) -> None:
    assert error_for_status(status, Unreachable) is family
