"""The guestfwd relay: a guest connection (here a socketpair) copied both ways to a server on
loopback, half-closes passed on, and the relay ending when the server closes."""

from __future__ import annotations

import socket
import threading

import pytest

from sriovstack.qemu.relay import relay


def test_the_relay_copies_both_ways_and_passes_the_half_close_on() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        seen: list[bytes] = []

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                with conn.makefile("rb") as stream:
                    seen.append(stream.read())  # until the guest's half-close arrives
                conn.sendall(b"pong " + seen[0])

        threading.Thread(target=answer, daemon=True).start()
        guest, ours = socket.socketpair()
        worker = threading.Thread(target=relay, args=("127.0.0.1", server.getsockname()[1],
                                                      ours.fileno(), ours.fileno()))
        worker.start()
        guest.sendall(b"ping")
        guest.shutdown(socket.SHUT_WR)
        guest.settimeout(10)
        got = b""
        while chunk := guest.recv(100):
            got += chunk
            if got == b"pong ping":
                break
        worker.join(10)
        assert not worker.is_alive() and seen == [b"ping"] and got == b"pong ping"
        ours.close()
        guest.close()


def test_the_relay_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        guest, ours = socket.socketpair()
        with guest, ours, pytest.raises(ConnectionRefusedError):
            relay("127.0.0.1", port, ours.fileno(), ours.fileno())
