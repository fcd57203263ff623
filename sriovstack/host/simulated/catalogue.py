"""The catalogue of real SR-IOV NIC models and their drivers that the simulated host can build.

Figures are the real ones: PCI ids as pci.ids has them (their names, which real discovery
needs too, are in ``sriovstack/pci/names.py``), the PF driver and the host VF driver, the VF limit the driver exposes in ``sriov_totalvfs``, the VF routing-id offset/stride
per port (so VF addresses land where the real card puts them), and what each driver's netlink
VF callbacks accept.  Firmware-configured limits (Mellanox ``NUM_OF_VFS``) use a common value
and say so.
"""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass

from sriovstack.errors import NotFound

__all__ = [
    "DisableInUse",
    "DriverCaps",
    "NicModel",
    "MODELS",
    "DRIVERS",
    "model",
    "driver_caps",
]


class DisableInUse(enum.Enum):
    """What ``sriov_configure(0)`` does while a VF is assigned to a guest (linux_host.md §1.7.5)."""

    EPERM = "eperm"    # igb/ixgbe: "VFs are assigned - VFs will not be deallocated"
    BLOCK = "block"    # vfio blocks until QEMU releases the device; simulated as EBUSY


@dataclass(frozen=True, slots=True)
class DriverCaps:
    """A PF driver's SR-IOV behaviour: sysfs configurability and netlink VF callbacks.

    An ``*_errno`` of 0 means the setting is supported; otherwise the errno the driver (or
    rtnetlink, for a missing ndo callback) returns when asked.
    """

    name: str
    vf_driver: str
    sriov_configure: bool          # False: ENOENT on sriov_numvfs writes (mlx4: num_vfs= only)
    link_state_errno: int          # no ndo_set_vf_link_state -> EOPNOTSUPP
    trust_errno: int               # no ndo_set_vf_trust -> EOPNOTSUPP
    min_rate_errno: int            # nonzero min_tx_rate refused (Intel: EINVAL in set_vf_bw)
    qinq_errno: int                # 802.1ad VLAN protocol refused -> EPROTONOSUPPORT
    disable_in_use: DisableInUse
    # Module parameters visible under /sys/module/<drv>/parameters (igb/ixgbe max_vfs has
    # permission 0, so it is not there).
    module_params: tuple[tuple[str, str], ...] = ()
    # A nonzero max_tx_rate needs the PF's link up and at most its speed, else EINVAL (igb's
    # igb_ndo_set_vf_bw; seen on the emulated 82576: the PF down refuses 100, up at 1000
    # Mb/s refuses 2000).
    rate_needs_link: bool = False


@dataclass(frozen=True, slots=True)
class NicModel:
    """One NIC model: ids, ports (PCI functions) and the SR-IOV capability figures."""

    key: str
    vendor_id: str
    device_id: str
    vf_device_id: str
    driver: str
    ports: int
    totalvfs: int                  # per port, as sriov_totalvfs reads with the driver bound
    vf_offsets: tuple[int, ...]    # sriov_offset of each port (function)
    vf_stride: int
    revision: int
    class_code: int = 0x020000
    note: str = ""

    @property
    def caps(self) -> DriverCaps:
        return DRIVERS[self.driver]


_NONE = 0
DRIVERS: dict[str, DriverCaps] = {
    d.name: d
    for d in (
        # igb: ndo_set_vf_rate rejects any min_tx_rate; no link-state callback; trust since 4.14.
        DriverCaps("igb", "igbvf", True, errno.EOPNOTSUPP, _NONE, errno.EINVAL,
                   errno.EPROTONOSUPPORT, DisableInUse.EPERM, rate_needs_link=True),
        DriverCaps("ixgbe", "ixgbevf", True, errno.EOPNOTSUPP, _NONE, errno.EINVAL,
                   errno.EPROTONOSUPPORT, DisableInUse.EPERM),
        # i40e: "Invalid min tx rate ... specified" (EINVAL); sysfs only, no max_vfs.
        DriverCaps("i40e", "iavf", True, _NONE, _NONE, errno.EINVAL,
                   errno.EPROTONOSUPPORT, DisableInUse.BLOCK),
        # mlx4: VFs come only from the num_vfs/probe_vf module options (no sriov_configure).
        DriverCaps("mlx4_core", "mlx4_core", False, _NONE, errno.EOPNOTSUPP, errno.EINVAL,
                   _NONE, DisableInUse.BLOCK, (("num_vfs", "0"), ("probe_vf", "0"))),
        # mlx5 legacy mode: min_tx_rate refused with EOPNOTSUPP in the version examined.
        DriverCaps("mlx5_core", "mlx5_core", True, _NONE, _NONE, errno.EOPNOTSUPP,
                   _NONE, DisableInUse.BLOCK),
    )
}

MODELS: dict[str, NicModel] = {
    m.key: m
    for m in (
        # The chapter's NIC. Hardware TotalVFs is 8 but igb allows at most 7 per port.
        # Offset 0x80, stride 2: PF 0b:00.0 -> 0b:10.0, 10.2 ...; PF 0b:00.1 -> 0b:10.1 ...
        NicModel("intel-82576", "8086", "10c9", "10ca", "igb", 2, 7, (0x80, 0x80), 2, 0x01),
        # ixgbe limits VFs to 63 (IXGBE_MAX_VF_FUNCTIONS - 1).
        NicModel("intel-x540", "8086", "1528", "1515", "ixgbe", 2, 63, (0x80, 0x80), 2, 0x01),
        # X710-DA2: 128 VFs per device, 64 per PF; VFs follow the PFs in one block per port.
        NicModel("intel-x710", "8086", "1572", "154c", "i40e", 2, 64, (16, 16 + 64 - 1), 1,
                 0x01),
        # ConnectX-3: one PCI function for both ports; VFs from function 1.
        NicModel("mellanox-connectx3", "15b3", "1003", "1004", "mlx4_core", 1, 16, (1,), 1, 0x00,
                 note="totalvfs is the firmware NUM_OF_VFS; 16 used here"),
        NicModel("mellanox-connectx4lx", "15b3", "1015", "1016", "mlx5_core", 2, 64,
                 (2, 2 + 64 - 1), 1, 0x00,
                 note="totalvfs is the firmware NUM_OF_VFS; 64 used here"),
    )
}


def model(key: str) -> NicModel:
    """The catalogue model ``key``; NotFound naming the known keys otherwise."""
    try:
        return MODELS[key]
    except KeyError:
        raise NotFound(f"unknown NIC model {key!r}; known models: {', '.join(sorted(MODELS))}",
                       field="model", value=key) from None


def driver_caps(name: str) -> DriverCaps | None:
    """The SR-IOV behaviour of PF driver ``name``, or None when the catalogue does not know it."""
    return DRIVERS.get(name)
