"""One guest connection to the control plane, relayed: QEMU's ``guestfwd=...-cmd:`` runs this
for each TCP connection a guest opens to the API address, with that connection as its
standard input and output, and it copies bytes both ways to ``HOST:PORT`` on this machine.

So a guest on user networking with ``restrict=on`` reaches exactly one address of this machine
(the API on its loopback) and nothing else.  Run by path with the host's Python; it imports
only the standard library.  Exits when both directions are closed, or 1 when ``HOST:PORT``
does not accept the connection (the guest then sees it closed).
"""

from __future__ import annotations

import os
import selectors
import socket
import sys

__all__ = ["relay"]

_CHUNK = 65536


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def relay(host: str, port: int, guest_in: int = 0, guest_out: int = 1) -> None:
    """Copy ``guest_in`` to a connection to ``host:port`` and its answers to ``guest_out``
    until ``host:port`` closes (after the guest's half-close, if it comes first)."""
    with socket.create_connection((host, port), timeout=10) as upstream:
        upstream.settimeout(None)
        selector = selectors.DefaultSelector()
        selector.register(guest_in, selectors.EVENT_READ, "guest")
        selector.register(upstream, selectors.EVENT_READ, "upstream")
        while True:
            for key, _ in selector.select():
                if key.data == "guest":
                    data = os.read(guest_in, _CHUNK)
                    if data:
                        upstream.sendall(data)
                    else:  # the guest sent all it will: pass the half-close on
                        selector.unregister(guest_in)
                        upstream.shutdown(socket.SHUT_WR)
                    continue
                data = upstream.recv(_CHUNK)
                if not data:  # the API closed: the guest sees the close when this exits
                    return
                _write_all(guest_out, data)


if __name__ == "__main__":
    try:
        relay(sys.argv[1], int(sys.argv[2]))
    except OSError:
        # Standard error is the guest's connection too: say nothing, close it.
        sys.exit(1)
