"""QEMU guests whose NIC is the chapter's Intel 82576 (``-device igb``) behind an emulated
Intel IOMMU with interrupt remapping: installing QEMU from Debian's bookworm-backports
(``install.py``), the guest image built from Debian packages (``image.py``, with
``modules.py``, ``cpio.py`` and the guest's ``/init``).
"""

from __future__ import annotations

from sriovstack.qemu.image import GUEST_MODULES, Image, Package, build_image, load_image
from sriovstack.qemu.install import (InstallPlan, QemuInfo, apply_install, installed_qemu,
                                     plan_install)

__all__ = [
    "GUEST_MODULES", "Image", "Package", "build_image", "load_image",
    "InstallPlan", "QemuInfo", "apply_install", "installed_qemu", "plan_install",
]
