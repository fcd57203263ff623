"""A server's console log (nova's os-getConsoleOutput): the emulated guest's console, which
is what the compute agent saw its virt driver do to the guest (boot, each VF plugged or
unplugged with its MAC and VLAN, shutdown), reported after each pass (wire ConsoleReport)
and kept here, the last MAX_CONSOLE_LINES lines per server.

Decision: the agent reports rather than the API fetching from it, so every API worker can
answer from the database and a host that is down keeps its servers' last console readable.
"""

from __future__ import annotations

from sriovstack.clock import Clock
from sriovstack.db import Database
from sriovstack.db.models import ServerConsoleRow, ServerRow
from sriovstack.errors import Conflict, ErrorKind, NotFound
from sriovstack.wire import MAX_CONSOLE_LINES, ConsoleAnswer, ConsoleReport, ServerStatus

__all__ = ["ConsoleLog"]

_DELETED = ServerStatus.DELETED.value


class ConsoleLog:
    """Appends agents' console lines and reads a server's tail."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def append(self, host: str, server_id: str, report: ConsoleReport) -> ConsoleAnswer:
        """Append the lines the agent of ``host`` saw; NotFound for an unknown (or deleted)
        server, Conflict when the server is not on ``host`` (a stale agent)."""
        with self._db.transaction() as s:
            server = s.get(ServerRow, server_id, with_for_update=True)
            if server is None or server.status == _DELETED:
                raise NotFound(f"Instance {server_id} could not be found.",
                               kind=ErrorKind.INSTANCE_NOT_FOUND, value=server_id)
            if server.host != host:
                raise Conflict(f"Instance {server_id} is not placed on host {host}.",
                               field="host", value=host)
            row = s.get(ServerConsoleRow, server_id)
            old = row.text.split("\n") if row is not None and row.text else []
            kept = (old + list(report.lines))[-MAX_CONSOLE_LINES:]
            if row is None:
                row = ServerConsoleRow(server_id=server_id)
                s.add(row)
            row.text, row.lines, row.updated_at = "\n".join(kept), len(kept), self._clock.now()
            return ConsoleAnswer(len(kept))

    def tail(self, server_id: str, length: int | None) -> str:
        """The last ``length`` lines (all when None), each ending in a newline."""
        with self._db.transaction() as s:
            row = s.get(ServerConsoleRow, server_id)
            lines = row.text.split("\n") if row is not None and row.text else []
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "".join(f"{line}\n" for line in lines)
