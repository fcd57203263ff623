"""The emulated guest's console: lines the compute agent saw its virt driver do to a server's
guest (boot, VF plug/unplug with MAC and VLAN, shutdown), reported after each pass.

``PUT /internal/v1/hosts/{host}/servers/{id}/console`` carries a ``ConsoleReport``; the API
appends its lines to the server's console log (nova's os-getConsoleOutput reads it) and
answers with a ``ConsoleAnswer`` (how many lines it now keeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriovstack.wire.codec import Fields

__all__ = ["ConsoleReport", "ConsoleAnswer", "MAX_CONSOLE_LINES", "MAX_CONSOLE_LINE"]

MAX_CONSOLE_LINES = 1000  # per report, and what the API keeps per server
MAX_CONSOLE_LINE = 1024


@dataclass(frozen=True, slots=True)
class ConsoleReport:
    """New console lines of one guest, oldest first, each without its newline."""

    lines: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"lines": list(self.lines)}

    @classmethod
    def from_json(cls, data: Any) -> ConsoleReport:
        f = Fields(data)
        lines = []
        for item, at in f.items("lines", max_len=MAX_CONSOLE_LINES):
            line = Fields({"line": item}, at).text("line", max_len=MAX_CONSOLE_LINE)
            if "\n" in line:
                raise f.refuse("lines", f"{at}: a console line holds no newline")
            lines.append(line)
        f.done()
        return cls(tuple(lines))


@dataclass(frozen=True, slots=True)
class ConsoleAnswer:
    """How many lines the server's console log keeps now."""

    kept: int

    def to_json(self) -> dict[str, Any]:
        return {"console": {"kept": self.kept}}

    @classmethod
    def from_json(cls, data: Any) -> ConsoleAnswer:
        f = Fields(data, strict=False).nested("console")
        return cls(f.integer("kept", minimum=0))
