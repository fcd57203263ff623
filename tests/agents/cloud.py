"""The tenant side of the agent tests, through the public APIs as the chapter's 20.7 does it:
a VLAN network on physnet1, direct ports, servers booted on them, deleted again."""

from __future__ import annotations

from typing import Any

from sriovstack.host import Host
from sriovstack.host.netlink import VfState
from sriovstack.pci.address import PciAddress
from tests.api.compute.chapter import boot_body


def network(api: Any, segment: int = 15, name: str = "web") -> str:
    """A vlan network on physnet1 (segment ``segment``) with a subnet; returns its id."""
    c = api.client
    r = c.post("/network/v2.0/networks", headers=api.admin, json={"network": {
        "name": name, "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": str(segment)}})
    assert r.status_code == 201, r.text
    net_id: str = r.json()["network"]["id"]
    r = c.post("/network/v2.0/subnets", headers=api.admin, json={"subnet": {
        "network_id": net_id, "cidr": f"10.0.{segment}.0/24", "ip_version": 4}})
    assert r.status_code == 201, r.text
    return net_id


def direct_port(api: Any, net_id: str, admin_state_up: bool = True) -> dict[str, Any]:
    r = api.client.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": net_id, "name": "sr-iov", "binding:vnic_type": "direct",
        "admin_state_up": admin_state_up}})
    assert r.status_code == 201, r.text
    port: dict[str, Any] = r.json()["port"]
    return port


def boot(api: Any, port_id: str, name: str = "webserver01") -> str:
    r = api.client.post("/compute/v2.1/servers", json=boot_body(port_id, name),
                        headers=api.admin)
    assert r.status_code == 202, r.text
    server_id: str = r.json()["server"]["id"]
    return server_id


def server(api: Any, server_id: str) -> dict[str, Any]:
    r = api.client.get(f"/compute/v2.1/servers/{server_id}", headers=api.admin)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["server"]
    return body


def port(api: Any, port_id: str) -> dict[str, Any]:
    r = api.client.get(f"/network/v2.0/ports/{port_id}", headers=api.admin)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()["port"]
    return body


def set_admin_state(api: Any, port_id: str, up: bool) -> None:
    r = api.client.put(f"/network/v2.0/ports/{port_id}", headers=api.admin,
                       json={"port": {"admin_state_up": up}})
    assert r.status_code == 200, r.text


def delete_server(api: Any, server_id: str) -> None:
    r = api.client.delete(f"/compute/v2.1/servers/{server_id}", headers=api.admin)
    assert r.status_code == 204, r.text


def vf_state(host: Host, pf_netdev: str, address: str | PciAddress) -> VfState:
    """The netlink state of the VF at ``address`` (found through its PF's virtfnN links)."""
    wanted = str(address)
    pf_dir = f"/sys/class/net/{pf_netdev}/device"
    for name in host.sysfs.listdir(pf_dir):
        if name.startswith("virtfn") and host.sysfs.readlink(f"{pf_dir}/{name}").endswith(
                wanted):
            index = int(name[len("virtfn"):])
            return next(s for s in host.netlink.get_vfs(pf_netdev) if s.vf == index)
    raise AssertionError(f"no VF {wanted} under {pf_netdev}")
