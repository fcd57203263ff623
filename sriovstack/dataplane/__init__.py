"""The netns data plane: real packets for simulated hosts, root only (reference/linux_host.md §6.4).

A seam of its own: its outside world is the kernel's network namespaces, veth pairs, bridges,
tbf qdiscs and nftables (``netns.py`` through pyroute2, ``spoof.py`` through ``nft``), always
the real ones.  Each VF of a simulated host becomes a veth pair on per-(physnet, VLAN) bridges
joined by one fabric namespace (``eswitch.py``); guests are namespaces running a UDP echo
service (``echo.py``).  ``HostDataplane`` (``plane.py``) is one host's plane: the simulated
host is opened with it as its NIC's hooks (the simulator's ``DataplaneHooks`` Protocol) and
keeps it in step; nothing here imports the simulator, which does not import this either.
"""

from sriovstack.dataplane.commands import MissingCommand, missing_commands
from sriovstack.dataplane.echo import (ECHO_PORT, EchoResult, EchoStart, echo_probe,
                                       start_echo)
from sriovstack.dataplane.names import DEFAULT_PREFIX, Names
from sriovstack.dataplane.netns import (NsLinks, create_ns, list_ns, ns_exists, ns_pids,
                                        remove_ns, set_ns_sysctls, stop_ns_processes)
from sriovstack.dataplane.plane import (CleanupReport, DataplaneInfo, HostDataplane,
                                        PlaneStore, cleanup_dataplane, dataplane_info,
                                        disable_dataplane, enable_dataplane)

__all__ = [
    "HostDataplane", "PlaneStore", "DataplaneInfo", "CleanupReport", "enable_dataplane",
    "disable_dataplane", "dataplane_info", "cleanup_dataplane", "DEFAULT_PREFIX", "Names",
    "ECHO_PORT", "EchoResult", "EchoStart", "echo_probe", "start_echo", "NsLinks", "create_ns",
    "list_ns", "ns_exists", "ns_pids", "remove_ns", "set_ns_sysctls", "stop_ns_processes",
    "MissingCommand", "missing_commands",
]
