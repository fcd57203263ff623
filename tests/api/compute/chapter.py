"""Helpers of the compute API tests: a host registered through the internal API as a simulated
82576 host's agents would (14 VFs 8086:10ca on physnet1 under PFs 0000:0b:00.0/.1), and the
chapter's network, subnet and direct port made through the network API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sriovstack.api.settings import ApiSettings
from sriovstack.conf.loader import load_config

_EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "chapter"
CHAPTER_FILES = (_EXAMPLES / "controller" / "nova.conf", _EXAMPLES / "network" / "ml2_conf.ini",
                 _EXAMPLES / "network" / "ml2_conf_sriov.ini")


def chapter_settings(base_url: str, database_url: str) -> ApiSettings:
    """API settings with the chapter's controller nova.conf and ML2 files (physnet1:15:20)."""
    return ApiSettings(base_url=base_url, database_url=database_url,
                       deployment=load_config(CHAPTER_FILES))


CIRROS_ID = "6d1b6e8a-7c2f-4b8e-9d3a-1f2e3d4c5b6a"
PFS = ("0000:0b:00.0", "0000:0b:00.1")


def vf_devices(physnet: str = "physnet1", per_pf: int = 7) -> list[dict[str, Any]]:
    """The 82576's VFs as the compute agent reports them: PF n's VFs at 0b:10.n + 2i."""
    out = []
    for n, pf in enumerate(PFS):
        for i in range(per_pf):
            fn = n + 2 * i
            out.append({"address": f"0000:0b:{0x10 + fn // 8:02x}.{fn % 8}",
                        "vendor_id": "8086", "product_id": "10ca", "dev_type": "type-VF",
                        "parent_addr": pf, "numa_node": 0, "physnet": physnet})
    return out


INVENTORY = {
    "resources": {"vcpus": 16, "memory_mb": 32768, "disk_gb": 500,
                  "capabilities": {"hypervisor_type": "QEMU", "hypervisor_version": 8002000,
                                   "host_ip": "192.0.2.11",
                                   "supported_instances": [["x86_64", "qemu", "hvm"]]}},
    "devices": vf_devices(),
}
SRIOV_HEARTBEAT = {"agent_type": "NIC Switch agent", "binary": "neutron-sriov-nic-agent",
                   "configurations": {"device_mappings": {"physnet1": ["enp11s0f0",
                                                                      "enp11s0f1"]}}}
COMPUTE_HEARTBEAT = {"agent_type": "Compute agent", "binary": "sriovstack-compute"}


def register_host(api: Any, host: str = "compute-1",
                  inventory: dict[str, Any] | None = None) -> None:
    """Inventory, compute heartbeat and NIC agent heartbeat, all over the internal API."""
    c = api.client
    r = c.put(f"/internal/v1/hosts/{host}/inventory", json=inventory or INVENTORY,
              headers=api.service)
    assert r.status_code == 200, r.text
    for beat in (COMPUTE_HEARTBEAT, SRIOV_HEARTBEAT):
        r = c.post(f"/internal/v1/hosts/{host}/heartbeat", json=beat, headers=api.service)
        assert r.status_code == 200, r.text


def direct_port(api: Any, segment: int = 15) -> dict[str, Any]:
    """The chapter's 20.7: a vlan network on physnet1, a subnet, a direct port (as admin)."""
    c = api.client
    r = c.post("/network/v2.0/networks", headers=api.admin, json={"network": {
        "name": "web", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": str(segment)}})
    assert r.status_code == 201, r.text
    net = r.json()["network"]
    r = c.post("/network/v2.0/subnets", headers=api.admin, json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4, "name": "web-sub"}})
    assert r.status_code == 201, r.text
    r = c.post("/network/v2.0/ports", headers=api.admin, json={"port": {
        "network_id": net["id"], "name": "sr-iov", "binding:vnic_type": "direct",
        "admin_state_up": True}})
    assert r.status_code == 201, r.text
    port: dict[str, Any] = r.json()["port"]
    return port


def boot_body(port_id: str | None = None, name: str = "webserver01") -> dict[str, Any]:
    """What OSC sends for ``server create --flavor m1.tiny --image cirros --nic port-id=``."""
    server: dict[str, Any] = {
        "name": name, "imageRef": CIRROS_ID, "flavorRef": "1", "min_count": 1,
        "max_count": 1,
        "block_device_mapping_v2": [{"uuid": CIRROS_ID, "boot_index": 0,
                                     "source_type": "image", "destination_type": "local",
                                     "delete_on_termination": True}]}
    if port_id is not None:
        server["networks"] = [{"port": port_id}]
    return {"server": server}
