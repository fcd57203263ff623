"""The API of the all-in-one cloud served by uvicorn in a background thread of this process."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from sriovstack.api import KEEP_ALIVE_SECONDS
from sriovstack.errors import ConfigError, Unreachable

__all__ = ["ApiThread", "bind_listen_socket"]


def bind_listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); ConfigError when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}", option="--listen",
                          fix="pick another port (e.g. --listen 127.0.0.1:0 for any free one)"
                          ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class ApiThread:
    """Runs one ASGI app with uvicorn on an already bound socket until ``stop``."""

    def __init__(self, app: Any, sock: socket.socket, log_level: str = "warning") -> None:
        import uvicorn

        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                                timeout_graceful_shutdown=2,
                                timeout_keep_alive=KEEP_ALIVE_SECONDS)
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="sriovstack-api", daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        """Start serving; return once uvicorn accepts connections (Unreachable otherwise)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise Unreachable("the API server did not start",
                                  fix="run with --log-level debug to see why")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to finish its requests and exit; wait for the thread."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()
