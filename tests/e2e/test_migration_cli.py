"""Moving a server with its VF with the real `openstack` CLI against `sriovstack all-in-one`
(two compute hosts, real compute and SR-IOV agents on simulated hosts): `server resize` and
`server resize confirm`, `server migrate` and `server resize revert`, `server migrate
--live-migration --host` (then the port's bindings: only the target's, active),
`server migration list`; after each step the VF ledger
(os-sriov-hosts), the port binding, and the VFs' netlink state on both hosts (the target's
VF carries the port's MAC and VLAN, the source's is reset or still held by the migration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sriovstack.mac import MacAddress
from tests.e2e.test_lifecycle_cli import _ledger
from tests.polling import until
from tests.e2e.test_walkthrough_cli import PublicApi, _vf, aio, osc

pytestmark = pytest.mark.e2e
__all__ = ["aio"]

VLAN = 19


def _status(venv: Path, state: Path, host: str, slot: str) -> str:
    """The ledger status of one VF (available, claimed, allocated) from os-sriov-hosts."""
    return PublicApi(venv, state).vfs(host)[slot][0]


def test_resize_migrate_revert_and_live_migrate_move_the_vf(osc_venv: Path,
                                                             aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    cli("network", "create", "move", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", str(VLAN))
    cli("subnet", "create", "move-subnet", "--network", "move", "--subnet-range",
        "10.19.0.0/24")
    port = cli("port", "create", "--network", "move", "--vnic-type", "direct", "move-vf")
    server = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
                 f"port-id={port['id']}", "--wait", "mover")
    sid, mac = server["id"], port["mac_address"]

    def where() -> tuple[str, str]:
        bound = cli("port", "show", port["id"])
        assert bound["device_id"] == sid and bound["binding_vif_type"] == "hw_veb"
        assert bound["binding_vif_details"]["vlan"] == str(VLAN)
        return bound["binding_host_id"], bound["binding_profile"]["pci_slot"]

    def carries_the_port(host: str, slot: str) -> None:
        vf = until(lambda: _vf(aio, host, slot), lambda v: str(v.mac) == mac,
                   f"the port's MAC on {host} {slot}")
        assert vf.vlan == VLAN

    def reset(host: str, slot: str) -> None:
        vf = until(lambda: _vf(aio, host, slot), lambda v: v.mac == MacAddress.ZERO,
                   f"{host} {slot} reset")
        assert vf.vlan == 0

    def settled(status: str) -> dict[str, Any]:
        shown: dict[str, Any] = until(lambda: cli("server", "show", sid),
                                      lambda s: s["status"] == status
                                      and not s["OS-EXT-STS:task_state"], status)
        return shown

    def migrations() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = cli("server", "migration", "list", "--server", sid)
        return listed

    first = where()
    carries_the_port(*first)
    assert _ledger(osc_venv, aio, first[0])[first[1]] == sid

    # resize: the target's VF is claimed while the source's stays held (by the migration)
    cli("server", "resize", "--flavor", "m1.small", sid, json_out=False)
    shown = settled("VERIFY_RESIZE")
    second = where()
    assert shown["OS-EXT-SRV-ATTR:host"] == second[0] != first[0]
    assert shown["flavor"]["name"] == "m1.small"
    [mig] = migrations()
    assert (mig["Type"], mig["Status"], mig["Source Compute"], mig["Dest Compute"]) == (
        "resize", "finished", first[0], second[0])
    assert _ledger(osc_venv, aio, second[0])[second[1]] == sid
    # The source VF is still held (by the migration, no server shows on it), not free.
    assert _ledger(osc_venv, aio, first[0])[first[1]] is None
    assert _status(osc_venv, aio, *first) in ("claimed", "allocated")
    carries_the_port(*second)
    reset(*first)  # the guest left: the agent reset the source VF (fenced), still claimed

    cli("server", "resize", "confirm", sid, json_out=False)
    settled("ACTIVE")
    assert _status(osc_venv, aio, *first) == "available"  # released
    assert migrations()[0]["Status"] == "confirmed"

    # cold migration back, then revert: the server returns to the VF it had
    cli("server", "migrate", sid, json_out=False)
    settled("VERIFY_RESIZE")
    third = where()
    assert third[0] == first[0]
    carries_the_port(*third)
    cli("server", "resize", "revert", sid, json_out=False)
    shown = settled("ACTIVE")
    assert shown["OS-EXT-SRV-ATTR:host"] == second[0] and where() == second
    carries_the_port(*second)
    reset(*third)
    assert _status(osc_venv, aio, *third) == "available"
    assert migrations()[0]["Status"] == "reverted"

    # live migration to a named host: the VF is unplugged on the source, plugged there
    cli("server", "migrate", "--live-migration", "--host", first[0], sid,
        json_out=False)
    shown = settled("ACTIVE")
    fourth = where()
    assert shown["OS-EXT-SRV-ATTR:host"] == fourth[0] == first[0]
    carries_the_port(*fourth)
    reset(*second)
    assert _status(osc_venv, aio, *second) == "available"
    assert _ledger(osc_venv, aio, fourth[0])[fourth[1]] == sid
    live = migrations()[0]
    assert (live["Type"], live["Status"]) == ("live-migration", "completed")
    # neutron's multiple port bindings: the target's was activated, the source's deleted
    # (deleted just after the source VF's release, hence the short wait)
    bindings = until(lambda: PublicApi(osc_venv, aio).get("network",
                                  f"/v2.0/ports/{port['id']}/bindings")["bindings"],
                     lambda b: len(b) == 1, "the source binding deleted", timeout=10)
    assert [(b["host"], b["status"], b["profile"]["pci_slot"]) for b in bindings] == [
        (fourth[0], "ACTIVE", fourth[1])]

    events = [e["Action"] for e in cli("server", "event", "list", sid)]
    assert events[:5] == ["live-migration", "revertResize", "migrate", "confirmResize",
                          "resize"]

    cli("server", "delete", sid, json_out=False)
    reset(*fourth)
    for host, slot in (first, second):
        assert _status(osc_venv, aio, host, slot) == "available"
