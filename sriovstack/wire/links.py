"""What the SR-IOV NIC agent says of its PFs' links (carrier), and the API's answer.

A PF without carrier cannot carry its VFs' traffic: the API marks those VFs unhealthy (the
scheduler skips them) until the agent reports the carrier back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriovstack.pci import PciAddress
from sriovstack.wire.codec import Fields

__all__ = ["PfLink", "LinkReport", "LinkAnswer"]

MAX_PFS = 256


@dataclass(frozen=True, slots=True)
class PfLink:
    """One mapped PF: its address, netdev and whether it has carrier now."""

    address: PciAddress
    netdev: str
    carrier: bool

    def to_json(self) -> dict[str, Any]:
        return {"address": str(self.address), "netdev": self.netdev, "carrier": self.carrier}

    @classmethod
    def from_json(cls, data: Any, where: str) -> PfLink:
        f = Fields(data, where)
        link = cls(f.required("address", PciAddress.parse), f.text("netdev", min_len=1,
                                                                    max_len=15),
                   f.flag("carrier"))
        f.done()
        return link


@dataclass(frozen=True, slots=True)
class LinkReport:
    """Every PF the agent watches (``physical_device_mappings``), with its carrier."""

    pfs: tuple[PfLink, ...]

    def to_json(self) -> dict[str, Any]:
        return {"pfs": [p.to_json() for p in self.pfs]}

    @classmethod
    def from_json(cls, data: Any) -> LinkReport:
        f = Fields(data)
        report = cls(tuple(PfLink.from_json(item, at)
                           for item, at in f.items("pfs", max_len=MAX_PFS)))
        f.done()
        return report


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    """How many of the host's devices are unhealthy after the report, and how many changed."""

    unhealthy: int
    changed: int

    def to_json(self) -> dict[str, Any]:
        return {"links": {"unhealthy": self.unhealthy, "changed": self.changed}}

    @classmethod
    def from_json(cls, data: Any) -> LinkAnswer:
        f = Fields.under(data, "links")
        return cls(f.integer("unhealthy", minimum=0), f.integer("changed", minimum=0))
