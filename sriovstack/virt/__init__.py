"""The virt seam: give a guest SR-IOV VFs, through libvirt on a host or a recording fake in tests.

Other packages import from here only.  ``VirtDriver`` is the Protocol the compute agent calls;
``LibvirtDriver`` needs the optional ``sriovstack[libvirt]`` extra (imported when one is made);
``NetnsVirtDriver`` emulates guests as network namespaces on a simulated host (root needed).
"""

from sriovstack.virt.fake import FakeVirtDriver
from sriovstack.virt.libvirt import LibvirtDriver
from sriovstack.virt.netns import (NetnsVirtDriver, NormalPort, PortPlugger, guest_netns,
                                   ping_from_guest, run_in_guest, server_guests)
from sriovstack.virt.types import DOMAIN_PREFIX, Guest, GuestSpec, VfInterface, VirtDriver

__all__ = [
    "VirtDriver", "GuestSpec", "Guest", "VfInterface", "DOMAIN_PREFIX", "FakeVirtDriver",
    "LibvirtDriver", "NetnsVirtDriver", "NormalPort", "PortPlugger", "guest_netns",
    "ping_from_guest", "run_in_guest", "server_guests",
]
