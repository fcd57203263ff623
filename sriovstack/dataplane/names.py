"""The data plane's names: one prefix for everything it creates, and short hashed interface names.

Linux limits interface names to 15 characters (IFNAMSIZ 16 with the NUL), so every link is
``<prefix><kind><8 hex digits of a hash>``; namespaces have no such limit and carry a readable
kind (``<prefix>h-<host>`` a simulated host, ``<prefix>g-<server>-<host>`` a guest,
``<prefix>fabric`` the physical switch).  A guest's name carries its host's hash as well as its
server's, so one server's guests on two hosts (both ends of a live migration) never share a
namespace: the source tearing its guest down cannot delete the target's.  The mapping from objects to names is kept in the data plane's state.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sriovstack.errors import Invalid

__all__ = ["Names", "DEFAULT_PREFIX", "IFNAMSIZ"]

DEFAULT_PREFIX = "ss-"
IFNAMSIZ = 15  # usable characters of an interface name
_HASH = 8
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,5}$")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:_HASH]


@dataclass(frozen=True, slots=True)
class Names:
    """Every name the data plane gives, derived from ``prefix`` (1-6 of a-z 0-9 -)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            raise Invalid(f"data plane prefix {self.prefix!r} is not usable: it must be 1-6 "
                          "characters of a-z, 0-9 and '-', starting with a letter, so that "
                          f"interface names fit in {IFNAMSIZ} characters (e.g. 'ss-')",
                          field="prefix", value=self.prefix)

    def _link(self, kind: str, *parts: str) -> str:
        return f"{self.prefix}{kind}{_digest(kind, *parts)}"

    # --- namespaces ----------------------------------------------------------------------

    @property
    def fabric_ns(self) -> str:
        """The namespace of the physical switch that joins every simulated host."""
        return f"{self.prefix}fabric"

    def host_ns(self, root: str) -> str:
        """The namespace of one simulated host's NIC embedded switch and its VF netdevs."""
        return f"{self.prefix}h-{_digest('host', root)}"

    def guest_ns(self, root: str, server_id: str) -> str:
        """The namespace that is ``server_id``'s emulated guest on the host at ``root``."""
        return f"{self.guest_ns_stem(server_id)}{_digest('host', root)}"

    def guest_ns_stem(self, server_id: str) -> str:
        """What the names of ``server_id``'s guests on every host start with."""
        return f"{self.prefix}g-{_digest('guest', server_id)}-"

    def probe_ns(self, pid: int) -> str:
        return f"{self.prefix}probe-{pid}"

    def owns_ns(self, name: str) -> bool:
        return name.startswith(self.prefix)

    # --- links ---------------------------------------------------------------------------

    def vf_end(self, root: str, vf: str) -> str:
        """The VF's netdev (the guest end of its veth) while the host holds it."""
        return self._link("v", root, vf)

    def vf_port(self, root: str, vf: str) -> str:
        """The VF's port on the embedded switch (the host end of its veth)."""
        return self._link("r", root, vf)

    def segment_bridge(self, physnet: str, vlan: int) -> str:
        """One bridge per (physical network, VLAN): on each host and on the fabric."""
        return self._link("b", physnet, str(vlan))

    def uplink(self, root: str, physnet: str, vlan: int) -> str:
        """The host side of the cable from a host's segment bridge to the fabric's."""
        return self._link("u", root, physnet, str(vlan))

    def uplink_peer(self, root: str, physnet: str, vlan: int) -> str:
        """The fabric side of that cable."""
        return self._link("x", root, physnet, str(vlan))

    def port_end(self, port_id: str) -> str:
        """A normal (Open vSwitch) port's guest end before it is named in the guest."""
        return self._link("m", port_id)

    def port_peer(self, port_id: str) -> str:
        """A normal port's end on the fabric segment bridge."""
        return self._link("n", port_id)
