"""The exec agent that runs inside a QEMU guest (chrooted into the host's root, started by
the image's ``/init``): it answers one JSON request per TCP connection.

It is run by path with the host's Python and imports only the standard library.  Requests:
``{"op": "ping"}`` -> ``{"ok": true, "uname": ...}``; ``{"op": "run", "argv": [...],
"timeout": s}`` -> ``{"rc", "stdout", "stderr"}`` (rc 124 on timeout, 127 when the program
is missing); ``{"op": "spawn", "argv": [...], "log": path}`` starts a long-running process
detached, its output in ``log``, and answers ``{"pid": n}``.
"""

from __future__ import annotations

import argparse
import json
import os
import socketserver
import subprocess
from typing import Any

__all__ = ["serve"]

_LIMIT = 1 << 20


def _run(request: dict[str, Any]) -> dict[str, Any]:
    argv = [str(a) for a in request["argv"]]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=float(request["timeout"]),
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as exc:
        return {"rc": 127, "stdout": "", "stderr": f"{exc}\n"}
    except subprocess.TimeoutExpired:
        return {"rc": 124, "stdout": "",
                "stderr": f"timed out after {request['timeout']} s in the guest\n"}
    return {"rc": done.returncode, "stdout": done.stdout.decode("utf-8", "replace"),
            "stderr": done.stderr.decode("utf-8", "replace")}


def _spawn(request: dict[str, Any]) -> dict[str, Any]:
    with open(str(request["log"]), "ab") as log:
        child = subprocess.Popen([str(a) for a in request["argv"]], stdout=log, stderr=log,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    return {"pid": child.pid}


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "ping":
        return {"ok": True, "uname": " ".join(os.uname())}
    if op == "run":
        return _run(request)
    if op == "spawn":
        return _spawn(request)
    return {"error": f"unknown op {op!r}"}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(_LIMIT)
        try:
            answer = _answer(json.loads(line))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve(port: int) -> None:
    """Answer requests on ``port`` (all addresses of the guest) until killed."""
    with _Server(("0.0.0.0", port), _Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
