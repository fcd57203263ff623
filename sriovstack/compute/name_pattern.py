"""The server list's ``name`` filter: a user's regular expression, run by RE2 so that its cost
is linear in the name's length whatever the pattern (Python's ``re`` backtracks: ``(a+)+$``
against 26 a's and a '!' took 15 s and stalled the API, issue 10 finding 2).

Nova matches the pattern anywhere in the name (``re.search`` on SQLite, ``REGEXP`` on MySQL);
RE2 keeps that syntax except backreferences and lookaround, which it refuses: a 400 naming
``name``, as nova gives for a pattern its database cannot compile.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

from sriovstack.errors import Invalid

__all__ = ["NamePattern", "MAX_PATTERN_LENGTH"]

MAX_PATTERN_LENGTH = 255  # nova's server name length: a longer pattern matches nothing useful
_MAX_PROGRAM_BYTES = 8 << 20  # RE2's memory budget for one compiled pattern


@dataclass(frozen=True, slots=True)
class NamePattern:
    """A compiled ``name`` filter; ``matches(name)`` runs in time linear in ``name``."""

    text: str
    _compiled: object

    @classmethod
    def compile(cls, text: str) -> "NamePattern":
        """Raises Invalid (field ``name``) for a pattern RE2 refuses or one too long."""
        if len(text) > MAX_PATTERN_LENGTH:
            raise Invalid(f"name filter is {len(text)} characters long; at most "
                          f"{MAX_PATTERN_LENGTH} are allowed", field="name", value=text[:64])
        options = re2.Options()
        options.log_errors = False
        options.max_mem = _MAX_PROGRAM_BYTES
        try:
            compiled = re2.compile(text, options=options)
        except re2.error as exc:
            why = exc.args[0].decode(errors="replace") if exc.args and \
                isinstance(exc.args[0], bytes) else str(exc)
            raise Invalid(f"name filter {text!r} is not a valid regular expression: {why}",
                          field="name", value=text,
                          fix="use RE2 syntax (no backreferences or lookaround)") from exc
        return cls(text, compiled)

    def matches(self, name: str) -> bool:
        """True when the pattern matches anywhere in ``name`` (nova's search semantics)."""
        return self._compiled.search(name) is not None  # type: ignore[attr-defined]
