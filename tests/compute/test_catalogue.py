"""Flavors and images: the seeded sets, lookups, nova's and glance's list filters."""

from __future__ import annotations

import pytest

from sriovstack.compute import CIRROS, DEFAULT_FLAVORS, FlavorQuery, ImageQuery
from sriovstack.compute.types import Flavor
from sriovstack.errors import Invalid, NotFound
from tests.compute.conftest import Cloud


@pytest.mark.parametrize("flavor_id, name, ram, vcpus, disk", [
    ("1", "m1.tiny", 512, 1, 1), ("2", "m1.small", 2048, 1, 20),
    ("3", "m1.medium", 4096, 2, 40), ("4", "m1.large", 8192, 4, 80),
    ("5", "m1.xlarge", 16384, 8, 160),
])
def test_novas_default_flavors_are_seeded(cloud: Cloud, flavor_id: str, name: str, ram: int,
                                          vcpus: int, disk: int) -> None:
    f = cloud.compute.flavors.get(flavor_id)
    assert (f.name, f.ram, f.vcpus, f.disk, f.is_public) == (name, ram, vcpus, disk, True)


def test_seeding_again_changes_nothing(cloud: Cloud) -> None:
    cloud.compute.flavors.seed()
    cloud.compute.images.seed()
    assert cloud.compute.flavors.list() == DEFAULT_FLAVORS
    assert [i.id for i in cloud.compute.images.list()] == [CIRROS.id]


def test_private_flavors_show_only_when_asked(cloud: Cloud) -> None:
    cloud.compute.flavors.seed((Flavor("sriov", "m1.sriov", 1024, 2, 10, is_public=False),))
    assert "sriov" not in [f.id for f in cloud.compute.flavors.list()]
    assert "sriov" in [f.id for f in cloud.compute.flavors.list(FlavorQuery(is_public=None))]
    assert [f.id for f in cloud.compute.flavors.list(FlavorQuery(is_public=False))] == ["sriov"]


def test_unknown_flavor_and_marker(cloud: Cloud) -> None:
    with pytest.raises(NotFound, match="Flavor m1.tiny could not be found."):
        cloud.compute.flavors.get("m1.tiny")
    with pytest.raises(Invalid, match=r"marker \[9\] not found"):
        cloud.compute.flavors.list(FlavorQuery(marker="9"))


@pytest.mark.parametrize("query, found", [
    (ImageQuery(), [CIRROS.id]),
    (ImageQuery(name="cirros"), [CIRROS.id]),
    (ImageQuery(name="Cirros"), []),
    (ImageQuery(ids=(CIRROS.id, "other")), [CIRROS.id]),
    (ImageQuery(ids=()), []),
    (ImageQuery(status="queued"), []),
])
def test_image_filters(cloud: Cloud, query: ImageQuery, found: list[str]) -> None:
    assert [i.id for i in cloud.compute.images.list(query)] == found


def test_images_are_found_by_id_only(cloud: Cloud) -> None:
    image = cloud.compute.images.get(CIRROS.id)
    assert image == CIRROS and image.property_map()["hw_architecture"] == "x86_64"
    with pytest.raises(NotFound, match="No image found with ID cirros"):
        cloud.compute.images.get("cirros")
