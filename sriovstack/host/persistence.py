"""Keeping a PF's VF count across reboots: the systemd unit, udev rule and modprobe option we write.

Three methods (reference/linux_host.md §4; chapter §20.2 step 4c):

* ``systemd`` - one oneshot unit per PF, ``sriovstack-vfs@<pci-address>.service``, that runs
  ``sriovstack host set-vfs <address> <n>`` ordered after the PF's device and before libvirtd
  and the compute/SR-IOV agents, plus a udev rule that tags the PF for systemd and restarts the
  unit when the PF driver binds again (driver reload, PF reset).  One file per PF rather than a
  template plus a count file: the count sits in the one file that applies it, each PF fails or
  is removed on its own, and ``systemctl status`` names the PF.
* ``udev`` - only the rule, writing ``sriov_numvfs`` itself when the driver binds.
* ``modprobe`` - ``options <driver> max_vfs=N`` in /etc/modprobe.d/<driver>.conf: applies to
  every port of that driver and, on RHEL, needs the initramfs rebuilt.

Never rc.local: under systemd it runs late, in parallel with other services, with no ordering
before libvirtd and no re-run on driver reload (chapter §20.2 note; systemd-rc-local-generator(8)).
Everything is addressed by PCI address, because netdev names change and addresses do not.
All paths are host paths written under a root prefix, so a simulated host gets the files.
"""

from __future__ import annotations

import enum
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from sriovstack.errors import NotSupported
from sriovstack.host.sysfs import SysfsIO
from sriovstack.pci import PciAddress

__all__ = [
    "PersistMethod",
    "PersistTarget",
    "FileChange",
    "PersistPlan",
    "UDEV_RULES",
    "BEFORE_UNITS",
    "unit_name",
    "unit_path",
    "device_unit",
    "pf_device_path",
    "plan_persistence",
    "apply_persistence",
]

UDEV_RULES = "/etc/udev/rules.d/70-sriovstack-vfs.rules"
UNIT_DIR = "/etc/systemd/system"
WANTS_DIR = f"{UNIT_DIR}/multi-user.target.wants"
# Everything that must find the VFs in place: libvirt (monolithic and modular daemons), our
# agents, and the OpenStack services they may run beside.
BEFORE_UNITS = ("libvirtd.service", "virtqemud.service", "sriovstack-compute-agent.service",
                "sriovstack-sriov-agent.service", "neutron-sriov-nic-agent.service",
                "openstack-nova-compute.service")
# Drivers with a VF-count module option and the option's name (§4: the others are sysfs-only).
_MODULE_OPTION = {"igb": "max_vfs", "ixgbe": "max_vfs", "mlx4_core": "num_vfs"}
_HEADER = "# Managed by sriovstack (sriovstack host set-vfs --persist ...); one PF per line.\n"


class PersistMethod(enum.Enum):
    """How the VF count is kept across reboots."""

    SYSTEMD = "systemd"
    UDEV = "udev"
    MODPROBE = "modprobe"


@dataclass(frozen=True, slots=True)
class PersistTarget:
    """Keep ``count`` VFs on the PF at ``address``; ``device_path``: its /sys/devices path."""

    address: PciAddress
    driver: str | None
    count: int
    device_path: str


@dataclass(frozen=True, slots=True)
class FileChange:
    """One host file to write (``content``), link (``link_to``) or remove (both None)."""

    path: str
    content: str | None = None
    link_to: str | None = None

    @property
    def removes(self) -> bool:
        return self.content is None and self.link_to is None


@dataclass(frozen=True, slots=True)
class PersistPlan:
    """The file changes for one method, the warnings to show, and the commands to run after."""

    method: PersistMethod
    target: PersistTarget
    changes: tuple[FileChange, ...]
    warnings: tuple[str, ...]
    next_steps: tuple[str, ...]


def unit_name(address: PciAddress) -> str:
    return f"sriovstack-vfs@{address}.service"


def unit_path(address: PciAddress) -> str:
    return f"{UNIT_DIR}/{unit_name(address)}"


def _escape_path(path: str) -> str:
    """systemd-escape --path: '/' becomes '-', other unsafe bytes become \\xNN."""
    parts = [p for p in path.split("/") if p]
    out = []
    for i, ch in enumerate("/".join(parts)):
        if ch == "/":
            out.append("-")
        elif ch.isalnum() and ch.isascii() or ch in ":_" or (ch == "." and i > 0):
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def device_unit(device_path: str) -> str:
    """The systemd device unit of a /sys/devices path (the PF's, once udev tags it)."""
    return f"{_escape_path(device_path)}.device"


def pf_device_path(sysfs: SysfsIO, address: PciAddress) -> str:
    """The PF's real /sys/devices/... path, resolved from its /sys/bus/pci/devices link."""
    link = f"/sys/bus/pci/devices/{address}"
    target = sysfs.readlink(link)
    return posixpath.normpath(posixpath.join(posixpath.dirname(link), target))


def _unit_text(target: PersistTarget, command: str) -> str:
    dev = device_unit(target.device_path)
    return (
        "# Managed by sriovstack (sriovstack host set-vfs --persist systemd): re-running the\n"
        "# command rewrites this file. Addressed by PCI address: netdev names can change.\n"
        "[Unit]\n"
        f"Description=sriovstack: {target.count} SR-IOV VFs on PCI {target.address}\n"
        f"Requires={dev}\n"
        f"After={dev}\n"
        f"Before={' '.join(BEFORE_UNITS)}\n"
        "\n[Service]\n"
        "Type=oneshot\n"
        "RemainAfterExit=yes\n"
        f"ExecStart={command} host set-vfs {target.address} {target.count}\n"
        "\n[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def _rule_lines(target: PersistTarget, method: PersistMethod) -> list[str]:
    match = f'SUBSYSTEM=="pci", KERNEL=="{target.address}"'
    if method is PersistMethod.UDEV:
        # On "bind" the driver is there, and numvfs is 0 again, so a plain write cannot EBUSY.
        return [f'ACTION=="bind", {match}, ATTR{{sriov_numvfs}}="{target.count}"\n']
    unit = unit_name(target.address)
    return [
        f'ACTION=="add|bind|change", {match}, TAG+="systemd"\n',
        f'ACTION=="bind", {match}, RUN+="/usr/bin/systemctl --no-block restart {unit}"\n',
    ]


def _read(root: Path, path: str) -> str | None:
    try:
        return (root / path.lstrip("/")).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _rules_change(root: Path, target: PersistTarget, method: PersistMethod | None) -> FileChange:
    """Our rules file with this PF's lines replaced (``method`` None: only removed)."""
    old = _read(root, UDEV_RULES) or ""
    mine = f'KERNEL=="{target.address}"'
    kept = [line + "\n" for line in old.splitlines()
            if line.strip() and not line.startswith("#") and mine not in line]
    new = kept + (_rule_lines(target, method) if method is not None else [])
    return FileChange(UDEV_RULES, _HEADER + "".join(new) if new else None)


def _unit_removal(root: Path, address: PciAddress) -> list[FileChange]:
    paths = (unit_path(address), f"{WANTS_DIR}/{unit_name(address)}")
    return [FileChange(p) for p in paths if os.path.lexists(root / p.lstrip("/"))]


def _modprobe_text(old: str, driver: str, option: str, count: int) -> str:
    """``old`` with every ``<option>=`` of ``options <driver>`` dropped, then our line once."""
    ours = f"# sriovstack: {option} for every {driver} port"
    lines: list[str] = []
    for line in old.splitlines():
        words = line.split()
        if line.strip() == ours:
            continue
        if words[:2] == ["options", driver]:
            rest = [w for w in words[2:] if not w.startswith(f"{option}=")]
            if not rest:
                continue
            line = " ".join(["options", driver, *rest])
        lines.append(line)
    lines += [ours, f"options {driver} {option}={count}"]
    return "\n".join(lines) + "\n"


def _modprobe_plan(root: Path, target: PersistTarget) -> PersistPlan:
    driver = target.driver or ""
    option = _MODULE_OPTION.get(driver)
    if option is None:
        raise NotSupported(
            f"--persist modprobe: driver {driver or '(none bound)'} of PF {target.address} has no "
            f"VF-count module option (only {', '.join(sorted(_MODULE_OPTION))} do)",
            fix="use --persist systemd", field="persist", value="modprobe")
    path = f"/etc/modprobe.d/{driver}.conf"
    text = _modprobe_text(_read(root, path) or "", driver, option, target.count)
    changes = [FileChange(path, text), *_unit_removal(root, target.address)]
    rules = _rules_change(root, target, None)
    if _read(root, UDEV_RULES) is not None:
        changes.append(rules)
    warnings = (
        f"options {driver} {option}={target.count} applies to EVERY port that {driver} drives, "
        f"not only {target.address} (chapter 20.2 4c); use --persist systemd for one port",
        "on RHEL the driver loads from the initramfs: rebuild it (dracut -f) or the option "
        "is not seen at boot",
    )
    return PersistPlan(PersistMethod.MODPROBE, target, tuple(changes), warnings,
                       ("dracut -f",))


def plan_persistence(root: Path, target: PersistTarget, method: PersistMethod,
                     command: str = "/usr/bin/sriovstack") -> PersistPlan:
    """The file changes that keep ``target`` with ``method``, merged with what ``root`` holds.

    Raises NotSupported for ``modprobe`` with a driver that has no VF-count option.
    """
    if method is PersistMethod.MODPROBE:
        return _modprobe_plan(root, target)
    rules = _rules_change(root, target, method)
    if method is PersistMethod.UDEV:
        changes = (rules, *_unit_removal(root, target.address))
        return PersistPlan(method, target, changes, (), ("udevadm control --reload",))
    name = unit_name(target.address)
    changes = (FileChange(unit_path(target.address), _unit_text(target, command)),
               FileChange(f"{WANTS_DIR}/{name}", link_to=unit_path(target.address)),
               rules)
    return PersistPlan(method, target, changes, (),
                       ("systemctl daemon-reload", "udevadm control --reload"))


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.sriovstack-tmp")
    tmp.write_text(content, encoding="utf-8")
    os.replace(tmp, path)


def apply_persistence(root: Path, plan: PersistPlan) -> None:
    """Write, link or remove each file of ``plan`` under ``root`` (each write is atomic)."""
    for change in plan.changes:
        path = root / change.path.lstrip("/")
        if change.removes:
            if os.path.lexists(path):
                path.unlink()
        elif change.link_to is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(path):
                path.unlink()
            # Absolute, as `systemctl enable` makes it: it names the host's own unit file.
            path.symlink_to(change.link_to)
        else:
            _write_atomically(path, change.content or "")
