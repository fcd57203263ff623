"""nova's [DEFAULT] resize_confirm_window end to end: `sriovstack all-in-one
--resize-confirm-window 1` writes it into the controller's nova.conf, the API's periodic sweep
(every 10 s) confirms a resize nobody confirmed; read back with the real `openstack` CLI: the
server ACTIVE on the new flavor on its own, the migration confirmed, the source VF released
(os-sriov-hosts) and a confirmResize instance action no user asked for."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_walkthrough_cli import PublicApi, osc, running_aio
from tests.polling import until

pytestmark = pytest.mark.e2e

WINDOW = 1  # seconds; the sweep runs every 10 s, so the confirm comes within about 11 s
VLAN = 23


@pytest.fixture(scope="module")
def aio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An all-in-one whose controller confirms moves left in VERIFY_RESIZE for WINDOW s."""
    with running_aio(tmp_path_factory.mktemp("aio-window"),
                     "--resize-confirm-window", str(WINDOW)) as state:
        yield state


def test_a_resize_left_unconfirmed_is_confirmed_by_the_api_after_the_window(
        osc_venv: Path, aio: Path) -> None:
    def cli(*args: str, json_out: bool = True) -> Any:
        return osc(osc_venv, aio, *args, json_out=json_out)

    nova_conf = (aio / "hosts/controller/etc/nova/nova.conf").read_text()
    assert f"resize_confirm_window = {WINDOW}" in nova_conf
    cli("network", "create", "window", "--provider-network-type", "vlan",
        "--provider-physical-network", "physnet1", "--provider-segment", str(VLAN))
    cli("subnet", "create", "window-subnet", "--network", "window", "--subnet-range",
        "10.23.0.0/24")
    port = cli("port", "create", "--network", "window", "--vnic-type", "direct", "window-vf")
    sid = cli("server", "create", "--flavor", "m1.tiny", "--image", "cirros", "--nic",
              f"port-id={port['id']}", "--wait", "waiter")["id"]
    api = PublicApi(osc_venv, aio)

    def where() -> tuple[str, str]:
        bound = cli("port", "show", port["id"])
        return bound["binding_host_id"], bound["binding_profile"]["pci_slot"]

    source = where()
    assert api.vfs(source[0])[source[1]][1] == sid

    cli("server", "resize", "--flavor", "m1.small", sid, json_out=False)  # never confirmed
    shown = until(lambda: api.get("compute", f"/servers/{sid}")["server"],
                  lambda s: s["status"] == "ACTIVE" and not s["OS-EXT-STS:task_state"]
                  and s["flavor"]["original_name"] == "m1.small",
                  "the resize confirmed by the sweep", timeout=60)
    target = where()
    assert shown["OS-EXT-SRV-ATTR:host"] == target[0] != source[0]
    [mig] = cli("server", "migration", "list", "--server", sid)
    assert (mig["Type"], mig["Status"], mig["Source Compute"], mig["Dest Compute"]) == (
        "resize", "confirmed", source[0], target[0])
    # The source VF is released, the target's is the server's: one VF held, no other.
    held = {(host, slot): vf for host in (source[0], target[0])
            for slot, vf in api.vfs(host).items() if vf[0] != "available"}
    assert held.keys() == {target} and held[target][1] == sid, held

    events = cli("server", "event", "list", "--long", sid)
    assert [e["Action"] for e in events][:2] == ["confirmResize", "resize"]
    confirm, resize = events[0], events[1]
    assert not confirm["User ID"] and resize["User ID"]  # nova's admin context: no user
    assert confirm["Request ID"] != resize["Request ID"]

    cli("server", "delete", "--wait", sid, json_out=False)
    assert api.vfs(target[0])[target[1]] == ("available", None)
