"""Installing QEMU 10 from Debian's ``bookworm-backports`` (Debian 12's own QEMU 7.2 has no
``igb`` device): the apt source to add, the commands to run, and what is installed now."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sriovstack.errors import Forbidden
from sriovstack.qemu.commands import run

__all__ = ["InstallPlan", "QemuInfo", "installed_qemu", "plan_install", "apply_install",
           "backports_source"]

SOURCES_FILE = Path("/etc/apt/sources.list.d/sriovstack-bookworm-backports.sources")
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
_DEFAULT_MIRROR = "http://deb.debian.org/debian"


@dataclass(frozen=True, slots=True)
class QemuInfo:
    """The installed ``qemu-system-x86_64``: its version and whether it has the two devices
    the guests need."""

    version: str
    has_igb: bool
    has_intel_iommu: bool

    @property
    def usable(self) -> bool:
        return self.has_igb and self.has_intel_iommu


@dataclass(frozen=True, slots=True)
class InstallPlan:
    """What ``apply_install`` does: write ``source_text`` to ``source_file`` (unless it is
    there already) and run ``commands`` in order."""

    source_file: Path
    source_text: str
    write_source: bool
    commands: tuple[tuple[str, ...], ...]

    def describe(self) -> list[str]:
        lines = ([f"write {self.source_file} (Debian's bookworm-backports suite)"]
                 if self.write_source else [f"keep {self.source_file}"])
        return lines + [" ".join(c) for c in self.commands]


def backports_source(debian_sources: str | None) -> str:
    """The deb822 stanza for bookworm-backports on the mirror the machine already uses (the
    ``URIs`` of its ``bookworm`` stanza in ``debian_sources``; deb.debian.org without one)."""
    mirror = _DEFAULT_MIRROR
    for stanza in re.split(r"\n\s*\n", debian_sources or ""):
        uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
        suites = re.search(r"^Suites:(.*)$", stanza, re.MULTILINE)
        if uris and suites and "bookworm" in suites.group(1).split():
            mirror = uris.group(1)
            break
    return ("Types: deb\n"
            f"URIs: {mirror}\n"
            "Suites: bookworm-backports\n"
            "Components: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


def plan_install(source_file: Path = SOURCES_FILE,
                 debian_sources: Path = DEBIAN_SOURCES) -> InstallPlan:
    """The steps that install qemu-system-x86 from bookworm-backports."""
    existing = debian_sources.read_text() if debian_sources.exists() else None
    text = backports_source(existing)
    write = not (source_file.exists() and source_file.read_text() == text)
    return InstallPlan(source_file, text, write, (
        ("apt-get", "update"),
        ("apt-get", "install", "-y", "-t", "bookworm-backports", "--no-install-recommends",
         "qemu-system-x86"),
    ))


def apply_install(plan: InstallPlan) -> None:
    """Carry ``plan`` out (as root).  Raises Forbidden when not root, HostError when apt
    fails."""
    if os.geteuid() != 0:
        raise Forbidden("installing QEMU changes apt's sources and packages: run as root",
                        fix="sudo sriovstack qemu install")
    if plan.write_source:
        plan.source_file.write_text(plan.source_text)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in plan.commands:
        run(list(argv), env=env)


def installed_qemu(binary: str = "qemu-system-x86_64") -> QemuInfo | None:
    """The installed QEMU, or None when ``binary`` is not on PATH."""
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout
        devices = subprocess.run([binary, "-device", "help"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"version (\S+)", version)
    return QemuInfo(match.group(1) if match else "unknown", 'name "igb"' in devices,
                    'name "intel-iommu"' in devices)
