"""``api serve``'s HTTP parser and event loop: httptools and uvloop, or the pure-Python ones
with a line on stderr saying which and why."""

from __future__ import annotations

import importlib.util

import pytest

from sriovstack.cli.api import serving_stack


def test_serving_picks_httptools_and_uvloop_when_importable(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert serving_stack(lambda module: True) == ("httptools", "uvloop")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("missing, expected, said", [
    ({"httptools"}, ("h11", "uvloop"), "httptools is not importable: parsing HTTP with h11"),
    ({"uvloop"}, ("httptools", "asyncio"), "uvloop is not importable: running on the asyncio"),
    ({"httptools", "uvloop"}, ("h11", "asyncio"), "h11"),
])
def test_serving_falls_back_to_pure_python_and_says_so(
        capsys: pytest.CaptureFixture[str], missing: set[str], expected: tuple[str, str],
        said: str) -> None:
    assert serving_stack(lambda module: module not in missing) == expected
    assert said in " ".join(capsys.readouterr().err.split())


def test_both_are_installed_with_sriovstack() -> None:
    """pyproject.toml's dependencies: an installed sriovstack serves on both."""
    assert all(importlib.util.find_spec(m) is not None for m in ("httptools", "uvloop"))
