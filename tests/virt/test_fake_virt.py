"""FakeVirtDriver: one state for every process on the host, locked, and never half-written."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.virt.virt_host import VFS, new_server_id

from sriovstack.errors import Conflict, VirtError
from sriovstack.host.sysfs import RealSysfs
from sriovstack.mac import MacAddress
from sriovstack.virt import FakeVirtDriver, GuestSpec, VfInterface

_PROCESS = textwrap.dedent("""
    import sys
    from pathlib import Path
    from sriovstack.errors import Conflict
    from sriovstack.host.sysfs import RealSysfs
    from sriovstack.mac import MacAddress
    from sriovstack.pci.address import PciAddress
    from sriovstack.virt import FakeVirtDriver, GuestSpec, VfInterface

    state, root, server_id, address, port = sys.argv[1:]
    driver = FakeVirtDriver(Path(state), RealSysfs(root))
    vf = VfInterface(PciAddress.parse(address), MacAddress("fa:16:3e:00:00:01"), 15, port)
    try:
        driver.spawn(GuestSpec(server_id, "webserver01", 1, 512, (vf,)))
    except Conflict:
        print("conflict")
    else:
        print("spawned")
""")


def _spawn_in_process(state: Path, host: RealSysfs, server_id: str,
                      vf: VfInterface) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _PROCESS, str(state), str(host.root), server_id,
                             str(vf.pci_address), vf.port_id], stdout=subprocess.PIPE, text=True)


def _vf(i: int, port: str) -> VfInterface:
    return VfInterface(VFS[i], MacAddress("fa:16:3e:00:00:01"), 15, port)


def test_another_process_sees_the_same_guests(tmp_path: Path, host: RealSysfs) -> None:
    sid = new_server_id()
    proc = _spawn_in_process(tmp_path / "state", host, sid, _vf(3, "port-a"))
    assert proc.communicate()[0].strip() == "spawned"
    mine = FakeVirtDriver(tmp_path / "state", host)
    assert [g.server_id for g in mine.list_guests()] == [sid]
    mine.attach_vf(sid, _vf(4, "port-b"))
    assert FakeVirtDriver(tmp_path / "state", host).get_guest(sid).interfaces == \
        (_vf(3, "port-a"), _vf(4, "port-b"))


def test_processes_racing_for_one_vf_leave_exactly_one_holder(tmp_path: Path,
                                                              host: RealSysfs) -> None:
    ids = [new_server_id() for _ in range(6)]
    procs = [_spawn_in_process(tmp_path / "state", host, sid, _vf(0, f"port-{i}"))
             for i, sid in enumerate(ids)]
    results = sorted(p.communicate()[0].strip() for p in procs)
    assert results == ["conflict"] * 5 + ["spawned"]
    guests = FakeVirtDriver(tmp_path / "state", host).list_guests()
    assert len(guests) == 1 and guests[0].interfaces[0].pci_address == VFS[0]


def test_the_state_file_records_guests_and_vfs(fake_driver: FakeVirtDriver) -> None:
    sid = new_server_id()
    fake_driver.spawn(GuestSpec(sid, "webserver01", 2, 512, (_vf(1, "port-a"),)))
    data = json.loads(fake_driver.state_file.read_text())
    assert data["guests"][sid] == {
        "name": "webserver01", "vcpus": 2, "memory_mb": 512, "running": True,
        "interfaces": [{"pci_address": str(VFS[1]), "mac": "fa:16:3e:00:00:01", "vlan": 15,
                        "port_id": "port-a"}]}


def test_a_refused_change_leaves_the_state_file_as_it_was(fake_driver: FakeVirtDriver) -> None:
    first, second = new_server_id(), new_server_id()
    fake_driver.spawn(GuestSpec(first, "a", 1, 512, (_vf(2, "port-a"),)))
    fake_driver.spawn(GuestSpec(second, "b", 1, 512))
    before = fake_driver.state_file.read_bytes()
    with pytest.raises(Conflict):
        fake_driver.attach_vf(second, _vf(2, "port-b"))
    assert fake_driver.state_file.read_bytes() == before


@pytest.mark.parametrize("text", ["{not json", '{"version": 99, "guests": {}}',
                                  '{"version": 1, "guests": {"x": {"name": "a"}}}'])
def test_an_unreadable_state_file_is_named_with_a_fix(fake_driver: FakeVirtDriver,
                                                      text: str) -> None:
    fake_driver.state_file.parent.mkdir(parents=True)
    fake_driver.state_file.write_text(text)
    with pytest.raises(VirtError, match="virt-guests.json: fake virt state is unreadable") as err:
        fake_driver.list_guests()
    assert err.value.fix == "remove the file to start with no guests"
