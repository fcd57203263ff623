"""Every server operation and move with openstacksdk (the cached client venv's 4.22) against a
served API on PostgreSQL and on SQLite, two simulated chapter compute hosts played by
stand-in agents: stop/start, reboot soft and hard, pause/unpause, suspend/resume, rebuild,
rename, resize + confirm, resize + revert, cold migrate + confirm, live migrate (to a host
and scheduled), a stopped server migrated (it stays SHUTOFF), a direct port attached and
detached, shelve/unshelve; then the port's bindings (binding-extended) as an operator or
nova drives them: an INACTIVE binding made on the other host, shown, refused twice,
activated, the old one deleted, and the ACTIVE one deleted too. After each step the server's
state, the VF ledger (os-sriov-hosts) and the port's binding:host_id and binding:profile
pci_slot are recorded by the one SDK process (subprocess start-up is the cost: one per
database) and checked here."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (StandInAgent, chapter_inventory, client_env, register_host,
                                serve_api, throwaway_postgres, write_clouds_yaml)

pytestmark = pytest.mark.e2e

HOSTS = ("compute0", "compute1")
SDK_TIMEOUT = 240.0  # the whole script; each wait inside it is 30 s at most


@dataclass
class FollowingAgent(StandInAgent):
    """A stand-in agent that reports what the desired state asks of each awaiting server
    (running, stopped, paused), as the real compute agent does once its guest converged;
    the running ones' VF ports are reported up first, as the NIC agent would."""

    def _report(self, c: httpx.Client, servers: list[dict[str, Any]]) -> None:
        for server in servers:
            if not server["awaiting"] or server["status"] in ("ERROR", "DELETED"):
                continue
            if server["target"] == "running":
                for port in server["ports"]:
                    if port["pci_address"] and port["mac"]:
                        c.post(f"/internal/v1/hosts/{self.host}/devices",
                               json={"mac": port["mac"], "pci_slot": port["pci_address"],
                                     "up": True})
            r = c.post(f"/internal/v1/hosts/{self.host}/servers/{server['id']}/status",
                       json={"status": server["target"]})
            if r.status_code not in (200, 404, 409):  # deleted or moved meanwhile: fine
                self.errors.append(f"report {server['id']}: {r.status_code} {r.text}")


_SCRIPT = r'''
import json, sys, time
import openstack

START = time.monotonic()
HOSTS = sys.argv[1].split(",")
admin = openstack.connect(cloud="sriov-admin")
compute, network = admin.compute, admin.network


def settled(server, status):
    """The server once it shows ``status`` with no task (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        shown = compute.get_server(server)
        if shown.status == status and not shown.task_state:
            return shown
        if shown.status == "ERROR" or time.monotonic() > deadline:
            sys.exit(f"server {shown.id} is {shown.status}/{shown.task_state}, wanted "
                     f"{status}; fault: {shown.fault}")
        time.sleep(0.1)


def ledger():
    """Every held VF: [host, address, status, server_id] from os-sriov-hosts."""
    held = []
    for host in HOSTS:
        r = compute.get(f"/os-sriov-hosts/{host}")
        assert r.status_code == 200, r.text
        held += [[host, d["address"], d["status"], d["server_id"]]
                 for d in r.json()["host"]["devices"]
                 if d["dev_type"] == "type-VF" and d["status"] != "available"]
    return sorted(held)


def record(step, server, status, ports):
    shown = settled(server, status)
    bindings, host_bindings = {}, {}
    for port_id in ports:
        port = network.get_port(port_id)
        bindings[port_id] = [port.binding_host_id, (port.binding_profile or {}).get("pci_slot"),
                             port.device_id]
        if (port.device_owner or "").startswith("compute:"):  # binding-extended's ports
            host_bindings[port_id] = [[b.host, b.status]
                                      for b in network.port_bindings(port_id)]
    print(json.dumps({"step": step, "t": round(time.monotonic() - START, 2),
                      "status": shown.status, "power": shown.power_state, "host": shown.compute_host,
                      "name": shown.name, "flavor": shown.flavor.original_name,
                      "bindings": bindings, "host_bindings": host_bindings,
                      "ledger": ledger()}), flush=True)


net = network.create_network(name="moves", provider_network_type="vlan",
                             provider_physical_network="physnet1", provider_segmentation_id=17)
network.create_subnet(network_id=net.id, cidr="10.17.0.0/24", ip_version=4)
port = network.create_port(network_id=net.id, name="moves-vf", binding_vnic_type="direct")
extra = network.create_port(network_id=net.id, name="moves-extra", binding_vnic_type="direct")
image = admin.image.find_image("cirros")
tiny, small = compute.find_flavor("m1.tiny"), compute.find_flavor("m1.small")
server = compute.create_server(name="mover", image_id=image.id, flavor_id=tiny.id,
                               networks=[{"port": port.id}])
ports = [port.id]
record("boot", server, "ACTIVE", ports)

for step, call, status in [
        ("stop", lambda: compute.stop_server(server), "SHUTOFF"),
        ("start", lambda: compute.start_server(server), "ACTIVE"),
        ("reboot soft", lambda: compute.reboot_server(server, "SOFT"), "ACTIVE"),
        ("reboot hard", lambda: compute.reboot_server(server, "HARD"), "ACTIVE"),
        ("pause", lambda: compute.pause_server(server), "PAUSED"),
        ("unpause", lambda: compute.unpause_server(server), "ACTIVE"),
        ("suspend", lambda: compute.suspend_server(server), "SUSPENDED"),
        ("resume", lambda: compute.resume_server(server), "ACTIVE"),
        ("rebuild", lambda: compute.rebuild_server(server, image.id, name="rebuilt"),
         "ACTIVE"),
        ("rename", lambda: compute.update_server(server, name="renamed"), "ACTIVE"),
        ("resize", lambda: compute.resize_server(server, small.id), "VERIFY_RESIZE"),
        ("resize confirm", lambda: compute.confirm_server_resize(server), "ACTIVE"),
        ("resize again", lambda: compute.resize_server(server, tiny.id), "VERIFY_RESIZE"),
        ("resize revert", lambda: compute.revert_server_resize(server), "ACTIVE"),
        ("migrate", lambda: compute.migrate_server(server), "VERIFY_RESIZE"),
        ("migrate confirm", lambda: compute.confirm_server_resize(server), "ACTIVE"),
        ("live migrate to host", lambda: compute.live_migrate_server(
            server, host=[h for h in HOSTS if h != compute.get_server(server).compute_host][0],
            block_migration="auto"), "ACTIVE"),
        ("live migrate", lambda: compute.live_migrate_server(server, block_migration="auto"),
         "ACTIVE"),
        ("stop to move", lambda: compute.stop_server(server), "SHUTOFF"),
        ("migrate stopped", lambda: compute.migrate_server(server), "VERIFY_RESIZE"),
        ("migrate stopped confirm", lambda: compute.confirm_server_resize(server), "SHUTOFF"),
        ("start moved", lambda: compute.start_server(server), "ACTIVE")]:
    call()
    record(step, server, status, ports)

attached = compute.create_server_interface(server, port_id=extra.id)
ports.append(extra.id)
record("attach", server, "ACTIVE", ports)
compute.delete_server_interface(attached, server=server)
deadline = time.monotonic() + 30
while [i for i in compute.server_interfaces(server) if i.port_id == extra.id]:
    assert time.monotonic() < deadline, "the detached interface is still listed"
    time.sleep(0.1)
record("detach", server, "ACTIVE", ports)

compute.shelve_server(server)
record("shelve", server, "SHELVED_OFFLOADED", ports)
compute.unshelve_server(server)
record("unshelve", server, "ACTIVE", ports)


def answer(call):
    """The HTTP status of a call: raised by the SDK's methods (openstack.exceptions), the
    response's own for the proxy's plain requests; 0 for a method that succeeded."""
    try:
        done = call()
    except openstack.exceptions.HttpException as exc:
        return exc.status_code
    return getattr(done, "status_code", 0)


def port_state():
    """[binding:host_id, pci_slot, device_id] of the server's port, its bindings [host,
    status] (None once no compute owns it) and how many VFs the ledger gives it
    (os-sriov-hosts' port_id)."""
    shown = network.get_port(port.id)
    held = 0
    for host in HOSTS:
        devices = compute.get(f"/os-sriov-hosts/{host}").json()["host"]["devices"]
        held += sum(1 for d in devices if d["port_id"] == port.id)
    return {"binding": [shown.binding_host_id, (shown.binding_profile or {}).get("pci_slot"),
                        shown.device_id],
            "host_bindings": [[b.host, b.status] for b in network.port_bindings(port.id)]
            if (shown.device_owner or "").startswith("compute:") else None,
            "vfs": held, "ledger": ledger()}


# binding-extended on the running server's port (device_owner compute:nova: neutron gives
# multiple bindings to compute ports only), as an operator or nova's live migration calls it.
before = port_state()
here = before["binding"][0]
there = [h for h in HOSTS if h != here][0]
original = dict(network.get_port(port.id).binding_profile)
free = next(d for d in compute.get(f"/os-sriov-hosts/{there}").json()["host"]["devices"]
            if d["dev_type"] == "type-VF" and d["status"] == "available"
            and d["physnet"] == "physnet1")
target = {"pci_slot": free["address"], "physical_network": "physnet1",
          "pci_vendor_info": f"{free['vendor_id']}:{free['product_id']}"}
b = {"here": here, "there": there, "before": before}
made = network.create_port_binding(port.id, host=there, vnic_type="direct", profile=target)
b["made"] = [made.host, made.status, made.vif_type, made.profile]
shown = network.get(f"/ports/{port.id}/bindings/{there}").json()["binding"]
b["shown"] = [shown["host"], shown["status"], shown["profile"]]
b["listed"] = [[x.host, x.status] for x in network.port_bindings(port.id, host=there)]
b["twice"] = answer(lambda: network.create_port_binding(port.id, host=there,
                                                        vnic_type="direct", profile=target))
active = network.activate_port_binding(port.id, there)
b["activated"] = [active.host, active.status, active.profile]
b["after_activate"] = port_state()
b["again"] = answer(lambda: network.activate_port_binding(port.id, there))
network.delete_port_binding(port.id, here, ignore_missing=False)  # the INACTIVE one
b["after_delete"] = port_state()
b["missing"] = [answer(lambda: network.get(f"/ports/{port.id}/bindings/nowhere")),
                answer(lambda: network.put(f"/ports/{port.id}/bindings/nowhere/activate")),
                answer(lambda: network.delete(f"/ports/{port.id}/bindings/nowhere"))]
# back where the guest runs, with its own VF, as a live migration's rollback leaves it
network.create_port_binding(port.id, host=here, vnic_type="direct", profile=original)
network.activate_port_binding(port.id, here)
network.delete_port_binding(port.id, there, ignore_missing=False)
b["restored"] = port_state()
network.delete_port_binding(port.id, here, ignore_missing=False)  # the ACTIVE one
b["active_deleted"] = port_state()
print(json.dumps({"step": "bindings", **b}), flush=True)
compute.delete_server(server)
compute.wait_for_delete(server, wait=30)
print(json.dumps({"step": "deleted", "ledger": ledger(), "port": port_state()}), flush=True)
'''


@pytest.fixture(scope="module")
def inventories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The two chapter compute hosts, built once for both databases."""
    root = tmp_path_factory.mktemp("moves-hosts")
    return {host: chapter_inventory(root / host, host) for host in HOSTS}


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sriovstack.db'}"
    else:
        with throwaway_postgres() as url:
            yield url


def _run(osc_venv: Path, tmp_path: Path, database_url: str,
         inventories: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    script = tmp_path / "moves_sdk.py"
    script.write_text(_SCRIPT)
    with ExitStack() as stack:
        api = stack.enter_context(serve_api(tmp_path / "api", database_url))
        agents = []
        for host in HOSTS:
            register_host(api, host, inventories[host])
            agent = FollowingAgent(api, host)
            agent.start()
            stack.callback(agent.stop)
            agents.append(agent)
        env = client_env(write_clouds_yaml(tmp_path / "clouds.yaml", api))
        done = subprocess.run([str(osc_venv / "bin" / "python"), str(script), ",".join(HOSTS)],
                              capture_output=True, text=True, env=env, timeout=SDK_TIMEOUT,
                              check=False)
        steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        assert done.returncode == 0, (f"after step {steps[-1]['step'] if steps else None}: "
                                      f"{done.stderr[-3000:]}\n{api.log()[-2000:]}")
        for agent in agents:
            assert not agent.errors, agent.errors
        assert "Traceback" not in api.log(), api.log()[-4000:]
    return steps


def test_every_operation_and_move_with_openstacksdk(osc_venv: Path, tmp_path: Path,
                                                     database_url: str,
                                                     inventories: dict[str, dict[str, Any]]
                                                     ) -> None:
    steps = {s["step"]: s for s in _run(osc_venv, tmp_path, database_url, inventories)}
    boot = steps["boot"]
    sid = boot["bindings"][next(iter(boot["bindings"]))][2]
    port_id = next(iter(boot["bindings"]))

    def vf_of(step: dict[str, Any], port: str = port_id) -> tuple[str, str]:
        """The port's binding, which must be on the server's host, on a VF the ledger gives
        the server there."""
        host, slot, device = step["bindings"][port]
        assert (host, device) == (step["host"], sid), step
        assert [host, slot, "allocated", sid] in step["ledger"] or \
            [host, slot, "claimed", sid] in step["ledger"], step
        return host, slot

    def held_by_server(step: dict[str, Any]) -> int:
        return sum(1 for *_, owner in step["ledger"] if owner == sid)

    home = vf_of(boot)
    assert home[0] in HOSTS and len(boot["ledger"]) == 1
    # After every operation the port has one binding, ACTIVE where it is bound (the live
    # migrations' INACTIVE target bindings are activated, the sources' deleted), or none
    # while unbound (shelved): neutron's /ports/{id}/bindings read with the SDK.
    for name, step in steps.items():
        for port, listed in step.get("host_bindings", {}).items():
            host = step["bindings"][port][0]
            assert listed == ([[host, "ACTIVE"]] if host else []), (name, port, listed)
    assert steps["live migrate"]["host_bindings"][port_id][0][0] != \
        steps["live migrate to host"]["host_bindings"][port_id][0][0]
    # The power operations, rebuild and rename keep the VF and the binding where they are.
    for name in ("stop", "start", "reboot soft", "reboot hard", "pause", "unpause", "suspend",
                 "resume", "rebuild", "rename"):
        assert vf_of(steps[name]) == home and len(steps[name]["ledger"]) == 1, name
    assert steps["rebuild"]["name"] == "rebuilt" and steps["rename"]["name"] == "renamed"

    # A resize holds both VFs until confirmed: the target's by the server, the source's by
    # the migration (os-sriov-hosts shows no server on it); confirm frees the source's.
    resized = steps["resize"]
    target = vf_of(resized)
    assert target[0] != home[0] and resized["flavor"] == "m1.small"
    assert len(resized["ledger"]) == 2 and [*home, "allocated", None] in resized["ledger"]
    assert vf_of(steps["resize confirm"]) == target
    assert len(steps["resize confirm"]["ledger"]) == 1
    # Revert returns to the source's very VF and frees the target's.
    again = steps["resize again"]
    assert vf_of(again)[0] == home[0] and len(again["ledger"]) == 2
    reverted = steps["resize revert"]
    assert vf_of(reverted) == target and reverted["flavor"] == "m1.small"
    assert len(reverted["ledger"]) == 1

    # Cold migration holds both VFs until confirmed; each live migration lands on the other
    # host and frees the source's VF once the target runs the guest.
    migrated = steps["migrate"]
    assert vf_of(migrated)[0] != target[0] and len(migrated["ledger"]) == 2
    assert vf_of(steps["migrate confirm"]) == vf_of(migrated)
    where = vf_of(migrated)[0]
    for name in ("migrate confirm", "live migrate to host", "live migrate"):
        landed = vf_of(steps[name])[0]
        assert (landed == where) == (name == "migrate confirm"), name
        assert len(steps[name]["ledger"]) == 1, name
        where = landed

    # A stopped server moves and stays SHUTOFF; started, it runs on the VF it moved to.
    off = vf_of(steps["stop to move"])
    moved = steps["migrate stopped"]
    assert (moved["status"], moved["power"]) == ("VERIFY_RESIZE", 4)  # nova: SHUTDOWN
    assert vf_of(moved)[0] != off[0] and len(moved["ledger"]) == 2
    # Never started on the target: its VF is claimed, not yet allocated (no guest runs it).
    assert [*vf_of(moved), "claimed", sid] in moved["ledger"]
    confirmed = steps["migrate stopped confirm"]
    assert (confirmed["status"], confirmed["power"]) == ("SHUTOFF", 4)
    assert vf_of(confirmed) == vf_of(moved) and len(confirmed["ledger"]) == 1
    started = steps["start moved"]
    assert [*vf_of(moved), "allocated", sid] in started["ledger"] and started["power"] == 1

    # A second direct port: its own VF on the server's host, bound there; detached, freed.
    attached = steps["attach"]
    extra = next(p for p in attached["bindings"] if p != port_id)
    assert vf_of(attached, extra)[0] == attached["host"] and held_by_server(attached) == 2
    detached = steps["detach"]
    assert detached["bindings"][extra] == ["", None, ""], detached  # unbound, no device
    assert held_by_server(detached) == 1 and len(detached["ledger"]) == 1

    # Shelved (offloaded) the server holds no VF; unshelved it claims one again.
    shelved = steps["shelve"]
    assert shelved["ledger"] == [] and shelved["host"] is None
    assert shelved["bindings"][port_id] == ["", None, sid]  # unbound, still the server's
    unshelved = steps["unshelve"]
    assert vf_of(unshelved)[0] in HOSTS and len(unshelved["ledger"]) == 1
    _check_bindings(steps["bindings"], unshelved, sid)
    deleted = steps["deleted"]
    assert deleted["ledger"] == [] and deleted["port"]["vfs"] == 0
    assert deleted["port"]["binding"] == ["", None, ""]  # free, and no compute's any more
    assert deleted["port"]["host_bindings"] is None


def _check_bindings(b: dict[str, Any], unshelved: dict[str, Any], sid: str) -> None:
    """The binding calls on the running server's port: the port's binding moves between
    hosts while the server keeps its one VF where it runs (bindings are neutron's; VF
    claims are nova's), and neutron's answers: 409 twice, 409 already active, 404 missing,
    204 for the ACTIVE binding too."""
    here, there = b["here"], b["there"]
    slot = unshelved["bindings"][next(iter(unshelved["bindings"]))][1]
    ledger = unshelved["ledger"]
    assert b["before"] == {"binding": [here, slot, sid], "host_bindings": [[here, "ACTIVE"]],
                           "vfs": 1, "ledger": ledger}, b["before"]
    made = b["made"]
    assert made[:3] == [there, "INACTIVE", "hw_veb"]  # on a VF nobody holds there
    assert [there, made[3]["pci_slot"]] not in [held[:2] for held in ledger]
    assert b["shown"] == [there, "INACTIVE", made[3]] and b["listed"] == [[there, "INACTIVE"]]
    assert b["twice"] == 409 and b["again"] == 409 and b["missing"] == [404, 404, 404]
    assert b["activated"] == [there, "ACTIVE", made[3]]
    moved = b["after_activate"]
    assert moved["binding"] == [there, made[3]["pci_slot"], sid]
    assert moved["host_bindings"] == [[there, "ACTIVE"], [here, "INACTIVE"]]
    assert b["after_delete"]["host_bindings"] == [[there, "ACTIVE"]]
    assert b["restored"]["binding"] == [here, slot, sid]
    assert b["restored"]["host_bindings"] == [[here, "ACTIVE"]]
    gone = b["active_deleted"]
    assert gone["binding"] == ["", None, sid] and gone["host_bindings"] == []
    # Through all of it the server's port holds exactly its one VF, no other is taken.
    for name in ("after_activate", "after_delete", "restored", "active_deleted"):
        assert (b[name]["vfs"], b[name]["ledger"]) == (1, ledger), (name, b[name])
