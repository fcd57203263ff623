"""Compute hosts on a real Linux kernel (``all-in-one --compute-hosts qemu``): each compute host
of the topology is a QEMU guest with the chapter's emulated Intel 82576 (one igb device per
port of the topology's NIC, at most two), the emulated Intel IOMMU with interrupt remapping and
the topology's kernel arguments, running the real ``sriovstack agent compute`` and ``agent
sriov`` on its own kernel (igb/igbvf, sysfs, rtnetlink), not threads of this process.

What each guest gets, in order:
  1. boot (at most ``parallel`` QEMUs starting at once; each tied to this process's thread:
     QEMU dies with it);
  2. its igb ports renamed to the topology's netdevs (by PCI address order, as a systemd
     ``.link`` file would name them), so the chapter's files and commands name the same PFs;
  3. VFs written to each PF's ``sriov_numvfs`` (the NIC's numvfs, else sriov_totalvfs; 0
     first when another count is set, as the kernel wants), and the PFs up (the SR-IOV agent
     counts a PF without carrier unhealthy).  A shell does it: ``sriovstack host set-vfs`` in
     the guest takes minutes under TCG (its Python imports and reads over 9p);
  4. the chapter's config files (nova.conf whitelist, sriov_agent.ini mappings) with the PF's
     guest address, written under ``state_dir/hosts/<name>`` here and copied, with the agents'
     credentials, to the guest's tmpfs (``GUEST_STATE``: its /tmp is its own, so a state dir
     under this machine's /tmp would not show through 9p);
  5. both agents started detached in the guest, state on the guest's tmpfs (``/run``), the API
     reached at ``API_ADDRESS:API_PORT``: QEMU relays that, and only that, to the API's port
     on this machine's loopback.
"""

from __future__ import annotations

import compileall
import enum
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.hosts import SimulatedHost, prepare_guest_host
from sriovstack.errors import ConfigError, Conflict, HostError, NotFound
from sriovstack.host.simulated import TopologyHost
from sriovstack.qemu import (API_ADDRESS, API_PORT, Accel, Booting, Guest, GuestSpec,
                             find_guest, load_image, stop)

__all__ = ["ComputeHosts", "GuestOptions", "GuestComputes", "guest_spec", "guest_cmdline",
           "GUEST_STATE"]

Progress = Callable[[str], None]
GUEST_STATE = "/run/sriovstack"   # the agents' state and logs, on the guest's tmpfs
_EMULATED_MODEL = "intel-82576"
_MAX_PORTS = 2
# Boot-loader and distribution words of a topology's command line that mean nothing to the
# guest's kernel (its root is the initramfs): everything else (intel_iommu=, iommu=,
# igb.max_vfs=, ...) is passed on.
_DROPPED = ("BOOT_IMAGE=", "root=", "crashkernel=", "resume=", "rd.")
_DROPPED_WORDS = ("ro", "rw", "rhgb", "quiet", "splash")


class ComputeHosts(enum.StrEnum):
    """What runs the all-in-one's compute hosts."""

    SIMULATED = "simulated"   # simulated kernels, agents as threads of this process
    QEMU = "qemu"             # QEMU guests with the emulated 82576, agents in the guests


@dataclass(frozen=True, slots=True)
class GuestOptions:
    """How to boot the compute guests: the image (``sriovstack qemu image build``), where
    their records go (``sriovstack host exec`` finds them there), and the time limits."""

    image_dir: Path
    guests_dir: Path
    accel: Accel = Accel.TCG
    memory_mb: int = 1024
    parallel: int = 2
    boot_timeout: float = 420.0
    setup_timeout: float = 300.0


def guest_cmdline(cmdline: str) -> tuple[str, ...]:
    """The topology's kernel arguments a guest boots with: its boot-loader and root words
    dropped, the rest (IOMMU, driver options) kept in order."""
    return tuple(w for w in cmdline.split()
                 if not w.startswith(_DROPPED) and w not in _DROPPED_WORDS)


def _ports(host: TopologyHost) -> tuple[str, ...]:
    """The topology's netdevs of the host's emulated ports; ConfigError for a NIC QEMU does
    not emulate or more ports than two."""
    names: list[str] = []
    for nic in host.nics:
        if nic.model.key != _EMULATED_MODEL:
            raise ConfigError(f"compute host {host.name}: QEMU emulates only the Intel 82576 "
                              f"(igb), not {nic.model.key}", option="--compute-hosts",
                              fix="use --compute-hosts simulated for this topology")
        names += nic.netdevs
    if not names or len(names) > _MAX_PORTS:
        raise ConfigError(f"compute host {host.name}: {len(names)} NIC ports; a guest gets "
                          f"one or two emulated 82576 ports", option="--compute-hosts",
                          fix="give each compute host one 82576 (one or two ports)")
    return tuple(names)


def guest_spec(host: TopologyHost, api: tuple[str, int], memory_mb: int) -> GuestSpec:
    """The guest of compute host ``host``: its ports, the topology's kernel arguments (its own
    ``intel_iommu=``, none added), the API forward, tied to this process."""
    return GuestSpec(host.name, len(_ports(host)), memory_mb, iommu=False,
                     cmdline=guest_cmdline(host.kernel_cmdline), api=api, tied=True)


@dataclass(frozen=True, slots=True)
class _Port:
    address: str     # the PF's PCI address in the guest
    netdev: str      # the topology's name it now has
    numvfs: int


class GuestComputes:
    """The running compute guests of one all-in-one: ``start`` them, ``stop`` them (always:
    every QEMU started is killed, whatever failed)."""

    def __init__(self, options: GuestOptions, progress: Progress,
                 cancel: threading.Event | None = None) -> None:
        self.options = options
        self._progress = progress
        self._cancel = cancel or threading.Event()
        self._booting: list[Booting] = []
        self.guests: dict[str, Guest] = {}
        self.agent_pids: dict[str, tuple[int, int]] = {}
        self.boot_wall_seconds = 0.0

    # -- boot ---------------------------------------------------------------------------------

    def boot(self, hosts: Sequence[TopologyHost], api: tuple[str, int]) -> None:
        """Boot every host's guest, ``parallel`` starting at a time; return when all answer.
        Raises HostError when one fails or the wait is cancelled (the caller stops them)."""
        image = load_image(self.options.image_dir)
        specs = [guest_spec(h, api, self.options.memory_mb) for h in hosts]
        for spec in specs:
            self._refuse_running(spec.name)
        _compile_bytecode(self._progress)
        pending = list(specs)
        started = time.monotonic()
        next_note = started + 15
        while pending or self._booting:
            while pending and len(self._booting) < self.options.parallel:
                spec = pending.pop(0)
                self._progress(f"{spec.name}: booting ({self.options.accel}, "
                               f"{spec.igb_ports} emulated 82576 port(s), "
                               f"{' '.join(spec.cmdline) or 'no extra kernel arguments'})")
                self._booting.append(Booting(image, spec, self.options.accel,
                                             self.options.guests_dir, self.options.boot_timeout))
            for booting in list(self._booting):
                guest = booting.poll()
                if guest is not None:
                    self._booting.remove(booting)
                    self.guests[guest.name] = guest
                    self._progress(f"{guest.name}: up in {guest.boot_seconds} s "
                                   f"(qemu pid {guest.pid}, console {guest.console})")
            if self._cancel.is_set():
                raise HostError("cancelled while the compute hosts booted")
            if time.monotonic() > next_note and self._booting:
                next_note = time.monotonic() + 15
                self._progress(f"waiting for {', '.join(b.spec.name for b in self._booting)}"
                               f" ({time.monotonic() - started:.0f} s)")
            time.sleep(0.5)
        self.boot_wall_seconds = round(time.monotonic() - started, 1)

    def _refuse_running(self, name: str) -> None:
        try:
            other = find_guest(self.options.guests_dir, name)
        except NotFound:
            return
        raise Conflict(f"a QEMU guest named {name} already runs (qemu pid {other.pid})",
                       value=name, fix=f"sriovstack qemu stop {name}")

    # -- set up and agents --------------------------------------------------------------------

    def start_agents(self, hosts: Sequence[TopologyHost], state_dir: Path,
                     credentials: Credentials) -> tuple[SimulatedHost, ...]:
        """Set up every guest (ports, VFs, config) and start its two agents, the guests in
        parallel; return the hosts with their config files.  Raises HostError naming the
        guest and step that failed."""
        cred_file = (f"[service_user]\nusername = {credentials.agent_user}\n"
                     f"password = {credentials.agent_password}\nproject_name = service\n")
        with ThreadPoolExecutor(max_workers=max(1, len(hosts)),
                                thread_name_prefix="guest-setup") as pool:
            futures: list[Future[SimulatedHost]] = [
                pool.submit(self._set_up, h, state_dir, cred_file) for h in hosts]
            deadline = time.monotonic() + self.options.setup_timeout
            while True:
                done, running = wait(futures, timeout=0.5, return_when=FIRST_EXCEPTION)
                failed = [f for f in done if f.exception() is not None]
                if failed:
                    raise failed[0].exception()  # type: ignore[misc]
                if not running:
                    break
                if self._cancel.is_set() or time.monotonic() > deadline:
                    # Killing the guests ends the requests the threads wait on.
                    self.stop()
                    raise HostError("cancelled while the compute hosts were set up"
                                    if self._cancel.is_set() else
                                    f"the compute hosts were not set up in "
                                    f"{self.options.setup_timeout:.0f} s")
        return tuple(f.result() for f in futures)

    def _set_up(self, host: TopologyHost, state_dir: Path, cred_file: str) -> SimulatedHost:
        guest = self.guests[host.name]
        ports = self._name_ports(guest, host)
        script = ["set -e"]
        for port in ports:
            numvfs = f"/sys/bus/pci/devices/{port.address}/sriov_numvfs"
            script += [f'if [ "$(cat {numvfs})" != {port.numvfs} ]; then echo 0 > {numvfs}; '
                       f'echo {port.numvfs} > {numvfs}; fi', f"ip link set {port.netdev} up"]
        self._progress(f"{host.name}: " + ", ".join(f"{p.numvfs} VFs on {p.netdev} "
                                                    f"({p.address})" for p in ports))
        _checked(guest, ["sh", "-c", "\n".join(script)], "VFs and PF links", 120)
        prepared = prepare_guest_host(host, state_dir, ports[-1].address)
        files = [_copy_in(guest, f"{GUEST_STATE}/{f.relative_to(prepared.root)}",
                          f.read_text(encoding="utf-8")) for f in prepared.config_files]
        creds = _copy_in(guest, f"{GUEST_STATE}/agent-credentials.conf", cred_file)
        self.agent_pids[host.name] = self._spawn_agents(guest, host, files, creds)
        self._progress(f"{host.name}: agents started (pids {self.agent_pids[host.name]}): "
                       f"{len(ports)} PF(s) {', '.join(p.netdev for p in ports)} with "
                       f"{sum(p.numvfs for p in ports)} VFs; logs in {GUEST_STATE} there")
        return prepared

    def _name_ports(self, guest: Guest, host: TopologyHost) -> tuple[_Port, ...]:
        """Give the guest's igb ports (by PCI address) the topology's netdev names."""
        listing = _checked(guest, ["sh", "-c", "for d in /sys/bus/pci/drivers/igb/0*; do "
                                   'echo "${d##*/}" $(ls "$d/net"); done'], "igb ports", 30)
        found = sorted(tuple(line.split()) for line in listing.splitlines() if line.strip())
        names = _ports(host)
        if len(found) != len(names) or any(len(f) != 2 for f in found):
            raise HostError(f"{host.name}: the guest has igb ports {found}, wanted "
                            f"{len(names)} with a netdev each", value=host.name)
        counts = [nic.numvfs or nic.model.totalvfs for nic in host.nics
                  for _ in nic.netdevs]
        script = "; ".join(f"ip link set {cur} down && ip link set {cur} name {new}"
                           for (_, cur), new in zip(found, names) if cur != new)
        if script:
            _checked(guest, ["sh", "-c", f"set -e; {script}"], "renaming the ports", 30)
        return tuple(_Port(addr, new, n) for (addr, _), new, n in zip(found, names, counts))

    def _spawn_agents(self, guest: Guest, host: TopologyHost, config_files: list[str],
                      cred_file: str) -> tuple[int, int]:
        files = [a for f in config_files for a in ("--config-file", f)]
        common = [*files, "--host", host.name, "--root", "/", "--credentials", cred_file,
                  "--api", f"http://{API_ADDRESS}:{API_PORT}"]
        _checked(guest, ["mkdir", "-p", f"{GUEST_STATE}/compute", f"{GUEST_STATE}/sriov"],
                 "agent state dirs", 30)
        compute = guest.spawn([*_SRIOVSTACK, "agent", "compute", *common, "--state-dir",
                               f"{GUEST_STATE}/compute", "--virt", "fake",
                               "--vcpus", str(host.cpus), "--memory-mb", str(host.memory_mb)],
                              f"{GUEST_STATE}/compute-agent.log")
        nic = guest.spawn([*_SRIOVSTACK, "agent", "sriov", *common, "--state-dir",
                           f"{GUEST_STATE}/sriov"], f"{GUEST_STATE}/sriov-agent.log")
        return compute, nic

    def check_agents(self) -> None:
        """Raise HostError (with the end of its log) when an agent of a guest has exited."""
        for name, pids in self.agent_pids.items():
            guest = self.guests[name]
            for pid, which in zip(pids, ("compute", "sriov")):
                if guest.run(["kill", "-0", str(pid)], 30).rc != 0:
                    log = guest.run(["tail", "-n", "15", f"{GUEST_STATE}/{which}-agent.log"],
                                    30).stdout
                    raise HostError(f"{name}: the {which} agent exited in the guest; its "
                                    f"log ends:\n{log}", value=name,
                                    fix=f"sriovstack host exec {name} -- cat "
                                    f"{GUEST_STATE}/{which}-agent.log")

    # -- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Kill every guest this started, booted or not (idempotent)."""
        for booting in self._booting:
            booting.kill()
        self._booting.clear()
        for guest in list(self.guests.values()):
            stop(self.options.guests_dir, guest)
        self.guests.clear()


# The guest runs this machine's Python and venv: the same sriovstack as this process.
_SRIOVSTACK = (sys.executable, "-m", "sriovstack.cli.main")


def _compile_bytecode(progress: Progress) -> None:
    """Write sriovstack's ``.pyc`` files here first (where PYTHONDONTWRITEBYTECODE kept
    imports from doing it): a guest reads the host root read-only, so without them each agent
    compiles every module under TCG, for minutes."""
    package = Path(__file__).resolve().parents[1]
    started = time.monotonic()
    if not compileall.compile_dir(package, quiet=1, workers=1):
        progress(f"could not write every .pyc under {package}: the guests compile them")
    elif time.monotonic() - started > 1:
        progress(f"compiled sriovstack's bytecode for the guests "
                 f"({time.monotonic() - started:.0f} s)")


def _checked(guest: Guest, argv: list[str], what: str, timeout: float) -> str:
    result = guest.run(argv, timeout)
    if result.rc != 0:
        raise HostError(f"{guest.name}: {what} failed in the guest ({result.rc}): "
                        f"{(result.stderr or result.stdout).strip()[-400:]}",
                        value=guest.name, path=shlex.join(argv))
    return result.stdout


def _copy_in(guest: Guest, path: str, text: str) -> str:
    """Write ``text`` to ``path`` in the guest (mode 0600, parents made); return ``path``."""
    _checked(guest, ["sh", "-c", 'umask 077 && mkdir -p "$(dirname "$1")" && '
                     'printf "%s" "$2" > "$1"', "sh", path, text], f"writing {path}", 30)
    return path
