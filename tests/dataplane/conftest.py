"""Fixtures for the packet tests: a fresh name prefix, the leftovers check, the two-host world.

Each test gets its own name prefix; ``no_leftovers`` checks that the test left no namespace
of that prefix, changed no link of the root namespace and added no nftables rule there.
Without root (or without ``nft``) the tests that need them are skipped.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.dataplane.dataplane_world import World, build_world, root_reason, tear_down
from pyroute2 import IPRoute

from sriovstack.dataplane import cleanup_dataplane, list_ns


def _root_links() -> set[str]:
    with IPRoute() as ipr:
        return {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}


def _root_ruleset() -> str:
    return subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:4]}-"


@pytest.fixture
def no_leftovers(prefix: str) -> Iterator[None]:
    """Skip without root; after the test: nothing of ``prefix`` left, root namespace as it was."""
    reason = root_reason()
    if reason:
        pytest.skip(reason)
    links, rules = _root_links(), _root_ruleset()
    yield
    left = [ns for ns in list_ns() if ns.startswith(prefix)]
    cleanup_dataplane(prefix)  # leave the machine clean even when the check below fails
    assert left == [], f"namespaces left behind: {left}"
    assert _root_links() == links
    assert _root_ruleset() == rules


@pytest.fixture
def world(tmp_path: Path, prefix: str, no_leftovers: None) -> Iterator[World]:
    built = build_world(tmp_path, prefix)
    try:
        yield built
    finally:
        tear_down(built)
