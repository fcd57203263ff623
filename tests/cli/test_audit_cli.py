"""``sriovstack audit [--repair]`` against a running all-in-one (issue 10): a clean cloud has
no findings; a cloud damaged by hand (a VF claim and an allocation left for a deleted server,
a port bound to a gone server, a VF whose MAC was changed on the simulated host) is reported
finding by finding with exit 1, and ``--repair`` makes it clean."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from sriovstack.allinone import AllInOne, AllInOneOptions, live_vfs, open_host
from sriovstack.cli.allinone import clouds_of
from sriovstack.cli.clouds import write_clouds_yaml
from sriovstack.cli.main import main
from sriovstack.db import Database
from sriovstack.db.models.compute import ServerRow
from sriovstack.db.models.hosts import HostAllocationRow, HostRow, PciDeviceRow
from sriovstack.db.models.network import PortRow
from sriovstack.host.netlink import VfMac
from sriovstack.mac import MacAddress

GONE = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AllInOne, Path]]:
    state = tmp_path_factory.mktemp("aio")
    with AllInOne(AllInOneOptions(state_dir=state, port=0)) as aio:
        path = state / "clouds.yaml"
        write_clouds_yaml(path, clouds_of(aio))
        yield aio, path


@pytest.fixture(autouse=True)
def _env(cloud: tuple[AllInOne, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(cloud[1]))
    monkeypatch.setenv("OS_CLOUD", "sriovstack")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _damage(db: Database, host_name: str, port_id: str) -> None:
    """A claim and an allocation for a server that does not exist; a port bound to it."""
    with db.transaction() as s:
        host = s.scalar(select(HostRow).where(HostRow.name == host_name))
        assert host is not None
        free = s.scalar(select(PciDeviceRow).where(
            PciDeviceRow.host_id == host.id, PciDeviceRow.status == "available",
            PciDeviceRow.dev_type == "type-VF").order_by(PciDeviceRow.address.desc()))
        assert free is not None
        free.status, free.owner = "claimed", GONE
        s.add(HostAllocationRow(server_id=GONE, host_id=host.id, vcpus=1, memory_mb=512,
                                disk_gb=1))
        s.execute(update(HostRow).where(HostRow.id == host.id).values(
            vcpus_used=HostRow.vcpus_used + 1, memory_mb_used=HostRow.memory_mb_used + 512,
            disk_gb_used=HostRow.disk_gb_used + 1))
        s.execute(update(PortRow).where(PortRow.id == port_id).values(
            device_id=GONE, device_owner="compute:nova", binding_host=host_name))


def test_audit_reports_a_damaged_cloud_and_repair_makes_it_clean(
        capsys: pytest.CaptureFixture[str], cloud: tuple[AllInOne, Path]) -> None:
    aio, clouds = cloud
    assert run(capsys, "network", "create", "web", "--provider-network-type", "vlan",
               "--provider-physical-network", "physnet1", "--provider-segment", "17")[0] == 0
    assert run(capsys, "subnet", "create", "web-subnet", "--network", "web",
               "--subnet-range", "10.0.0.0/24")[0] == 0
    for name in ("sr-iov", "stray"):
        assert run(capsys, "port", "create", name, "--network", "web",
                   "--vnic-type", "direct")[0] == 0
    code, out, _ = run(capsys, "server", "create", "vm1", "--flavor", "m1.tiny", "--image",
                       "cirros", "--nic", "port-id=sr-iov", "--wait")
    assert code == 0 and "ACTIVE" in out, out
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "no findings" in out, out

    db = Database(aio.database_url)
    with db.transaction() as s:
        port_id = s.scalar(select(PortRow.id).where(PortRow.name == "stray"))
        server_id = s.scalar(select(ServerRow.id).where(ServerRow.name == "vm1"))
        held = s.execute(select(HostRow.name, PciDeviceRow.address).join(
            HostRow, HostRow.id == PciDeviceRow.host_id).where(
            PciDeviceRow.owner == server_id)).one()
    host, address = held
    assert port_id is not None
    # The host's agents would re-apply vm1's MAC within a pass (2 s): stop them, as a host
    # whose agents are down, so the audit sees the damage on the host for certain.
    assert aio.agents is not None
    agents = aio.agents.of_host(host)
    aio.agents.stop(*agents)
    assert not set(agents) & set(aio.agents.alive())
    _damage(db, host, port_id)
    root = clouds.parent / "hosts" / host
    vf = live_vfs(root)[address]
    open_host(root).netlink.set_vf(vf.pf_netdev, vf.state.vf,
                                   VfMac(MacAddress.parse("02:00:00:00:00:99")))

    code, out, _ = run(capsys, "audit")
    assert code == 1, out
    for check in ("vf-owner-missing", "allocation-owner-missing", "port-server-missing",
                  "vf-state-differs"):
        assert check in out, out
    assert GONE in out and "02:00:00:00:00:99" in out

    for name in agents:  # the agents come back; the repair asks them to resync the host
        aio.agents.start(name)
    code, out, _ = run(capsys, "audit", "--repair")
    assert code == 0 and "0 remaining" in out, out
    code, out, _ = run(capsys, "audit")
    assert code == 0 and "no findings" in out, out
    assert str(live_vfs(root)[address].state.mac).startswith("fa:16:3e")


def test_members_get_a_403_for_the_audit(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "audit", "--os-cloud", "sriovstack-demo")
    assert code == 1 and "403" in err
