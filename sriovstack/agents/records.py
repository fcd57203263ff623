"""What agents remember across restarts: small JSON files in the state dir, written atomically.

The compute agent's ``VfLedger`` lists what it configured on which VF for whom (server, port,
generation); the NIC agent's ``DeviceBook`` lists the devices it last reported and how
(``BookedDevice``: a port's MAC on a VF, reported up or down).  The
database stays the source of truth: these only let a restarted agent clean up what it did while
the control plane moved on (a VF configured for a server that was deleted meanwhile, a device
released while the agent was down).  Each write goes to a temporary file, is fsynced, then
renamed over the old one, so a crash leaves the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sriovstack.errors import HostError, Invalid
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress

__all__ = ["VfAssignment", "VfLedger", "BookedDevice", "DeviceKey", "DeviceBook"]

DeviceKey = tuple[MacAddress, PciAddress]
_BAD_ENTRY = (KeyError, ValueError, TypeError, Invalid)

_VERSION = 1


class _JsonFile:
    """One versioned JSON document under the state dir."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise HostError(f"cannot read agent state {self.path}: {exc.strerror}",
                            path=str(self.path), errno=exc.errno) from exc
        try:
            doc = json.loads(text)
            if doc["version"] != _VERSION or not isinstance(doc["items"], list):
                raise ValueError(f"version {doc['version']!r}, expected {_VERSION}")
            return list(doc["items"])
        except (ValueError, KeyError, TypeError) as exc:
            raise HostError(f"agent state {self.path} is unreadable ({exc})", path=str(self.path),
                            fix="remove the file; the agent then rebuilds it from the host "
                            "and the API") from exc

    def save(self, items: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": _VERSION, "items": items}, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class VfAssignment:
    """The compute agent set ``mac``/``vlan`` on the VF at ``pci_address`` for this port."""

    server_id: str
    port_id: str
    pci_address: PciAddress
    mac: MacAddress
    vlan: int
    generation: int

    @property
    def owner(self) -> tuple[str, str, int]:
        return (self.server_id, self.port_id, self.generation)

    def to_json(self) -> dict[str, Any]:
        return {"server_id": self.server_id, "port_id": self.port_id,
                "pci_address": str(self.pci_address), "mac": str(self.mac), "vlan": self.vlan,
                "generation": self.generation}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> VfAssignment:
        return cls(str(d["server_id"]), str(d["port_id"]), PciAddress.parse(d["pci_address"]),
                   MacAddress.parse(d["mac"]), int(d["vlan"]), int(d["generation"]))


class VfLedger:
    """The compute agent's assignments, one per (server, port), in ``compute-vfs.json``."""

    FILE = "compute-vfs.json"

    def __init__(self, state_dir: str | Path) -> None:
        self._file = _JsonFile(Path(state_dir) / self.FILE)
        try:
            self._items = {(a.server_id, a.port_id): a for a in
                           (VfAssignment.from_json(d) for d in self._file.load())}
        except _BAD_ENTRY as exc:
            raise HostError(f"agent state {self._file.path} has a bad entry ({exc})",
                            path=str(self._file.path), fix="remove the file") from exc

    def assignments(self) -> tuple[VfAssignment, ...]:
        """Every assignment, by server then port."""
        return tuple(a for _, a in sorted(self._items.items()))

    def holders(self, address: PciAddress) -> tuple[VfAssignment, ...]:
        """The assignments on one VF (more than one only while a stale one awaits cleanup)."""
        return tuple(a for a in self.assignments() if a.pci_address == address)

    def record(self, assignment: VfAssignment) -> None:
        """Remember (or update) the assignment of its (server, port); saved at once."""
        key = (assignment.server_id, assignment.port_id)
        if self._items.get(key) != assignment:
            self._items[key] = assignment
            self._save()

    def forget(self, assignment: VfAssignment) -> None:
        """Drop the assignment of its (server, port); saved at once."""
        if self._items.pop((assignment.server_id, assignment.port_id), None) is not None:
            self._save()

    def _save(self) -> None:
        self._file.save([a.to_json() for a in self.assignments()])


@dataclass(frozen=True, slots=True)
class BookedDevice:
    """A VF device (port MAC on a VF) the NIC agent reported, and whether as up."""

    mac: MacAddress
    pci_address: PciAddress
    up: bool

    @property
    def key(self) -> DeviceKey:
        return (self.mac, self.pci_address)


class DeviceBook:
    """The NIC agent's last reports, in ``sriov-devices.json``."""

    FILE = "sriov-devices.json"

    def __init__(self, state_dir: str | Path) -> None:
        self._file = _JsonFile(Path(state_dir) / self.FILE)
        try:
            items = [BookedDevice(MacAddress.parse(d["mac"]), PciAddress.parse(d["pci_address"]),
                                  bool(d["up"])) for d in self._file.load()]
        except _BAD_ENTRY as exc:
            raise HostError(f"agent state {self._file.path} has a bad entry ({exc})",
                            path=str(self._file.path), fix="remove the file") from exc
        self._items = {d.key: d for d in items}

    def devices(self) -> tuple[BookedDevice, ...]:
        return tuple(self._items[k] for k in sorted(self._items, key=lambda k: (str(k[1]), k[0])))

    def get(self, key: DeviceKey) -> BookedDevice | None:
        return self._items.get(key)

    def put(self, device: BookedDevice) -> None:
        if self._items.get(device.key) != device:
            self._items[device.key] = device
            self._save()

    def drop(self, key: DeviceKey) -> None:
        if self._items.pop(key, None) is not None:
            self._save()

    def _save(self) -> None:
        self._file.save([{"mac": str(d.mac), "pci_address": str(d.pci_address), "up": d.up}
                         for d in self.devices()])
