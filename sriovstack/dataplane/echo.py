"""The UDP echo service every emulated guest runs, and the probe that checks a path with it.

``ping`` may be missing (it is on the reference VM), so reachability is a UDP round trip:
the guest's echo daemon (``python -m sriovstack.dataplane.echo --daemon``, started inside
its namespace) sends every datagram back; the probe sends numbered datagrams from a socket
opened in another namespace and counts the matching replies.
"""

from __future__ import annotations

import argparse
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address

from pyroute2 import netns

from sriovstack.errors import HostError

__all__ = ["ECHO_PORT", "EchoResult", "EchoStart", "start_echo", "echo_probe", "main"]

ECHO_PORT = 7  # RFC 862
_READY_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class EchoResult:
    """``sent`` datagrams to ``target``, ``received`` came back."""

    target: str
    sent: int
    received: int

    @property
    def reachable(self) -> bool:
        return self.received > 0


def start_echo(ns: str, port: int = ECHO_PORT) -> int:
    """Start the echo daemon inside namespace ``ns``; returns its pid once it listens."""
    return EchoStart(ns, port).ready()


class EchoStart:
    """The echo daemon of namespace ``ns`` on its way up: launched at construction, so the
    caller can go on plugging the guest while the interpreter starts (about a second, more
    under load); ``ready()`` waits for it to listen and returns its pid."""

    def __init__(self, ns: str, port: int = ECHO_PORT) -> None:
        self._ns = ns
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "sriovstack.dataplane.echo",
               "--daemon", "--port", str(port)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)

    def ready(self) -> int:
        """The daemon's pid once it listens; HostError when it did not start (in time)."""
        ns, proc = self._ns, self._proc
        with proc:
            assert proc.stdout is not None and proc.stderr is not None
            ready, _, _ = select.select([proc.stdout], [], [], _READY_TIMEOUT)
            line = proc.stdout.readline() if ready else ""
            code = proc.wait(timeout=_READY_TIMEOUT)
            words = line.split()
            if len(words) != 2 or words[0] != "ready" or not words[1].isdigit():
                # Only a starter that failed before detaching has said why (and closed stderr).
                why = proc.stderr.read().strip() if code else ""
                raise HostError(f"the echo service did not start in network namespace {ns}: "
                                f"{why or line.strip() or 'no answer'}", path=f"/run/netns/{ns}")
        return int(words[1])

    def abandon(self) -> None:
        """Reap the starter after a failed spawn (its daemon dies with the namespace)."""
        with self._proc:
            try:
                self._proc.wait(timeout=_READY_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=_READY_TIMEOUT)


def echo_probe(ns: str, target: IPv4Address | IPv6Address, *, count: int = 3,
               port: int = ECHO_PORT, timeout: float = 1.0) -> EchoResult:
    """Send ``count`` datagrams from namespace ``ns`` to ``target``'s echo service."""
    family = socket.AF_INET6 if target.version == 6 else socket.AF_INET
    try:
        sock = netns.create_socket(ns, family, socket.SOCK_DGRAM)
    except OSError as exc:
        raise HostError(f"cannot open a socket in network namespace {ns}: {exc}",
                        path=f"/run/netns/{ns}", errno=exc.errno) from exc
    nonce = secrets.token_hex(8)
    received = 0
    with sock:
        for seq in range(count):
            payload = f"sriovstack-echo {nonce} {seq}".encode()
            try:
                sock.sendto(payload, (str(target), port))
            except OSError:
                continue  # no route, link down: this one is lost
            received += _await_reply(sock, payload, timeout)
    return EchoResult(str(target), count, received)


def _await_reply(sock: socket.socket, payload: bytes, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            break
        try:
            data = sock.recv(2048)
        except OSError:
            return 0  # e.g. ICMP port unreachable: no echo answered
        if data == payload:
            return 1
    return 0


def _serve(port: int) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # IPv4 and IPv6 alike
    sock.bind(("::", port))
    print(f"ready {os.getpid()}", flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # let the starter's pipes close: nothing more is said
        os.dup2(devnull, fd)
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def main(argv: list[str] | None = None) -> None:
    """``python -m sriovstack.dataplane.echo [--daemon] [--port N]``."""
    parser = argparse.ArgumentParser(description="UDP echo service of an emulated guest")
    parser.add_argument("--port", type=int, default=ECHO_PORT)
    parser.add_argument("--daemon", action="store_true", help="detach and run in background")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.daemon and os.fork():
        os._exit(0)  # the starter waits for this parent; the child is reparented
    if args.daemon:
        os.setsid()
    _serve(args.port)


if __name__ == "__main__":
    main()
