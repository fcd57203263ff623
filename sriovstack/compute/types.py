"""The typed values the compute service takes and returns: flavors, images, servers, faults."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sriovstack.identity import Caller
from sriovstack.mac import MacAddress
from sriovstack.pci import PciAddress
from sriovstack.wire import ServerStatus, VnicType

__all__ = [
    "MoveKind",
    "EndedMoves",
    "ConsoleOutputAction",
    "EvacuateAction",
    "ShelveAction",
    "UnshelveAction",
    "ResizeAction",
    "ConfirmResizeAction",
    "RevertResizeAction",
    "Migration",
    "Flavor",
    "Image",
    "ServerStatus",
    "Fault",
    "ServerAddress",
    "ServerPort",
    "SYSTEM_CALLER",
    "Server",
    "NetworkRequest",
    "ServerCreate",
    "ServerUpdate",
    "ServerAction",
    "LockAction",
    "UnlockAction",
    "MigrateAction",
    "LiveMigrateAction",
    "Operation",
    "PowerAction",
    "RebuildAction",
    "InstanceAction",
    "InstanceActionEvent",
    "ServerFilter",
    "Hypervisor",
    "Inventory",
    "ResourceProvider",
]


@dataclass(frozen=True, slots=True)
class Flavor:
    """A nova flavor: ``id`` is a string ("1".."5" for the seeded m1.* set)."""

    id: str
    name: str
    ram: int
    vcpus: int
    disk: int
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None
    extra_specs: tuple[tuple[str, str], ...] = ()  # sorted by key

    def extra_spec(self, key: str) -> str | None:
        """The value of extra spec ``key``, or None."""
        return dict(self.extra_specs).get(key)


@dataclass(frozen=True, slots=True)
class Image:
    """A glance image record; its data, once uploaded, is a file in the image store."""

    id: str
    name: str
    status: str
    visibility: str
    disk_format: str
    container_format: str
    min_disk: int
    min_ram: int
    size: int | None
    checksum: str | None
    owner: str | None
    protected: bool
    created_at: datetime
    updated_at: datetime
    properties: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    os_hidden: bool = False
    os_hash_value: str | None = None  # sha512 of the data (glance's os_hash_algo)

    def property_map(self) -> dict[str, str]:
        """The image properties (hw_* etc.) as a fresh dict for filters and views."""
        return dict(self.properties)


@dataclass(frozen=True, slots=True)
class Fault:
    """Why a server went to ERROR: nova's ``fault`` object."""

    code: int
    message: str
    created: datetime
    details: str = ""


# The compute service acting on its own behalf (agent views, status reports).
SYSTEM_CALLER = Caller("sriovstack-compute", None, is_admin=True, is_service=True)


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """One fixed IP of a server, as nova lists it under ``addresses[<network name>]``."""

    network_name: str
    version: int
    addr: str
    mac: MacAddress


@dataclass(frozen=True, slots=True)
class ServerPort:
    """One port attached to a server, with the PCI device it was given (if SR-IOV)."""

    port_id: str
    network_id: str
    created_by_compute: bool
    vnic_type: VnicType = VnicType.NORMAL
    pci_address: PciAddress | None = None
    vendor_id: str | None = None
    product_id: str | None = None
    physnet: str | None = None
    generation: int | None = None


@dataclass(frozen=True, slots=True)
class Server:
    """A server as the compute service knows it."""

    id: str
    name: str
    project_id: str
    user_id: str
    status: ServerStatus
    task_state: str | None
    flavor_id: str
    image_id: str | None
    host: str | None
    availability_zone: str | None
    access_ipv4: str
    access_ipv6: str
    metadata: tuple[tuple[str, str], ...]
    key_name: str | None
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None
    ports: tuple[ServerPort, ...] = ()
    fault: Fault | None = None
    addresses: tuple[ServerAddress, ...] = ()
    description: str | None = None
    locked: bool = False
    locked_reason: str | None = None
    # Moved while SHUTOFF (resize/migration under way or awaiting confirm): the guest is off.
    powered_off: bool = False
    flavor: Flavor | None = None  # resolved by the service for views (2.47 embeds it)

    @property
    def has_pci_port(self) -> bool:
        """True when a port of this server asks for (or holds) a PCI device (20.9 limits)."""
        return any(p.vnic_type.is_sriov or p.pci_address for p in self.ports)


@dataclass(frozen=True, slots=True)
class NetworkRequest:
    """One entry of ``networks``: an existing port, or a network to create a port on."""

    port_id: str | None = None
    network_id: str | None = None
    fixed_ip: str | None = None


@dataclass(frozen=True, slots=True)
class ServerCreate:
    """What a create request asks for, parsed at the API edge."""

    name: str
    flavor_ref: str
    image_ref: str | None
    networks: tuple[NetworkRequest, ...] = ()
    availability_zone: str | None = None
    access_ipv4: str = ""
    access_ipv6: str = ""
    metadata: tuple[tuple[str, str], ...] = ()
    key_name: str | None = None
    security_groups: tuple[str, ...] = ()
    description: str | None = None
    # 2.37: "auto" asks for the project's one usable network; "none" for no network at all.
    auto_network: bool = False


@dataclass(frozen=True, slots=True)
class ServerUpdate:
    """PUT /servers/{id}: what to change; ``None`` leaves a field as it is, except that
    ``description`` is changed (to ``None``: cleared) only when ``set_description``."""

    name: str | None = None
    access_ipv4: str | None = None
    access_ipv6: str | None = None
    set_description: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class LockAction:
    """``lock``: only admins may act on the server until it is unlocked (2.73: a reason)."""

    reason: str | None = None
    name: str = "lock"


@dataclass(frozen=True, slots=True)
class UnlockAction:
    name: str = "unlock"


@dataclass(frozen=True, slots=True)
class MigrateAction:
    """``migrate`` (cold): to ``host`` (2.56) or where the scheduler says."""

    host: str | None = None
    name: str = "migrate"


@dataclass(frozen=True, slots=True)
class LiveMigrateAction:
    """``os-migrateLive``: to ``host`` or where the scheduler says."""

    host: str | None = None
    block_migration: bool | None = None  # None: "auto" (2.25)
    async_checks: bool = True  # 2.34: no valid host is recorded, not answered (400)
    name: str = "os-migrateLive"


class Operation(enum.Enum):
    """A power operation of a placed server, named as its API action (reboot by its type)."""

    STOP = "os-stop"
    START = "os-start"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    SUSPEND = "suspend"
    RESUME = "resume"
    REBOOT_SOFT = "reboot"
    REBOOT_HARD = "reboot (HARD)"
    REBUILD = "rebuild"
    # The moves (compute/migration.py): their agent-side steps share the table of states.
    RESIZE = "resize"
    REVERT_RESIZE = "revertResize"
    LIVE_MIGRATE = "os-migrateLive"


@dataclass(frozen=True, slots=True)
class PowerAction:
    """stop/start, pause/unpause, suspend/resume, reboot: the VF claim and binding stay."""

    op: Operation

    @property
    def name(self) -> str:
        return self.op.value


@dataclass(frozen=True, slots=True)
class RebuildAction:
    """``rebuild``: the same server (VF claim and port binding kept) booted from
    ``image_ref`` again, optionally renamed, with new metadata or description (2.19)."""

    image_ref: str
    name: str | None = None
    metadata: tuple[tuple[str, str], ...] | None = None
    set_description: bool = False
    description: str | None = None

    name = "rebuild"


@dataclass(frozen=True, slots=True)
class ShelveAction:
    """``shelve``: the guest stopped and offloaded at once (nova with shelved_offload_time
    0): the VFs and the host released, the ports kept without a binding host."""

    name = "shelve"


@dataclass(frozen=True, slots=True)
class UnshelveAction:
    """``unshelve``: scheduled again (a new VF claim, maybe on another host); 2.77 may name
    the availability zone."""

    availability_zone: str | None = None

    name = "unshelve"


@dataclass(frozen=True, slots=True)
class EvacuateAction:
    """``evacuate``: rebuilt on another host because its own is down (``host``: a target)."""

    host: str | None = None

    name = "evacuate"


@dataclass(frozen=True, slots=True)
class ConsoleOutputAction:
    """``os-getConsoleOutput``: the last ``length`` lines of the console (None: all)."""

    length: int | None = None

    name = "os-getConsoleOutput"


@dataclass(frozen=True, slots=True)
class ResizeAction:
    """``resize``: move to the flavor ``flavor_ref`` (a new VF claimed where it lands)."""

    flavor_ref: str
    name: str = "resize"


@dataclass(frozen=True, slots=True)
class ConfirmResizeAction:
    """``confirmResize``: keep the move; the source host's VF and resources are released."""

    name: str = "confirmResize"


@dataclass(frozen=True, slots=True)
class RevertResizeAction:
    """``revertResize``: go back to the source host and its VF; the target's are released."""

    name: str = "revertResize"


ServerAction = (LockAction | UnlockAction | MigrateAction | LiveMigrateAction | PowerAction
                | RebuildAction | ShelveAction | UnshelveAction | EvacuateAction
                | ConsoleOutputAction | ResizeAction | ConfirmResizeAction | RevertResizeAction)


@dataclass(frozen=True, slots=True)
class Migration:
    """One move of a server as os-migrations shows it (nova's Migration object)."""

    id: int
    uuid: str
    server_id: str
    project_id: str
    user_id: str
    migration_type: str   # resize | migration | live-migration
    status: str
    source_compute: str
    dest_compute: str | None
    old_flavor_id: str
    new_flavor_id: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class InstanceActionEvent:
    """One step of an instance action: ``result`` Success/Error once finished."""

    event: str
    start_time: datetime
    finish_time: datetime | None
    result: str | None
    traceback: str | None
    host: str | None


@dataclass(frozen=True, slots=True)
class InstanceAction:
    """One request that changed a server (os-instance-actions), with its events."""

    action: str
    server_id: str
    request_id: str
    user_id: str
    project_id: str
    start_time: datetime
    updated_at: datetime
    message: str | None
    events: tuple[InstanceActionEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class ServerFilter:
    """List filters: ``name`` is a regex (as nova treats it), the rest exact; ``changed_*``
    bound ``updated_at``; ``limit`` (capped at MAX_LIMIT, nova's ``[api] max_limit``) and
    ``marker`` (the server id after which a page starts) page in the order of ``sorts``."""

    name: str | None = None
    host: str | None = None
    status: ServerStatus | None = None
    all_projects: bool = False
    image_id: str | None = None
    flavor_id: str | None = None
    locked: bool | None = None
    changed_since: datetime | None = None
    changed_before: datetime | None = None
    limit: int | None = None
    marker: str | None = None
    nothing: bool = False  # deleted=True, or an unknown status below 2.38: an empty list
    # (nova sort key, ascending) in order; nova's default keys follow them (server_list.py)
    sorts: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Hypervisor:
    """One compute host as os-hypervisors shows it (the 2.1 key set, nothing SR-IOV-specific)."""

    id: str
    hostname: str
    host_ip: str | None  # None when the agent reports none (nova's schema: an IP or null)
    enabled: bool
    disabled_reason: str | None
    up: bool
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    hypervisor_type: str = "QEMU"
    hypervisor_version: int = 0


@dataclass(frozen=True, slots=True)
class Inventory:
    """One resource class of a provider: total, reserved and what servers use of it."""

    resource_class: str
    total: int
    used: int
    reserved: int = 0
    max_unit: int | None = None


@dataclass(frozen=True, slots=True)
class ResourceProvider:
    """A placement provider: a compute host (root) or one of its PFs (child, SRIOV_NET_VF)."""

    uuid: str
    name: str
    generation: int
    parent_uuid: str | None
    root_uuid: str
    inventories: tuple[Inventory, ...]


class MoveKind:
    """nova's migration_type values."""

    RESIZE = "resize"
    MIGRATION = "migration"
    LIVE = "live-migration"


@dataclass(slots=True)
class EndedMoves:
    """The moves an agent's report ended, for what must follow the commit: the source claims
    to free ((migration uuid, source host)) and a live move's source ports on its target."""

    released: list[tuple[str, str]] = field(default_factory=list)
    live: list[tuple[tuple[str, ...], str]] = field(default_factory=list)
