"""The guest image: Debian's kernel and a busybox initramfs holding the modules the chapter's
host needs, built from Debian packages (``apt-get download`` + ``dpkg -x``) and cached.

The guest's ``/init`` is not in the image: each boot appends it (``initscript.py``).
Nothing else is fetched.  The cache directory holds ``vmlinuz``, ``initrd.gz`` and
``image.json`` (what was downloaded, the kernel release, the modules); the packages and their
extracted trees are removed after the build.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sriovstack.errors import HostError, NotFound
from sriovstack.qemu.commands import run
from sriovstack.qemu.cpio import CpioEntry, write_newc
from sriovstack.qemu.modules import index_modules, load_order, modinfo

__all__ = ["GUEST_MODULES", "Image", "Package", "Progress", "build_image", "load_image"]

# The modules the guest loads (their dependencies follow): the 82576 PF and VF drivers, VLAN
# and VFIO for the chapter's host; virtio for the control NIC, the 9p host root and consoles.
GUEST_MODULES = ("igb", "igbvf", "8021q", "vfio_pci", "vfio_iommu_type1", "virtio_pci",
                 "virtio_net", "9pnet_virtio", "9p", "virtio_console")
KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Package:
    """A Debian package the image was built from."""

    name: str
    version: str
    size: int


@dataclass(frozen=True, slots=True)
class Image:
    """A built guest image in ``directory``."""

    directory: Path
    kernel_release: str
    packages: tuple[Package, ...]
    modules: tuple[str, ...]
    initrd_size: int
    build_seconds: float

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.gz"


def _candidate(package: str) -> tuple[str, str]:
    """(version, Depends) of apt's candidate for ``package``."""
    text = run(["apt-cache", "show", "--no-all-versions", package])
    fields = dict(re.findall(r"^(Version|Depends): (.*)$", text, re.MULTILINE))
    if "Version" not in fields:
        raise NotFound(f"apt knows no package {package}", value=package,
                       fix="run apt-get update")
    return fields["Version"], fields.get("Depends", "")


def _kernel_package() -> tuple[str, str]:
    """The versioned kernel package Debian's ``linux-image-amd64`` points to."""
    _, depends = _candidate(KERNEL_META)
    match = re.search(r"(linux-image-[0-9][^ ,]*-amd64)", depends)
    if match is None:
        raise NotFound(f"{KERNEL_META} depends on no kernel image", value=depends)
    return match.group(1), _candidate(match.group(1))[0]


def _download(work: Path, name: str, version: str, progress: Progress) -> Path:
    progress(f"downloading {name} {version}")
    run(["apt-get", "download", "-o", "APT::Sandbox::User=root", f"{name}={version}"],
        cwd=work)
    found = sorted(work.glob(f"{name}_*.deb"))
    if not found:
        raise HostError(f"apt-get download left no {name} package in {work}")
    return found[0]


def _entries(tree: Path, busybox: Path, release: str,
             progress: Progress) -> tuple[list[CpioEntry], list[str]]:
    modules = index_modules(tree / "lib" / "modules" / release)
    cache: dict[str, list[str]] = {}

    def depends_of(name: str) -> list[str] | None:
        if name not in modules:
            return None
        if name not in cache:
            deps = modinfo(modules[name].read_bytes()).get("depends", "")
            cache[name] = [d.replace("-", "_") for d in deps.split(",") if d]
        return cache[name]

    order = load_order(GUEST_MODULES, depends_of)
    progress(f"{len(order)} modules: {' '.join(order)}")
    dirs = ["bin", "sbin", "dev", "proc", "sys", "tmp", "modules", "host"]
    entries = [CpioEntry(d, stat.S_IFDIR | 0o755) for d in dirs]
    entries.append(CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    entries.append(CpioEntry("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()))
    entries.append(CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"))
    entries.append(CpioEntry("modules.list", stat.S_IFREG | 0o644,
                             "".join(f"{m}\n" for m in order).encode()))
    entries += [CpioEntry(f"modules/{m}.ko", stat.S_IFREG | 0o644, modules[m].read_bytes())
                for m in order]
    return entries, order


def build_image(directory: Path, progress: Progress) -> Image:
    """Download Debian's kernel and busybox-static, build the initramfs and cache both in
    ``directory``; return the image.  Raises HostError when apt or dpkg fails (nothing in
    ``directory`` changes then)."""
    started = time.monotonic()
    kernel_name, kernel_version = _kernel_package()
    busybox_version, _ = _candidate(BUSYBOX)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sriovstack-image-", dir=directory) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        debs = [_download(work, kernel_name, kernel_version, progress),
                _download(work, BUSYBOX, busybox_version, progress)]
        packages = tuple(Package(n, v, d.stat().st_size) for (n, v), d in
                         zip([(kernel_name, kernel_version), (BUSYBOX, busybox_version)], debs))
        tree = work / "tree"
        for deb in debs:
            progress(f"unpacking {deb.name}")
            run(["dpkg", "-x", str(deb), str(tree)])
        release = kernel_name.removeprefix("linux-image-")
        entries, order = _entries(tree, tree / "bin" / "busybox", release, progress)
        progress("writing the initramfs")
        initrd = gzip.compress(write_newc(entries), compresslevel=6)
        (work / "initrd.gz").write_bytes(initrd)
        shutil.copyfile(tree / "boot" / f"vmlinuz-{release}", work / "vmlinuz")
        image = Image(directory, release, packages, tuple(order), len(initrd),
                      round(time.monotonic() - started, 1))
        (work / "image.json").write_text(json.dumps(_to_json(image), indent=2) + "\n")
        # Move the finished files in last, the manifest after the files it describes.
        for name in ("vmlinuz", "initrd.gz", "image.json"):
            os.replace(work / name, directory / name)
    return image


def _to_json(image: Image) -> dict[str, object]:
    data = asdict(image)
    data.pop("directory")
    return data


def load_image(directory: Path) -> Image:
    """The image cached in ``directory``.  Raises NotFound when none was built there or it
    predates a module the guests now load."""
    try:
        data = json.loads((directory / "image.json").read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no guest image in {directory}", path=str(directory),
                       fix="sriovstack qemu image build") from exc
    image = Image(directory, data["kernel_release"],
                  tuple(Package(**p) for p in data["packages"]), tuple(data["modules"]),
                  data["initrd_size"], data["build_seconds"])
    missing = sorted(set(GUEST_MODULES) - set(image.modules))
    if missing:
        raise NotFound(f"the guest image in {directory} lacks modules {', '.join(missing)}",
                       path=str(directory), fix="sriovstack qemu image build")
    return image
