"""The all-in-one's API thread runs the app's lifespan (the build-recovery sweep lives there)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
