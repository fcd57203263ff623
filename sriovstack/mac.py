"""MAC addresses: the value type for ``xx:xx:xx:xx:xx:xx`` used from the API to netlink.

Pure (no I/O), like ``errors.py`` beside it: every layer uses it — the API's port schemas, the
network service, the agent contract (``sriovstack.wire``), the netlink and virt seams — so it
belongs to none of them.  One validation lives here; each caller adds only its own rule (a
port or a VF takes only ``is_assignable`` addresses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from sriovstack.errors import Invalid

__all__ = ["MacAddress"]

_CANONICAL = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@dataclass(frozen=True, order=True, slots=True)
class MacAddress:
    """A 48-bit Ethernet address in its one form: six lower-case hex pairs joined by ``:``.

    The constructor takes only that form; ``parse`` takes what people and kernels write
    (any case, ``-`` or ``:`` between the pairs, surrounding blanks) and normalises it, as
    neutron does for ``mac_address``. ``str()`` is the form the wire, netlink and sysfs use.
    """

    text: str

    ZERO: ClassVar[MacAddress]  # the VF's reset value (linux_host.md §2.3): no admin MAC

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not _CANONICAL.match(self.text):
            raise Invalid(f"not a MAC address: {self.text!r} (expected six hex pairs, "
                          "e.g. fa:16:3e:12:34:56)", field="mac", value=self.text)

    @classmethod
    def parse(cls, text: str, *, field: str = "mac") -> MacAddress:
        """``text`` normalised; Invalid naming ``field`` when it is not six hex pairs.

        ``FA-16-3E-12-34-56`` and `` fa:16:3e:12:34:56 `` both give ``fa:16:3e:12:34:56``;
        bare hex (``fa163e123456``) and Cisco's dotted form are refused.
        """
        norm = text.strip().lower().replace("-", ":") if isinstance(text, str) else text
        if not isinstance(norm, str) or not _CANONICAL.match(norm):
            raise Invalid(f"{field}: not a MAC address: {text!r} (expected six hex pairs, "
                          "e.g. fa:16:3e:12:34:56)", field=field, value=text)
        return cls(norm)

    @property
    def is_multicast(self) -> bool:
        """The I/G bit (lowest bit of the first octet): multicast and broadcast addresses."""
        return bool(int(self.text[:2], 16) & 1)

    @property
    def is_zero(self) -> bool:
        return self.text == _ZERO_TEXT

    @property
    def is_assignable(self) -> bool:
        """Unicast and not zero: an address a port or a VF can carry."""
        return not (self.is_multicast or self.is_zero)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"MacAddress({self.text!r})"


_ZERO_TEXT = "00:00:00:00:00:00"
MacAddress.ZERO = MacAddress(_ZERO_TEXT)
