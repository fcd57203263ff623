"""QEMU guests with the chapter's NIC: the command line, booting one and waiting for its exec
agent, the record other processes find it by, running commands in it, stopping it.

A guest is ``q35`` with the emulated Intel IOMMU (interrupt remapping on), one or two
emulated 82576 ports (``-device igb``), a virtio control NIC on user networking with
``restrict=on`` (a hostfwd from 127.0.0.1 to the exec agent, and, for an all-in-one's compute
host, a guestfwd from ``API_ADDRESS`` to the API on this machine's loopback: the guest reaches
nothing else), and the host's root shared read-only over 9p.  TCG is the default; KVM is
used only when asked for (``Accel.KVM``) or, with ``Accel.AUTO``, when /dev/kvm opens and a
KVM guest answers within its grace time (a loaded machine's KVM guest was seen to hang).
"""

from __future__ import annotations

import enum
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sriovstack.errors import HostError, NotFound
from sriovstack.qemu.image import Image
from sriovstack.qemu.initscript import AGENT_PORT, GUEST_ADDRESS, init_archive

__all__ = ["Accel", "GuestSpec", "Guest", "ExecResult", "Booting", "qemu_argv", "kernel_args",
           "boot", "find_guest", "list_guests", "stop", "QEMU", "API_ADDRESS", "API_PORT"]

QEMU = "qemu-system-x86_64"
_CTL_MAC = "52:54:00:5a:00:01"
_KVM_GRACE = 90.0
_KVM_FIRST_WORDS = 20.0   # a KVM kernel prints at once; a hung KVM guest prints nothing
# Where a guest given ``GuestSpec.api`` reaches the control plane: QEMU's guestfwd relays each
# connection to this address to the API on this machine's loopback (``relay.py``).
API_ADDRESS = "10.0.2.100"
API_PORT = 8080


class Accel(enum.StrEnum):
    TCG = "tcg"
    KVM = "kvm"
    AUTO = "auto"


@dataclass(frozen=True, slots=True)
class GuestSpec:
    """What to boot: a name, 1 or 2 igb ports, memory, and extra kernel arguments (the
    topology's command line; ``intel_iommu=on`` unless ``iommu`` is False).

    ``api``: (host, port) of the API on this machine's loopback, which the guest then reaches
    at ``API_ADDRESS:API_PORT`` (and nothing else).  ``tied``: QEMU is killed when the thread
    that booted it ends (the all-in-one's guests never outlive it, even on SIGKILL)."""

    name: str
    igb_ports: int = 1
    memory_mb: int = 1024
    iommu: bool = True
    cmdline: tuple[str, ...] = ()
    api: tuple[str, int] | None = None
    tied: bool = False


@dataclass(frozen=True, slots=True)
class ExecResult:
    rc: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class Guest:
    """A running guest: its QEMU process, the loopback port of its exec agent, its console
    log, how it was accelerated and how long it took to answer."""

    name: str
    pid: int
    port: int
    console: Path
    accel: Accel
    boot_seconds: float

    def request(self, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        """One request to the guest's exec agent; raises HostError when it cannot be asked."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.settimeout(timeout)
                sock.sendall(json.dumps(body).encode() + b"\n")
                with sock.makefile("rb") as stream:
                    line = stream.readline()
        except OSError as exc:
            raise HostError(f"guest {self.name}: exec agent on 127.0.0.1:{self.port} did not "
                            f"answer: {exc}", value=self.name) from exc
        if not line:
            raise HostError(f"guest {self.name}: exec agent closed the connection",
                            value=self.name)
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise HostError(f"guest {self.name}: {answer['error']}", value=self.name)
        return answer

    def run(self, argv: list[str], timeout: float = 120.0) -> ExecResult:
        """Run ``argv`` in the guest (chrooted in the host's root) and wait for it."""
        answer = self.request({"op": "run", "argv": argv, "timeout": timeout}, timeout + 15)
        return ExecResult(int(answer["rc"]), answer["stdout"], answer["stderr"])

    def spawn(self, argv: list[str], log: str) -> int:
        """Start ``argv`` detached in the guest, its output appended to ``log`` (a path in
        the guest); return its pid there."""
        return int(self.request({"op": "spawn", "argv": argv, "log": log}, 30)["pid"])

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True


def kernel_args(spec: GuestSpec) -> str:
    """The guest kernel's command line: console, the IOMMU, ``no_timer_check`` (a loaded TCG
    machine otherwise may panic: "timer doesn't work through Interrupt-remapped IO-APIC"),
    the init's parameters and the topology's own arguments."""
    args = ["console=ttyS0", "no_timer_check", "panic=-1", "loglevel=4"]
    args += ["intel_iommu=on"] if spec.iommu else []
    args += [f"sriovstack.name={spec.name}", f"sriovstack.ctlmac={_CTL_MAC}",
             f"sriovstack.python={sys.executable}",
             f"sriovstack.agent={Path(__file__).with_name('guest_agent.py')}"]
    return " ".join(args + list(spec.cmdline))


def qemu_argv(image: Image, spec: GuestSpec, accel: Accel, port: int, console: Path,
              initrd: Path) -> list[str]:
    """The QEMU command line of ``spec`` (accel TCG or KVM; ``initrd``: the image's with the
    init appended)."""
    ctl = f"user,id=ctl,restrict=on,hostfwd=tcp:127.0.0.1:{port}-{GUEST_ADDRESS}:{AGENT_PORT}"
    if spec.api is not None:
        host, api_port = spec.api
        relay = f"{sys.executable} {Path(__file__).with_name('relay.py')} {host} {api_port}"
        if "," in relay:
            raise HostError(f"a comma in {relay!r} would split QEMU's -netdev option",
                            value=relay, fix="run sriovstack from a path without commas")
        ctl += f",guestfwd=tcp:{API_ADDRESS}:{API_PORT}-cmd:{relay}"
    # setpriv --pdeathsig: the kernel kills QEMU when the thread that started it ends.
    argv = ["setpriv", "--pdeathsig", "KILL", "--"] if spec.tied else []
    argv += [QEMU, "-accel", "kvm" if accel is Accel.KVM else "tcg", "-m", str(spec.memory_mb),
            "-smp", "1", "-machine", "q35,kernel-irqchip=split", "-nodefaults",
            "-display", "none", "-no-reboot", "-serial", f"file:{console}",
            "-device", "intel-iommu,intremap=on,caching-mode=on",
            "-kernel", str(image.kernel), "-initrd", str(initrd),
            "-append", kernel_args(spec),
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on",
            "-netdev", ctl,
            "-device", f"virtio-net-pci,netdev=ctl,mac={_CTL_MAC}"]
    for i in range(spec.igb_ports):
        # Each port behind its own root port: the PF's VFs take routing IDs after it (offset
        # 0x80, stride 2) that would collide with the next device on a shared bus.
        argv += ["-device", f"pcie-root-port,id=rp{i},chassis={i + 1},slot={i + 1}",
                 "-netdev", f"user,id=p{i},restrict=on",
                 "-device", f"igb,bus=rp{i},netdev=p{i},mac=52:54:00:82:57:{i:02x}"]
    return argv


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kvm_usable() -> bool:
    """/dev/kvm exists and opens read-write."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


def _record(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


class Booting:
    """A guest whose QEMU runs and whose exec agent has not answered yet: ``poll`` it (each
    call one quick look) until it gives the Guest, or ``kill`` it."""

    def __init__(self, image: Image, spec: GuestSpec, accel: Accel, run_dir: Path,
                 deadline: float) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.spec, self.accel, self.run_dir, self.deadline = spec, accel, run_dir, deadline
        self.console = run_dir / f"{spec.name}.console.log"
        self.console.unlink(missing_ok=True)
        initrd = run_dir / f"{spec.name}.initrd"
        initrd.write_bytes(image.initrd.read_bytes() + init_archive())
        port = _free_port()
        self.started = time.monotonic()
        try:
            self._proc = subprocess.Popen(
                qemu_argv(image, spec, accel, port, self.console, initrd),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(run_dir / f"{spec.name}.qemu.log").open("wb"), start_new_session=True)
        except FileNotFoundError as exc:
            raise HostError(f"{QEMU} is not installed", fix="sriovstack qemu install") from exc
        self._guest = Guest(spec.name, self._proc.pid, port, self.console, accel, 0.0)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def poll(self) -> Guest | None:
        """The guest once its agent answers (recorded in the run dir), else None.  Raises
        HostError (QEMU killed) when QEMU exited, the deadline passed, or a KVM guest stays
        silent past its first seconds."""
        name, log = self.spec.name, self.run_dir / f"{self.spec.name}.qemu.log"
        if self._proc.poll() is not None:
            raise HostError(f"guest {name}: QEMU exited ({self._proc.returncode}) before its "
                            f"agent answered; see {self.console} and {log}", value=name)
        silent = not (self.console.exists() and self.console.stat().st_size)
        if (self.elapsed() > self.deadline
                or (self.accel is Accel.KVM and self.elapsed() > _KVM_FIRST_WORDS and silent)):
            self.kill()
            raise HostError(f"guest {name} ({self.accel}): no answer from its agent in "
                            f"{self.elapsed():.0f} s; see {self.console}", value=name)
        try:
            self._guest.request({"op": "ping"}, 5)
        except HostError:
            return None
        guest = Guest(name, self._proc.pid, self._guest.port, self.console, self.accel,
                      round(self.elapsed(), 1))
        data = asdict(guest)
        data["console"] = str(guest.console)
        _record(self.run_dir, name).write_text(json.dumps(data) + "\n")
        return guest

    def kill(self) -> None:
        _kill(self._proc.pid)


def _start(image: Image, spec: GuestSpec, accel: Accel, run_dir: Path,
           deadline: float) -> Guest:
    booting = Booting(image, spec, accel, run_dir, deadline)
    while True:
        guest = booting.poll()
        if guest is not None:
            return guest
        time.sleep(1)


def boot(image: Image, spec: GuestSpec, run_dir: Path, accel: Accel = Accel.TCG,
         deadline: float = 420.0) -> Guest:
    """Boot ``spec`` and wait (at most ``deadline`` seconds) until its exec agent answers;
    record it in ``run_dir`` for ``find_guest``.  With ``Accel.AUTO``, KVM is tried first when
    /dev/kvm opens, and TCG boots if KVM gives no answer within its grace time.  Raises
    HostError when QEMU is missing, exits, or the guest does not answer in time."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if accel is Accel.AUTO:
        if kvm_usable():
            try:
                guest = _start(image, spec, Accel.KVM, run_dir, min(deadline, _KVM_GRACE))
            except HostError:
                guest = _start(image, spec, Accel.TCG, run_dir, deadline)
        else:
            guest = _start(image, spec, Accel.TCG, run_dir, deadline)
    else:
        guest = _start(image, spec, accel, run_dir, deadline)
    return guest


def find_guest(run_dir: Path, name: str) -> Guest:
    """The running guest ``name`` recorded in ``run_dir``.  Raises NotFound when there is no
    such guest or its QEMU has gone."""
    try:
        data = json.loads(_record(run_dir, name).read_text())
    except FileNotFoundError as exc:
        raise NotFound(f"no QEMU guest named {name} in {run_dir}", value=name,
                       fix=f"sriovstack qemu boot --name {name}") from exc
    guest = Guest(data["name"], data["pid"], data["port"], Path(data["console"]),
                  Accel(data["accel"]), data["boot_seconds"])
    if not guest.alive():
        raise NotFound(f"QEMU guest {name} (pid {guest.pid}) is no longer running",
                       value=name, fix=f"sriovstack qemu boot --name {name}")
    return guest


def list_guests(run_dir: Path) -> list[Guest]:
    """The guests recorded in ``run_dir`` whose QEMU still runs."""
    found = []
    for record in sorted(run_dir.glob("*.json")) if run_dir.is_dir() else []:
        try:
            found.append(find_guest(run_dir, record.stem))
        except NotFound:
            continue
    return found


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(50):
        try:
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            return
        time.sleep(0.1)


def stop(run_dir: Path, guest: Guest) -> None:
    """Power the guest off (its QEMU is killed) and forget it."""
    _kill(guest.pid)
    _record(run_dir, guest.name).unlink(missing_ok=True)
