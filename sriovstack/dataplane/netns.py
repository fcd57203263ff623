"""Network namespaces and the links in them, through pyroute2: the data plane's rtnetlink seam.

Only the emulated data plane uses it (reference/linux_host.md §6.4): namespaces for hosts,
guests and the fabric; veth pairs, Linux bridges, addresses, link state and a tbf qdisc.
Every ``NetlinkError`` becomes a ``HostError`` carrying the errno and naming the namespace and
interface, so nothing above sees pyroute2.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from ipaddress import IPv4Interface, IPv6Interface
from types import TracebackType
from typing import Any

from pyroute2 import NetlinkError, NetNS, netns

from sriovstack.errors import Conflict, HostError

__all__ = ["create_ns", "remove_ns", "list_ns", "ns_exists", "ns_pids", "stop_ns_processes",
           "set_ns_sysctls", "announce", "NsLinks"]

_RUN_DIR = "/run/netns"
_TBF_LATENCY = "50ms"
_BR_STATE_FORWARDING = 3  # IFLA_BRPORT_STATE (linux/if_bridge.h)
_ETH_P_RARP = 0x8035


@contextmanager
def _translated(what: str, ns: str) -> Iterator[None]:
    try:
        yield
    except NetlinkError as exc:
        raise HostError(f"{what} in network namespace {ns}: {os.strerror(exc.code)}",
                        path=f"{_RUN_DIR}/{ns}", errno=exc.code) from exc
    except OSError as exc:
        raise HostError(f"{what} in network namespace {ns}: {exc.strerror or exc}",
                        path=f"{_RUN_DIR}/{ns}", errno=exc.errno) from exc


def list_ns() -> tuple[str, ...]:
    """Every named network namespace (``ip netns list``), sorted."""
    return tuple(sorted(netns.listnetns()))


def ns_exists(name: str) -> bool:
    return os.path.exists(f"{_RUN_DIR}/{name}")


def create_ns(name: str, *, exist_ok: bool = True) -> None:
    """Create namespace ``name`` with its loopback up.

    An existing one is taken as it is when ``exist_ok`` (a host's or the fabric's, enabled
    again); otherwise it is a Conflict, and nothing of it is touched (a guest's: someone else's
    until proven ours).
    """
    if ns_exists(name):
        if not exist_ok:
            raise Conflict(f"network namespace {name} already exists", field="namespace",
                           value=name, path=f"{_RUN_DIR}/{name}")
    else:
        with _translated("create the namespace", name):
            netns.create(name)
    with NsLinks(name) as links:
        links.set_state("lo", up=True)


def set_ns_sysctls(name: str, values: Mapping[str, str]) -> None:
    """Set network sysctls of namespace ``name``: ``values`` maps paths under /proc/sys/net
    (``ipv6/conf/default/accept_dad``) to what is written there.  HostError when one cannot
    be set.

    /proc/sys/net shows the namespace of the thread that opens it, so a thread of its own
    enters ``name``, writes and ends: no other thread of the process changes namespace.
    """
    failed: list[BaseException] = []

    def write() -> None:
        try:
            netns.setns(name, flags=0)
            for path, value in values.items():
                with open(f"/proc/sys/net/{path}", "w", encoding="ascii") as fh:
                    fh.write(value)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            failed.append(exc)

    writer = threading.Thread(target=write, name=f"sysctl-{name}")
    writer.start()
    writer.join()
    if failed:
        with _translated("set sysctls", name):
            raise failed[0]


def announce(ns: str, ifname: str, mac: str) -> None:
    """Broadcast one RARP from ``mac`` out of ``ifname`` in namespace ``ns``: QEMU's
    self-announcement after a migration, which makes every switch on the way learn where
    that MAC is now (the frame carries no IP, so it fits any address family)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    frame = (b"\xff" * 6 + hw + _ETH_P_RARP.to_bytes(2, "big")
             + bytes.fromhex("0001" "0800" "06" "04" "0003")  # Ethernet, IPv4, request reverse
             + hw + bytes(4) + hw + bytes(4))
    with _translated(f"announce {mac} on {ifname}", ns):
        with netns.create_socket(ns, socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((ifname, 0))
            sock.send(frame)


def ns_pids(name: str) -> tuple[int, ...]:
    """The processes living in namespace ``name`` (``ip netns pids``)."""
    try:
        st = os.stat(f"{_RUN_DIR}/{name}")
    except FileNotFoundError:
        return ()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            other = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue  # the process ended meanwhile, or is not ours to look at
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            found.append(int(entry))
    return tuple(sorted(found))


def stop_ns_processes(name: str, grace: float = 2.0) -> tuple[int, ...]:
    """End the processes in namespace ``name`` (ours: echo services, guest commands).

    A namespace whose file is removed lives on while a process is in it, links and all, so
    they go first: SIGTERM, then SIGKILL after ``grace`` seconds.  Returns their pids.
    """
    pids = ns_pids(name)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pids):
            time.sleep(0.02)
        if not _alive(pids):
            break
    return pids


def _alive(pids: tuple[int, ...]) -> bool:
    alive = False
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when it was our child
        except ChildProcessError:
            pass
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                alive = alive or fh.read().split(") ")[-1][:1] != "Z"
        except OSError:
            continue
    return alive


def remove_ns(name: str) -> bool:
    """Delete namespace ``name`` (its links go with it); False when it was not there."""
    if not ns_exists(name):
        return False
    with _translated("delete the namespace", name):
        netns.remove(name)
    return True


class NsLinks:
    """The links of one namespace, opened with ``with NsLinks(name) as links:``."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self._ipr: Any = None

    def __enter__(self) -> NsLinks:
        if not ns_exists(self.ns):
            raise HostError(f"network namespace {self.ns} does not exist",
                            fix="enable the data plane again, or run `sriovstack dataplane "
                            "cleanup` and start over", path=f"{_RUN_DIR}/{self.ns}",
                            errno=errno.ENOENT)
        with _translated("open", self.ns):
            # flags=0: never create the namespace as a side effect of opening it.
            self._ipr = NetNS(self.ns, flags=0)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ipr.close()

    def _run(self, what: str, *argv: Any, **kwargs: Any) -> Any:
        with _translated(what, self.ns):
            return self._ipr.link(*argv, **kwargs)

    def has(self, ifname: str) -> bool:
        with _translated(f"look up {ifname}", self.ns):
            return bool(self._ipr.link_lookup(ifname=ifname))

    def index(self, ifname: str) -> int:
        """The ifindex of ``ifname``; HostError ENODEV when it is not in this namespace."""
        with _translated(f"look up {ifname}", self.ns):
            found = self._ipr.link_lookup(ifname=ifname)
        if not found:
            raise HostError(f"no interface {ifname} in network namespace {self.ns}",
                            path=f"{_RUN_DIR}/{self.ns}", errno=errno.ENODEV)
        return int(found[0])

    def add_bridge(self, name: str) -> None:
        """A Linux bridge ``name``, up (no-op when it exists)."""
        try:
            if not self.has(name):
                self._run(f"add bridge {name}", "add", ifname=name, kind="bridge")
        except HostError as exc:
            if exc.errno != errno.EEXIST:  # another host made the same fabric bridge first
                raise
        self.set_state(name, up=True)

    def vlan_filtering_works(self, scratch: str) -> bool:
        """Whether a bridge here takes ``vlan_filtering 1`` (needs the kernel's 802.1Q)."""
        try:
            self._ipr.link("add", ifname=scratch, kind="bridge", br_vlan_filtering=1)
        except NetlinkError:
            return False
        self.delete(scratch)
        return True

    def add_veth(self, name: str, peer: str, peer_ns: str | None = None) -> None:
        """A veth pair ``name`` here and ``peer`` here or in namespace ``peer_ns``."""
        spec: dict[str, Any] = {"ifname": peer}
        if peer_ns is not None:
            spec["net_ns_fd"] = peer_ns
        self._run(f"add veth {name}/{peer}", "add", ifname=name, kind="veth", peer=spec)

    def set_master(self, ifname: str, bridge: str | None) -> None:
        """Enslave ``ifname`` to ``bridge`` (None: take it out of any bridge)."""
        master = self.index(bridge) if bridge else 0
        self._run(f"put {ifname} in bridge {bridge}", "set", index=self.index(ifname),
                  master=master)

    def set_state(self, ifname: str, *, up: bool) -> None:
        self._run(f"set {ifname} {'up' if up else 'down'}", "set", index=self.index(ifname),
                  state="up" if up else "down")

    def is_up(self, ifname: str) -> bool:
        with _translated(f"read {ifname}", self.ns):
            msg = self._ipr.get_links(self.index(ifname))[0]
        return bool(msg["flags"] & 1)  # IFF_UP

    def forwards(self, ifname: str) -> bool:
        """Whether bridge port ``ifname`` forwards (the bridge has seen its carrier come)."""
        with _translated(f"read {ifname}", self.ns):
            msg = self._ipr.get_links(self.index(ifname))[0]
        state = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_SLAVE_DATA", "IFLA_BRPORT_STATE")
        return state == _BR_STATE_FORWARDING

    def rename(self, ifname: str, new: str) -> None:
        """Rename ``ifname`` (the kernel wants it down first)."""
        self._run(f"rename {ifname} to {new}", "set", index=self.index(ifname), ifname=new)

    def move(self, ifname: str, to_ns: str) -> None:
        """Move ``ifname`` into namespace ``to_ns`` (it arrives down, without addresses)."""
        self._run(f"move {ifname} to {to_ns}", "set", index=self.index(ifname),
                  net_ns_fd=to_ns)

    def mac(self, ifname: str) -> str:
        """The link-layer address of ``ifname``."""
        with _translated(f"read {ifname}", self.ns):
            msg = self._ipr.get_links(self.index(ifname))[0]
        return str(msg.get_attr("IFLA_ADDRESS"))

    def set_mac(self, ifname: str, mac: str) -> None:
        self._run(f"set {ifname} address {mac}", "set", index=self.index(ifname), address=mac)

    def add_address(self, ifname: str, ip: IPv4Interface | IPv6Interface) -> None:
        with _translated(f"add address {ip} to {ifname}", self.ns):
            self._ipr.addr("add", index=self.index(ifname), address=str(ip.ip),
                           prefixlen=ip.network.prefixlen)

    def flush_addresses(self, ifname: str) -> None:
        with _translated(f"flush addresses of {ifname}", self.ns):
            self._ipr.flush_addr(index=self.index(ifname))

    def set_tbf(self, ifname: str, max_mbit: int) -> None:
        """Shape ``ifname``'s egress to ``max_mbit`` with tbf; 0 removes the shaper."""
        index = self.index(ifname)
        with _translated(f"shape {ifname} to {max_mbit} Mbit/s", self.ns):
            kinds = [q.get_attr("TCA_KIND") for q in self._ipr.get_qdiscs(index=index)]
            if "tbf" in kinds:
                self._ipr.tc("del", index=index, handle=0, parent=0xFFFFFFFF)
            if max_mbit:
                # burst: 10 ms at the rate, at least a few full frames.
                burst = max(max_mbit * 1_000_000 // 8 // 100, 8192)
                self._ipr.tc("add", "tbf", index=index, rate=f"{max_mbit}mbit", burst=burst,
                             latency=_TBF_LATENCY)

    def qdisc_kinds(self, ifname: str) -> tuple[str, ...]:
        with _translated(f"read qdiscs of {ifname}", self.ns):
            return tuple(str(q.get_attr("TCA_KIND"))
                         for q in self._ipr.get_qdiscs(index=self.index(ifname)))

    def delete(self, ifname: str) -> bool:
        """Delete ``ifname`` (a veth takes its peer along); False when it was not there."""
        if not self.has(ifname):
            return False
        self._run(f"delete {ifname}", "del", index=self.index(ifname))
        return True
