"""A running all-in-one (its clouds.yaml) for the modules that drive the client commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sriovstack.allinone import AllInOne, AllInOneOptions
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.clouds import write_clouds_yaml


@pytest.fixture(scope="module")
def clouds_yaml(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The clouds.yaml of an all-in-one (simulated data plane) that runs for the module."""
    state = tmp_path_factory.mktemp("aio")
    with AllInOne(AllInOneOptions(state_dir=state, port=0)) as cloud:
        path = state / "clouds.yaml"
        write_clouds_yaml(path, clouds_of(cloud))
        yield path
