"""Real packets after every server operation (issue 11; root, `--dataplane netns`): two servers
on VLAN 15 answer each other's UDP echo; then, one operation at a time through the compute API,
the first server is rebooted (soft, hard), stopped and started, paused and unpaused, suspended
and resumed, rebuilt, resized (confirmed, then reverted), shelved and unshelved, and evacuated
from a host made down (its agents stopped, its compute service forced down).  After each, the
guest answers its peer again both ways, its port keeps MAC and fixed IP, the VF it holds on
its host carries that MAC on VLAN 15, and every VF it left (a move's source, the target of a
reverted resize, the evacuated host's once that host's agents are back) is reset to MAC zero
and free in the API.  The operations run in table order on one pair of servers (evacuation
last: it takes a host down).  The evacuated host's guest runs on while its agents are
stopped (a host cut off, not dead): its copy of the guest used to answer the new copy's IPv6
duplicate address detection and leave the switches pointing at the old host (virt/netns.py).
Wall time, the cloud's start included: 57-70 s on a 2-core machine at load 2-3 (93 s at 10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sriovstack.allinone import live_vfs
from sriovstack.mac import MacAddress
from tests.e2e.netns_cloud import Cloud, Server
from tests.polling import until

pytestmark = pytest.mark.e2e

VLAN = 15
MICROVERSION = "2.79"
SETTLE = 60.0  # seconds an operation may take to reach its final status
ANSWER = 30.0  # seconds the guests may take to answer each other again
Slot = tuple[str, str]  # (host, PCI address) of a VF


@dataclass(frozen=True)
class Step:
    """One API action and the status the server settles in after it."""

    body: dict[str, Any]
    final: str


@dataclass(frozen=True)
class Operation:
    """What one row of the table does to the server: its steps, in order."""

    name: str
    steps: tuple[Step, ...]
    host_down: bool = False  # evacuation: the server's host is made down first


def _op(name: str, *steps: tuple[dict[str, Any], str], host_down: bool = False) -> Operation:
    return Operation(name, tuple(Step(body, final) for body, final in steps), host_down)


OPERATIONS = (
    _op("reboot-soft", ({"reboot": {"type": "SOFT"}}, "ACTIVE")),
    _op("reboot-hard", ({"reboot": {"type": "HARD"}}, "ACTIVE")),
    _op("stop-start", ({"os-stop": None}, "SHUTOFF"), ({"os-start": None}, "ACTIVE")),
    _op("pause-unpause", ({"pause": None}, "PAUSED"), ({"unpause": None}, "ACTIVE")),
    _op("suspend-resume", ({"suspend": None}, "SUSPENDED"), ({"resume": None}, "ACTIVE")),
    _op("rebuild", ({"rebuild": {}}, "ACTIVE")),  # _act gives the server's own image
    _op("resize-confirm", ({"resize": {"flavorRef": "2"}}, "VERIFY_RESIZE"),
        ({"confirmResize": None}, "ACTIVE")),
    _op("resize-revert", ({"resize": {"flavorRef": "1"}}, "VERIFY_RESIZE"),
        ({"revertResize": None}, "ACTIVE")),
    _op("shelve-unshelve", ({"shelve": None}, "SHELVED_OFFLOADED"),
        ({"unshelve": None}, "ACTIVE")),
    _op("evacuate", ({"evacuate": {}}, "ACTIVE"), host_down=True),
)


@pytest.fixture(scope="module")
def pair(cloud: Cloud) -> Iterator[tuple[Server, Server]]:
    with cloud.booted(("lifecycle", VLAN), ("peer", VLAN)) as (a, b):
        _answers(cloud, a, b)
        yield a, b


@pytest.mark.parametrize("op", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_the_guest_answers_again_after(cloud: Cloud, pair: tuple[Server, Server],
                                       op: Operation) -> None:
    _check_operation(cloud, *pair, op)


# --- the one helper behind every row ---------------------------------------------------------

def _check_operation(cloud: Cloud, a: Server, b: Server, op: Operation) -> None:
    """Run ``op`` on ``a`` and check what issue 11 asks of it (module docstring)."""
    port = _port(cloud, a)
    left = {_slot(port)}  # every VF the server held along the way
    down = _host(cloud, a) if op.host_down else None
    if down is not None:
        _take_down(cloud, down)
    try:
        for step in op.steps:
            _act(cloud, a, step)
            left.add(_slot(_port(cloud, a)))
        if down is not None:  # only the host's own agent resets its VFs, once it is back
            [(_, stale)] = [s for s in left if s is not None and s[0] == down]
            assert str(live_vfs(_root(cloud, down))[stale].state.mac) == port["mac_address"]
    finally:
        if down is not None:
            _bring_back(cloud, down)
    now = _port(cloud, a)
    assert (now["mac_address"], now["fixed_ips"]) == (port["mac_address"], port["fixed_ips"])
    held = _slot(now)
    assert held is not None and held[0] == _host(cloud, a), now
    _assert_vf(cloud, held, lambda vf: str(vf.mac) == port["mac_address"] and vf.vlan == VLAN,
               f"{op.name}: VF {held} with MAC {port['mac_address']} on VLAN {VLAN}")
    assert _owner(cloud, held) == a.id
    for gone in sorted(s for s in left - {held} if s is not None):
        _assert_vf(cloud, gone, lambda vf: vf.mac == MacAddress.ZERO,
                   f"{op.name}: VF {gone} the server left reset to MAC zero")
        assert _owner(cloud, gone) is None, f"{op.name}: VF {gone} still claimed"
    _answers(cloud, a, b)


def _act(cloud: Cloud, server: Server, step: Step) -> None:
    """Send ``step`` through the compute API and wait for its final status, task done."""
    body = step.body
    if "rebuild" in body:  # the same image again
        image = cloud.s.call("GET", "compute", f"/servers/{server.id}")["server"]["image"]
        body = {"rebuild": {"imageRef": image["id"]}}
    cloud.s.call("POST", "compute", f"/servers/{server.id}/action", body,
                 microversion=MICROVERSION)
    until(lambda: cloud.s.call("GET", "compute", f"/servers/{server.id}")["server"],
          lambda v: v["status"] == step.final and not v["OS-EXT-STS:task_state"],
          f"{next(iter(body))} to leave the server {step.final}", SETTLE)


def _answers(cloud: Cloud, a: Server, b: Server) -> None:
    """Each guest answers the other's UDP echo (``a`` wherever it is now)."""
    until(lambda: cloud.ping(b, a) and cloud.ping(a, b), bool,
          f"{a.ip} and {b.ip} to answer each other", ANSWER)


def _port(cloud: Cloud, server: Server) -> dict[str, Any]:
    port: dict[str, Any] = cloud.s.call("GET", "network", f"/v2.0/ports/{server.port_id}")[
        "port"]
    return port


def _slot(port: dict[str, Any]) -> Slot | None:
    """The (host, VF) the port is bound to, or None while it is unbound (shelved)."""
    slot = (port.get("binding:profile") or {}).get("pci_slot")
    return (port["binding:host_id"], slot) if port["binding:host_id"] and slot else None


def _host(cloud: Cloud, server: Server) -> str:
    return str(cloud.s.call("GET", "compute", f"/servers/{server.id}")["server"][
        "OS-EXT-SRV-ATTR:host"])


def _owner(cloud: Cloud, slot: Slot) -> str | None:
    """The server the API gives the VF to (os-sriov-hosts), or None while it is free."""
    host, address = slot
    devices = cloud.s.call("GET", "compute", f"/os-sriov-hosts/{host}")["host"]["devices"]
    [device] = [d for d in devices if d["address"] == address]
    owner: str | None = device["server_id"]
    return owner


def _root(cloud: Cloud, host: str) -> Path:
    """Where the simulated ``host`` lives (``live_vfs`` reads its VFs there)."""
    return cloud.aio.options.state_dir / "hosts" / host


def _assert_vf(cloud: Cloud, slot: Slot, holds: Callable[[Any], bool], what: str) -> None:
    host, address = slot
    until(lambda: live_vfs(_root(cloud, host))[address].state, holds, what, ANSWER)


# --- a host made down, as an operator does before evacuating ---------------------------------

def _take_down(cloud: Cloud, host: str) -> None:
    """Stop ``host``'s agents, then force its compute service down (nova: 2.53 and later)."""
    assert cloud.aio.agents is not None
    cloud.aio.agents.stop(*cloud.aio.agents.of_host(host))
    _force_down(cloud, host, True)


def _bring_back(cloud: Cloud, host: str) -> None:
    """Start ``host``'s agents again, then lift the forced down."""
    assert cloud.aio.agents is not None
    for name in cloud.aio.agents.of_host(host):
        cloud.aio.agents.start(name)
    _force_down(cloud, host, False)


def _force_down(cloud: Cloud, host: str, down: bool) -> None:
    [service] = [s for s in cloud.s.call("GET", "compute", "/os-services",
                                         microversion="2.53")["services"]
                 if s["host"] == host and s["binary"] == "nova-compute"]
    cloud.s.call("PUT", "compute", f"/os-services/{service['id']}", {"forced_down": down},
                 microversion="2.53")
