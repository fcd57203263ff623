"""How much compute a host has, as its kernel says: the online CPUs
(``/sys/devices/system/cpu/online``) and the memory (``MemTotal`` of ``/proc/meminfo``).

Read through the sysfs seam, so a simulated host answers from its tree (whose ``/proc`` lies
under the same root) exactly as a real host does.
"""

from __future__ import annotations

import re

from sriovstack.errors import HostError
from sriovstack.host.sysfs import SysfsIO, read_required

__all__ = ["online_cpus", "memory_mb", "CPU_ONLINE", "MEMINFO"]

CPU_ONLINE = "/sys/devices/system/cpu/online"
MEMINFO = "/proc/meminfo"
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def online_cpus(sysfs: SysfsIO) -> int:
    """How many CPUs the kernel's online list names (``0-15,32-47`` is 32).

    Raises HostError naming the file when it cannot be read or holds no such list.
    """
    text = read_required(sysfs, CPU_ONLINE)
    total = 0
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _RANGE.match(part)
        if m is None:
            raise HostError(f"{CPU_ONLINE} holds {text!r}, not a CPU list such as 0-15,32-47",
                            path=CPU_ONLINE)
        total += int(m.group(2) or m.group(1)) - int(m.group(1)) + 1
    return total


def memory_mb(sysfs: SysfsIO) -> int:
    """The host's memory in MiB (``MemTotal`` is in KiB).

    Raises HostError naming the file when it cannot be read or has no usable MemTotal line.
    """
    for line in read_required(sysfs, MEMINFO).splitlines():
        fields = line.split()
        if fields[:1] == ["MemTotal:"]:
            if len(fields) < 2 or not fields[1].isdigit():
                break
            return int(fields[1]) // 1024
    raise HostError(f"{MEMINFO} has no MemTotal line with a number of kB", path=MEMINFO)
