"""QEMU guests whose NIC is the chapter's Intel 82576 (``-device igb``) behind an emulated
Intel IOMMU with interrupt remapping: installing QEMU from Debian's bookworm-backports
(``install.py``), the guest image built from Debian packages (``image.py``, with
``modules.py``, ``cpio.py`` and the guest's ``/init``), booting a guest and running commands
in it through its exec agent (``guest.py``, ``guest_agent.py``).

A guest runs the host's own Python and sriovstack venv (the host root is shared read-only
over 9p and chrooted into), so inside it ``sriovstack.host.open_real_host`` meets a real
kernel's igb/igbvf drivers, sysfs, IOMMU groups and rtnetlink.
"""

from __future__ import annotations

from sriovstack.qemu.guest import (API_ADDRESS, API_PORT, Accel, Booting, ExecResult, Guest,
                                   GuestSpec, boot, find_guest, list_guests, qemu_argv, stop)
from sriovstack.qemu.image import GUEST_MODULES, Image, Package, build_image, load_image
from sriovstack.qemu.install import (InstallPlan, QemuInfo, apply_install, installed_qemu,
                                     plan_install)

__all__ = [
    "Accel", "ExecResult", "Guest", "GuestSpec", "boot", "find_guest", "list_guests",
    "qemu_argv", "stop", "Booting", "API_ADDRESS", "API_PORT",
    "GUEST_MODULES", "Image", "Package", "build_image", "load_image",
    "InstallPlan", "QemuInfo", "apply_install", "installed_qemu", "plan_install",
]
