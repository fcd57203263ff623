"""The ``sriovstack qemu`` command group: install QEMU 10 from bookworm-backports, build and
show the guest image, boot, list and stop guests with the chapter's emulated 82576."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sriovstack.qemu import (Image, apply_install, build_image, installed_qemu, load_image,
                             plan_install)

__all__ = ["register", "DEFAULT_CACHE"]

DEFAULT_CACHE = Path.home() / ".cache" / "sriovstack" / "qemu"

_INSTALL_HELP = """\
Install qemu-system-x86 from Debian's bookworm-backports suite (QEMU 10: Debian 12's own QEMU
7.2 lacks the emulated Intel 82576, `-device igb`).  As root, this:
  1. writes /etc/apt/sources.list.d/sriovstack-bookworm-backports.sources (the suite on the
     Debian mirror this machine already uses),
  2. runs apt-get update,
  3. runs apt-get install -y -t bookworm-backports --no-install-recommends qemu-system-x86.
Nothing else is installed from backports (the suite's default priority keeps it opt-in)."""

_IMAGE_HELP = """\
Build the guest image in the cache directory from Debian packages only: `apt-get download`
of Debian's kernel (the linux-image-6.1.0-*-amd64 that linux-image-amd64 points to) and
busybox-static, `dpkg -x`, then an initramfs with busybox, the init and the kernel modules
the guests load (igb, igbvf, 8021q, vfio-pci, virtio, 9p and what they depend on).  The
packages are removed afterwards; vmlinuz, initrd.gz and image.json stay."""


def register(subparsers: Any) -> None:
    """Add ``qemu`` and its subcommands to the top-level parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    qemu = subparsers.add_parser("qemu", help="QEMU guests with the chapter's emulated 82576")
    sub = qemu.add_subparsers(dest="qemu_command", metavar="SUBCOMMAND", required=True)
    ins = sub.add_parser("install", help="install QEMU 10 from bookworm-backports (root)",
                         description=_INSTALL_HELP, formatter_class=fmt)
    ins.add_argument("--dry-run", action="store_true", help="print the steps; change nothing")
    ins.set_defaults(func=_install)
    image = sub.add_parser("image", help="the guest image (kernel + busybox initramfs)")
    isub = image.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)
    build = isub.add_parser("build", help="build and cache the guest image",
                            description=_IMAGE_HELP, formatter_class=fmt)
    show = isub.add_parser("show", help="what the cached image holds")
    for p in (build, show):
        p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                       help=f"image and guest records (default {DEFAULT_CACHE})")
    build.set_defaults(func=_image_build)
    show.set_defaults(func=_image_show)


def _console() -> Console:
    # Piped or captured output gets room for whole paths and package names.
    return Console(highlight=False, soft_wrap=True,
                   width=None if sys.stdout.isatty() else 200)


def _install(args: argparse.Namespace) -> int:
    out = _console()
    info = installed_qemu()
    if info is not None and info.usable:
        out.print(f"QEMU {info.version} is installed with igb and intel-iommu: nothing to do")
        return 0
    if info is not None:
        out.print(f"QEMU {info.version} is installed but lacks "
                  f"{'igb' if not info.has_igb else 'intel-iommu'}")
    plan = plan_install()
    out.print("installing qemu-system-x86 from bookworm-backports:")
    for step, line in enumerate(plan.describe(), start=1):
        out.print(f"  {step}. {line}", markup=False)
    if args.dry_run:
        out.print("dry run: nothing changed")
        return 0
    with out.status("running apt-get (this takes a few minutes)"):
        apply_install(plan)
    info = installed_qemu()
    if info is None or not info.usable:
        out.print("[bold red]error:[/] qemu-system-x86_64 still lacks igb or intel-iommu")
        return 1
    out.print(f"installed QEMU {info.version} (igb, intel-iommu)")
    return 0


def _image_table(image: Image) -> Table:
    table = Table(title=f"guest image in {image.directory}")
    table.add_column("item")
    table.add_column("value", overflow="fold")
    for package in image.packages:
        table.add_row(f"package {package.name}",
                      f"{package.version} ({package.size / 1e6:.1f} MB downloaded)")
    table.add_row("kernel", f"{image.kernel} ({image.kernel_release})")
    table.add_row("initramfs", f"{image.initrd} ({image.initrd_size / 1e6:.1f} MB)")
    table.add_row("modules", f"{len(image.modules)}: {' '.join(image.modules)}")
    table.add_row("built in", f"{image.build_seconds} s")
    return table


def _image_build(args: argparse.Namespace) -> int:
    out = _console()
    with out.status("resolving Debian's kernel and busybox-static") as status:
        def progress(line: str) -> None:
            out.print(f"  {line}", markup=False)
            status.update(line[:70])

        image = build_image(args.cache_dir / "image", progress)
    total = sum(p.size for p in image.packages)
    out.print(_image_table(image))
    out.print(f"downloaded {len(image.packages)} Debian packages, {total / 1e6:.1f} MB "
              "(removed after the build)")
    return 0


def _image_show(args: argparse.Namespace) -> int:
    image = load_image(args.cache_dir / "image")
    _console().print(_image_table(image))
    return 0
