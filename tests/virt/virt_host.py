"""A host sysfs tree for virt tests: the chapter's 82576 PF with its VFs (each VF has physfn)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sriovstack.host.sysfs import RealSysfs
from sriovstack.pci.address import PciAddress

PF = PciAddress.parse("0000:0b:00.0")
# The chapter's lspci (20.2): the 82576's VFs sit at 0b:10.x and 0b:11.x.
VFS = tuple(PciAddress.parse(f"0000:0b:{s}.{f}") for s in ("10", "11") for f in range(8))[:14]
MISSING_VF = PciAddress.parse("0000:0b:12.0")


def make_host(root: Path) -> RealSysfs:
    """A /sys/bus/pci/devices tree under ``root``: the PF and its VFs, each VF with physfn."""
    devices = root / "sys/bus/pci/devices"
    (devices / str(PF)).mkdir(parents=True)
    for vf in VFS:
        (devices / str(vf)).mkdir()
        os.symlink(f"../{PF}", devices / str(vf) / "physfn")
    return RealSysfs(root)


def new_server_id() -> str:
    return str(uuid.uuid4())
