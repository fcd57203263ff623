"""PCI id -> name lookups: what lspci prints for the NICs we know."""

from __future__ import annotations

import pytest

from sriovstack.pci.names import pci_names


@pytest.mark.parametrize(("ids", "names"), [
    (("8086", "10c9"), ("Intel Corporation", "82576 Gigabit Network Connection")),
    (("8086", "10ca"), ("Intel Corporation", "82576 Virtual Function")),
    (("15b3", "1016"), ("Mellanox Technologies",
                        "MT27710 Family [ConnectX-4 Lx Virtual Function]")),
    (("8086", "ffff"), ("Intel Corporation", None)),   # known vendor, unknown device
    (("1af4", "1000"), (None, None)),                  # virtio: not in our table
    (("15b3", "10ca"), ("Mellanox Technologies", None)),  # an Intel device id under Mellanox
])
def test_pci_names(ids: tuple[str, str], names: tuple[str | None, str | None]) -> None:
    assert pci_names(*ids) == names
