"""Reading one JSON object of a message into typed fields; every refusal names the field.

``Fields`` wraps an object at a path (``servers[0].ports[1]``); each read says what it expects
and raises Invalid naming ``<path>.<key>`` and the value found.  Messages the control plane
receives are read ``strict`` (an unknown key is refused, as the API always did); answers the
agents receive are not (a newer API may add a key an older agent does not know).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from sriovstack.errors import Invalid

__all__ = ["Fields", "REQUIRED"]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)


class _Required(enum.Enum):
    REQUIRED = "required"


REQUIRED = _Required.REQUIRED
# Every integer column is a 32-bit INTEGER: PostgreSQL refuses more, SQLite would store it (or
# overflow past 2**63 into a 500), so both sides refuse it here alike (placement: MAX_INT).
MAX_INTEGER = 2**31 - 1


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


class Fields:
    """The fields of one JSON object at ``where`` ("" for a whole body)."""

    def __init__(self, data: Any, where: str = "", *, strict: bool = True) -> None:
        if not isinstance(data, Mapping):
            raise Invalid(f"{where or 'the body'}: expected an object, got {_kind(data)}",
                          field=where or "body", value=_kind(data))
        self._data = data
        self._where = where
        self._strict = strict
        self._read: set[str] = set()

    @classmethod
    def under(cls, data: Any, key: str) -> Fields:
        """The fields of the object an answer wraps in one key (``{"port": {...}}``), read
        leniently."""
        return cls(cls(data, strict=False).raw(key), key, strict=False)

    def path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def refuse(self, key: str, problem: str) -> Invalid:
        """The error for ``key``: ``<path>: <problem>``."""
        value = self._data.get(key)
        return Invalid(f"{self.path(key)}: {problem}", field=self.path(key),
                       value=value if isinstance(value, (str, int, float, bool)) else None)

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        """The value under ``key`` as it is (``default`` when absent; missing: refused)."""
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is REQUIRED:
            raise Invalid(f"{self.path(key)}: missing", field=self.path(key))
        return default

    def text(self, key: str, default: str | _Required = REQUIRED, *, max_len: int = 255,
             min_len: int = 0, pattern: str | None = None) -> str:
        """A string of ``min_len``..``max_len`` characters (matching ``pattern``)."""
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise self.refuse(key, f"expected a string, got {_kind(value)}")
        if not min_len <= len(value) <= max_len:
            raise self.refuse(key, f"expected {min_len} to {max_len} characters, got "
                              f"{len(value)}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.refuse(key, f"{value!r} does not match {pattern}")
        return value

    def optional_text(self, key: str, *, max_len: int = 255, min_len: int = 0) -> str | None:
        """A string, or None when absent or null."""
        if self.raw(key, None) is None:
            return None
        return self.text(key, max_len=max_len, min_len=min_len)

    def integer(self, key: str, default: int | _Required = REQUIRED, *,
                minimum: int | None = None) -> int:
        """A whole number (not a boolean), at least ``minimum`` and at most MAX_INTEGER."""
        value = self.raw(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.refuse(key, f"expected a whole number, got {_kind(value)}")
        if minimum is not None and value < minimum:
            raise self.refuse(key, f"expected {minimum} or more, got {value}")
        if value > MAX_INTEGER:
            raise self.refuse(key, f"expected at most {MAX_INTEGER}, got {value}")
        return value

    def optional_integer(self, key: str, *, minimum: int | None = None) -> int | None:
        if self.raw(key, None) is None:
            return None
        return self.integer(key, minimum=minimum)

    def flag(self, key: str, default: bool | _Required = REQUIRED) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.refuse(key, f"expected true or false, got {_kind(value)}")
        return value

    def choice(self, key: str, kind: type[E], default: E | _Required = REQUIRED) -> E:
        """One of the enum's values."""
        value = self.raw(key, default)
        if isinstance(value, kind):
            return value
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in kind)
            raise self.refuse(key, f"expected one of {allowed}, got {value!r}") from None

    def parsed(self, key: str, parse: Callable[[str], T]) -> T | None:
        """A string turned into a value by ``parse`` (None when absent, null or ""); a
        ValueError or Invalid from ``parse`` becomes Invalid naming the field."""
        value = self.raw(key, None)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.refuse(key, f"expected a string, got {_kind(value)}")
        try:
            return parse(value)
        except Invalid as exc:
            raise self.refuse(key, exc.message) from exc
        except ValueError as exc:
            raise self.refuse(key, str(exc)) from exc

    def required(self, key: str, parse: Callable[[str], T]) -> T:
        """As ``parsed``, but absent or null is refused."""
        value = self.parsed(key, parse)
        if value is None:
            raise self.refuse(key, "missing")
        return value

    def items(self, key: str, *, max_len: int = 4096,
              default: list[Any] | _Required = REQUIRED) -> Iterator[tuple[Any, str]]:
        """Each item of a list with its path (``key[i]``)."""
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.refuse(key, f"expected a list, got {_kind(value)}")
        if len(value) > max_len:
            raise self.refuse(key, f"expected at most {max_len} items, got {len(value)}")
        return ((item, f"{self.path(key)}[{i}]") for i, item in enumerate(value))

    def nested(self, key: str, *, optional: bool = False) -> Fields:
        """The object under ``key`` (an empty one when ``optional`` and absent)."""
        value = self.raw(key, {} if optional else REQUIRED)
        return Fields(value, self.path(key), strict=self._strict)

    def mapping(self, key: str) -> Mapping[str, Any]:
        """An object kept as it is (for free-form content such as capabilities)."""
        value = self.raw(key, {})
        if not isinstance(value, Mapping):
            raise self.refuse(key, f"expected an object, got {_kind(value)}")
        return value

    def done(self) -> None:
        """Refuse keys nobody read (strict objects only)."""
        if not self._strict:
            return
        unknown = sorted(str(k) for k in self._data if k not in self._read)
        if unknown:
            also = f" (and {', '.join(unknown[1:])})" if unknown[1:] else ""
            raise Invalid(f"{self.path(unknown[0])}: unknown field{also}; expected only "
                          f"{', '.join(sorted(self._read))}", field=self.path(unknown[0]))
