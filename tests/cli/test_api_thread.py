"""The all-in-one's API thread runs the app's lifespan (the build-recovery sweep lives there)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI

from sriovstack.allinone.api_thread import ApiThread, bind_listen_socket


def test_the_api_thread_runs_the_apps_start_and_stop_hooks() -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        seen.append("start")
        yield
        seen.append("stop")

    thread = ApiThread(FastAPI(lifespan=lifespan), bind_listen_socket("127.0.0.1", 0))
    thread.start()
    assert seen == ["start"]
    thread.stop()
    assert seen == ["start", "stop"]


def _whole_answer(conn: socket.socket) -> bytes:
    """Read until the body has come: uvicorn writes the head and the body separately, and
    under load they arrive apart (a later peek would otherwise find the body)."""
    answer = b""
    while not answer.endswith(b'{"ok":true}'):
        chunk = conn.recv(4096)
        assert chunk, f"closed after {answer!r}"
        answer += chunk
    return answer


def test_an_idle_client_connection_is_kept_longer_than_a_loaded_clients_poll_gap() -> None:
    # uvicorn's 5 s default closed idle connections between a loaded client's polls, which
    # then failed with "Connection reset by peer" (issue 16).
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    sock = bind_listen_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    thread = ApiThread(app, sock)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200 OK" in _whole_answer(conn)
            time.sleep(6.5)  # idle past uvicorn's default keep-alive
            conn.setblocking(False)
            with pytest.raises(BlockingIOError):  # open and quiet: not closed (b"")
                conn.recv(1, socket.MSG_PEEK)
            conn.setblocking(True)
            conn.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            assert b"200 OK" in _whole_answer(conn)
    finally:
        thread.stop()
