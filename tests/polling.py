"""Waiting in tests for what agents and guests do in their own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["until"]

T = TypeVar("T")


def until(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 60.0,
          interval: float = 0.3) -> T:
    """``read()`` again every ``interval`` s until ``done`` holds for its value, which is
    returned; AssertionError naming ``what`` and the last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; "
                                 f"last: {value}")
        time.sleep(interval)
        value = read()
    return value
