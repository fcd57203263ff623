"""FakeVirtDriver: guests and their VFs kept in one JSON file shared by every process on a host.

The agent and the CLI are separate processes, so the state lives in
``<state dir>/virt-guests.json``, read and rewritten under an exclusive ``flock`` on
``virt-guests.lock`` (the whole file replaced atomically), and the real rules are enforced:
the VF must exist on the host (checked through the sysfs seam) and be a VF, one PCI address
per guest at a time, detach only what is attached.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sriovstack.errors import Conflict, Invalid, NotFound, VirtError
from sriovstack.host import SysfsIO
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.virt.rules import check_attachable, check_vf_present, find_port
from sriovstack.virt.types import Guest, GuestSpec, VfInterface

__all__ = ["FakeVirtDriver", "STATE_FILE"]

STATE_FILE = "virt-guests.json"
_LOCK_FILE = "virt-guests.lock"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class _Record:
    """One guest as the fake keeps it: the spec's sizing plus the live view."""

    name: str
    vcpus: int
    memory_mb: int
    guest: Guest


def _vf_to_json(vf: VfInterface) -> dict[str, Any]:
    return {"pci_address": str(vf.pci_address), "mac": str(vf.mac), "vlan": vf.vlan,
            "port_id": vf.port_id}


def _to_json(records: dict[str, _Record]) -> dict[str, Any]:
    return {"version": _VERSION, "guests": {
        sid: {"name": r.name, "vcpus": r.vcpus, "memory_mb": r.memory_mb,
              "running": r.guest.running,
              "interfaces": [_vf_to_json(vf) for vf in r.guest.interfaces]}
        for sid, r in sorted(records.items())}}


def _from_json(data: Any) -> dict[str, _Record]:
    if data.get("version") != _VERSION:
        raise ValueError(f"version {data.get('version')!r}, expected {_VERSION}")
    records = {}
    for sid, g in data["guests"].items():
        vfs = tuple(VfInterface(PciAddress.parse(v["pci_address"]), MacAddress.parse(v["mac"]),
                                v["vlan"], v["port_id"]) for v in g["interfaces"])
        records[sid] = _Record(g["name"], g["vcpus"], g["memory_mb"],
                               Guest(sid, bool(g["running"]), vfs))
    return records


class FakeVirtDriver:
    """A VirtDriver that only records, with state in ``state_dir`` shared across processes."""

    def __init__(self, state_dir: Path, sysfs: SysfsIO) -> None:
        self._dir = Path(state_dir)
        self._path = self._dir / STATE_FILE
        self._sysfs = sysfs

    @property
    def state_file(self) -> Path:
        return self._path

    def _load(self) -> dict[str, _Record]:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            return _from_json(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError, Invalid) as exc:
            raise VirtError(f"{self._path}: fake virt state is unreadable ({exc})",
                            fix="remove the file to start with no guests",
                            path=str(self._path), operation="read state") from exc

    def _save(self, records: dict[str, _Record]) -> None:
        tmp = self._path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_to_json(records), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self._path)

    @contextmanager
    def _state(self, *, write: bool) -> Iterator[dict[str, _Record]]:
        """The records under the lock; saved on a clean exit when ``write`` (all or nothing)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        with open(self._dir / _LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self._load()
            yield records
            if write:
                self._save(records)

    @staticmethod
    def _record(records: dict[str, _Record], server_id: str) -> _Record:
        try:
            return records[server_id]
        except KeyError:
            raise NotFound(f"no guest for server {server_id}", field="server_id",
                           value=server_id) from None

    def list_guests(self) -> tuple[Guest, ...]:
        with self._state(write=False) as records:
            return tuple(r.guest for _, r in sorted(records.items()))

    def get_guest(self, server_id: str) -> Guest:
        with self._state(write=False) as records:
            return self._record(records, server_id).guest

    def spawn(self, guest: GuestSpec) -> Guest:
        for vf in guest.interfaces:
            check_vf_present(self._sysfs, vf.pci_address)
        with self._state(write=True) as records:
            if guest.server_id in records:
                raise Conflict(f"server {guest.server_id} already has a guest "
                               f"({guest.domain_name})", field="server_id",
                               value=guest.server_id)
            check_attachable([r.guest for r in records.values()], guest.server_id,
                             guest.interfaces)
            live = Guest(guest.server_id, True, guest.interfaces)
            records[guest.server_id] = _Record(guest.name, guest.vcpus, guest.memory_mb, live)
            return live

    def destroy(self, server_id: str) -> tuple[VfInterface, ...]:
        with self._state(write=True) as records:
            held = self._record(records, server_id).guest.interfaces
            del records[server_id]
            return held

    def attach_vf(self, server_id: str, vf: VfInterface) -> None:
        with self._state(write=True) as records:
            rec = self._record(records, server_id)
            check_vf_present(self._sysfs, vf.pci_address)
            check_attachable([r.guest for r in records.values()], server_id, [vf])
            guest = replace(rec.guest, interfaces=(*rec.guest.interfaces, vf))
            records[server_id] = replace(rec, guest=guest)

    def detach_vf(self, server_id: str, port_id: str) -> VfInterface:
        with self._state(write=True) as records:
            rec = self._record(records, server_id)
            vf = find_port(rec.guest, port_id)
            kept = tuple(v for v in rec.guest.interfaces if v.port_id != port_id)
            records[server_id] = replace(rec, guest=replace(rec.guest, interfaces=kept))
            return vf
