"""The ``sriovstack qemu`` command group: install QEMU 10 from bookworm-backports, build and
show the guest image, boot, list and stop guests with the chapter's emulated 82576."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from sriovstack.cli.cloud.output import View, format_parser, print_list, print_show
from sriovstack.cli.inputs import positive_float, positive_int
from sriovstack.qemu import (Accel, GuestSpec, Image, apply_install, boot, build_image,
                             find_guest, installed_qemu, list_guests, load_image, plan_install,
                             stop)

__all__ = ["register", "exec_in_guest", "DEFAULT_CACHE", "DEFAULT_GUESTS"]

DEFAULT_CACHE = Path.home() / ".cache" / "sriovstack" / "qemu"
DEFAULT_GUESTS = DEFAULT_CACHE / "guests"

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
    show = isub.add_parser("show", help="what the cached image holds",
                           parents=[format_parser()])
    for p in (build, show):
        p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                       help=f"image and guest records (default {DEFAULT_CACHE})")
    build.set_defaults(func=_image_build)
    show.set_defaults(func=_image_show)
    register_guests(sub)


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


def _image_fields(image: Image) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [
        (f"package {package.name}", f"{package.version} ({package.size / 1e6:.1f} MB downloaded)")
        for package in image.packages]
    fields += [("kernel", f"{image.kernel} ({image.kernel_release})"),
               ("initramfs", f"{image.initrd} ({image.initrd_size / 1e6:.1f} MB)"),
               ("modules", f"{len(image.modules)}: {' '.join(image.modules)}"),
               ("built in", f"{image.build_seconds} s")]
    return fields


def _image_build(args: argparse.Namespace) -> int:
    out = _console()
    with out.status("resolving Debian's kernel and busybox-static") as status:
        def progress(line: str) -> None:
            out.print(f"  {line}", markup=False)
            status.update(line[:70])

        image = build_image(args.cache_dir / "image", progress)
    total = sum(p.size for p in image.packages)
    print_show(f"guest image in {image.directory}", _image_fields(image))
    out.print(f"downloaded {len(image.packages)} Debian packages, {total / 1e6:.1f} MB "
              "(removed after the build)")
    return 0


def _image_show(args: argparse.Namespace) -> int:
    image = load_image(args.cache_dir / "image")
    print_show(f"guest image in {image.directory}", _image_fields(image), View.of(args))
    return 0


_BOOT_HELP = """\
Boot a QEMU guest from the cached image and wait until its exec agent answers: q35 with the
emulated Intel IOMMU (interrupt remapping on), one or two emulated Intel 82576 ports (igb,
7 VFs each), the host's root shared read-only over 9p (the guest runs this machine's Python
and sriovstack venv chrooted into it), a control NIC whose only way out is a forward from
127.0.0.1 to the guest's exec agent.  Run commands in it with `sriovstack host exec NAME --
CMD`.  TCG by default (25-60 s to boot here); --accel auto tries KVM first when /dev/kvm
opens and falls back to TCG when the KVM guest stays silent."""


def register_guests(sub: Any) -> None:
    """Add ``qemu boot|list|stop``."""
    boot_p = sub.add_parser("boot", help="boot a guest with the emulated 82576",
                            description=_BOOT_HELP,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    boot_p.add_argument("--name", default="compute0", help="guest (host) name")
    boot_p.add_argument("--ports", type=int, choices=(1, 2), default=2,
                        help="emulated 82576 ports (default 2, the chapter's dual-port card)")
    boot_p.add_argument("--memory", type=positive_int, default=1024, metavar="MB",
                        help="guest RAM (default 1024)")
    boot_p.add_argument("--accel", choices=[a.value for a in Accel], default=Accel.TCG.value,
                        help="tcg (default), kvm, or auto: KVM when it answers, else TCG")
    boot_p.add_argument("--no-iommu", action="store_true",
                        help="boot without intel_iommu=on (20.2: host check reports it)")
    boot_p.add_argument("--append", action="append", default=[], metavar="ARG",
                        help="extra kernel argument (repeatable)")
    boot_p.add_argument("--timeout", type=positive_float, default=420.0, metavar="S",
                        help="how long to wait for the guest to answer")
    boot_p.set_defaults(func=_boot)
    lst = sub.add_parser("list", help="running guests", parents=[format_parser()])
    lst.set_defaults(func=_list)
    stp = sub.add_parser("stop", help="power a guest off")
    stp.add_argument("name", metavar="NAME", help="the guest to stop")
    stp.set_defaults(func=_stop)
    for p in (boot_p, lst, stp):
        p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                       help=f"the image (default {DEFAULT_CACHE})")
        p.add_argument("--guests-dir", type=Path, default=DEFAULT_GUESTS, metavar="DIR",
                       help=f"guest records (default {DEFAULT_GUESTS})")


def _boot(args: argparse.Namespace) -> int:
    image = load_image(args.cache_dir / "image")
    spec = GuestSpec(args.name, args.ports, args.memory, not args.no_iommu, tuple(args.append))
    out = _console()
    with out.status(f"booting {spec.name} ({args.accel}); waiting for its exec agent"):
        guest = boot(image, spec, args.guests_dir, Accel(args.accel), args.timeout)
    out.print(f"{guest.name} is up ({guest.accel}, {guest.boot_seconds} s to answer): qemu pid "
              f"{guest.pid}, exec agent on 127.0.0.1:{guest.port}, console {guest.console}")
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = [(guest.name, guest.accel.value, guest.boot_seconds, guest.pid,
             f"127.0.0.1:{guest.port}", str(guest.console))
            for guest in list_guests(args.guests_dir)]
    print_list("QEMU guests", ("name", "accel", "boot s", "qemu pid", "exec agent", "console"),
               rows, View.of(args))
    return 0


def _stop(args: argparse.Namespace) -> int:
    guest = find_guest(args.guests_dir, args.name)
    stop(args.guests_dir, guest)
    _console().print(f"{guest.name} stopped (qemu pid {guest.pid})")
    return 0


def exec_in_guest(guests_dir: Path, name: str, argv: list[str], timeout: float) -> int:
    """Run ``argv`` in guest ``name``, copy its output through, return its exit status."""
    result = find_guest(guests_dir, name).run(argv, timeout)
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    sys.stderr.write(result.stderr)
    return result.rc
