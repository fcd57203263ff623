"""The compute service: flavors, images, servers and their builds, hypervisors, desired state.

``build_compute`` wires it over the database, the network service and the scheduler; the API
holds the resulting ``ComputeServices``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sriovstack.clock import Clock
from sriovstack.compute.audit import (Audit, AuditCheck, AuditReport, Finding, VfObservation,
                                      vf_state_findings)
from sriovstack.compute.build import ServerBuilder
from sriovstack.compute.build_lease import DEFAULT_LEASE_SECONDS
from sriovstack.compute.desired_state import (DesiredStateService, HostChangeNotifier,
                                              HostRevisions)
from sriovstack.compute.drain import DrainPlan, DrainService, DrainStep
from sriovstack.compute.host_devices import (CloudView, HostDevice, HostDeviceService, SriovHost,
                                              VfRecord, VfView)
from sriovstack.compute.hosts import HostRegistry
from sriovstack.compute.interfaces import (HOTPLUG_STATUSES, InterfaceAttach, InterfaceAttachment,
                                           InterfaceService)
from sriovstack.compute.flavors import DEFAULT_FLAVORS, FlavorQuery, FlavorService, FlavorCreate
from sriovstack.compute.extra_specs import ALIAS_SPEC, check_extra_spec, parse_alias_spec
from sriovstack.compute.keypairs import Keypair, KeypairCreate, KeypairQuery, KeypairService
from sriovstack.compute.hypervisors import SRIOV_NET_VF, HypervisorService
from sriovstack.compute.image_patch import BASE_ATTRS, ImageAttrs, PatchOp, check_attr
from sriovstack.compute.image_store import ImageStore
from sriovstack.compute.images import (CIRROS, ImageCreate, ImageData, ImageQuery,
                                       ImageService, ImageUpload)
from sriovstack.compute.migration import MigrationService, MoveKind
from sriovstack.compute.placement import (STANDARD_RESOURCE_CLASSES, Candidate,
                                          CandidateRequest, ConsumerAllocations, NameKind,
                                          PlacementService, ProviderAllocations)
from sriovstack.compute.quotas import (COMPUTE_DEFAULTS, LEGACY_NETWORK_DEFAULTS, VF_PREFIX,
                                       ComputeQuotas, QuotaDetail, vf_resource)
from sriovstack.compute.reports import HostReports
from sriovstack.compute.services import COMPUTE_BINARY, ComputeService, ComputeServiceRegistry
from sriovstack.compute.usage import ProjectUsage, ServerUsage, UsageService
from sriovstack.compute.scheduler import Scheduler, scheduler_config
from sriovstack.compute.server_list import MAX_LIMIT
from sriovstack.compute.console import ConsoleLog
from sriovstack.compute.evacuate import EvacuateService
from sriovstack.compute.operation_lease import OperationLeases, OperationRecovery
from sriovstack.compute.servers import ServerService
from sriovstack.compute.shelve import OFFLOADING, SHELVING, ShelveService
from sriovstack.compute.types import (Flavor, Hypervisor, Image, InstanceAction,
                                      InstanceActionEvent, Inventory, LiveMigrateAction,
                                      LockAction, MigrateAction, NetworkRequest, Operation,
                                      PowerAction, RebuildAction, ResourceProvider, Server,
                                      ServerAction, ServerCreate, ServerFilter, ServerUpdate,
                                      ShelveAction, UnlockAction, UnshelveAction,
                                      EvacuateAction, ConsoleOutputAction)
from sriovstack.compute.types import (ConfirmResizeAction, Migration, ResizeAction,
                                      RevertResizeAction)
from sriovstack.db import Database
from sriovstack.errors import WriteConflict
from sriovstack.metrics import Recorder

if TYPE_CHECKING:
    from sriovstack.network import NetworkService

__all__ = [
    "ComputeServices", "build_compute", "FlavorService", "FlavorQuery", "ImageService",
    "MAX_LIMIT", "DEFAULT_LEASE_SECONDS",
    "ImageQuery", "ImageCreate", "ImageData", "ImageUpload", "ImageStore", "ImageAttrs",
    "PatchOp", "check_attr", "BASE_ATTRS", "PlacementService", "NameKind", "Candidate",
    "CandidateRequest", "ConsumerAllocations", "ProviderAllocations",
    "STANDARD_RESOURCE_CLASSES", "ServerService", "HostDeviceService", "ServerBuilder",
    "HypervisorService",
    "DesiredStateService", "HostRevisions", "HostReports", "HostChangeNotifier", "DEFAULT_FLAVORS",
    "CIRROS", "SRIOV_NET_VF", "Flavor", "HostDevice", "HostRegistry", "Hypervisor", "Image",
    "Inventory", "NetworkRequest", "ResourceProvider", "Scheduler", "Server", "ServerCreate",
    "ServerFilter", "ServerUpdate", "ServerAction", "LockAction", "UnlockAction",
    "MigrateAction", "LiveMigrateAction", "Operation", "PowerAction", "RebuildAction",
    "InstanceAction", "InstanceActionEvent", "SriovHost", "VfRecord", "scheduler_config",
    "DrainService", "DrainPlan", "DrainStep", "CloudView", "VfView", "Audit", "AuditCheck",
    "AuditReport", "Finding", "VfObservation", "vf_state_findings",
    "InterfaceService", "InterfaceAttach", "InterfaceAttachment", "HOTPLUG_STATUSES",
    "ShelveService", "ShelveAction", "UnshelveAction", "OperationLeases", "OperationRecovery",
    "EvacuateService", "EvacuateAction", "ConsoleLog", "ConsoleOutputAction", "FlavorCreate",
    "Keypair", "KeypairCreate", "KeypairQuery", "KeypairService", "ALIAS_SPEC",
    "check_extra_spec", "parse_alias_spec", "ComputeQuotas", "QuotaDetail", "COMPUTE_DEFAULTS",
    "LEGACY_NETWORK_DEFAULTS", "VF_PREFIX", "vf_resource", "ComputeService",
    "ComputeServiceRegistry", "COMPUTE_BINARY", "ProjectUsage", "ServerUsage", "UsageService",
    "MigrationService", "MoveKind", "Migration", "ResizeAction", "ConfirmResizeAction",
    "RevertResizeAction",
]


@dataclass(frozen=True, slots=True)
class ComputeServices:
    """Everything the compute, image, placement and internal APIs call."""

    servers: ServerService
    flavors: FlavorService
    images: ImageService
    hypervisors: HypervisorService
    desired_state: DesiredStateService
    reports: HostReports
    host_devices: HostDeviceService
    drain: DrainService
    audit: Audit
    placement: PlacementService
    interfaces: InterfaceService
    recovery: OperationRecovery
    shelves: ShelveService
    console: ConsoleLog
    keypairs: KeypairService
    quotas: ComputeQuotas
    services: ComputeServiceRegistry
    usage: UsageService
    migrations: MigrationService | None = None


def build_compute(db: Database, network: "NetworkService", scheduler: "Scheduler",
                  hosts: HostRegistry, clock: Clock, *, image_store: ImageStore | None = None,
                  max_attempts: int = 3,
                  service_down_time: float = 60.0, poll_interval: float = 1.0,
                  build_start_delay: float = 0.0,
                  recorder: Recorder | None = None,
                  lease_seconds: float = DEFAULT_LEASE_SECONDS) -> ComputeServices:
    """Wire the compute services and seed the m1.* flavors and the cirros image (idempotent).

    ``build_start_delay`` is the builder's test hook (compute/build.py); 0 in service.
    Without ``image_store`` image data uploads are refused (503). ``recorder`` takes the
    audit's runs (metrics)."""
    revisions = HostRevisions(db, HostChangeNotifier())
    network.watch_hosts(revisions.bump)  # a port's admin state reaches the SR-IOV agent at once
    flavors = FlavorService(db)
    images = ImageService(db, image_store or ImageStore(None, 0), clock)
    for seed in (flavors.seed, images.seed):
        try:
            seed()
        except WriteConflict:  # another API worker seeded at the same moment
            seed()
    builder = ServerBuilder(db, network, scheduler, revisions, max_attempts=max_attempts,
                            clock=clock, start_delay=build_start_delay,
                            lease_seconds=lease_seconds)
    keypairs = KeypairService(db, clock)
    settings = network.settings
    quotas = ComputeQuotas(db, (*settings.vlan_physnets,
                                *(p for p in settings.flat_networks if p != "*")))
    leases = OperationLeases(db, builder.leases, clock)
    shelves = ShelveService(db, network, scheduler, builder, leases)
    console = ConsoleLog(db, clock)
    migrations = MigrationService(db, network, scheduler, builder, clock, lease_seconds)
    servers = ServerService(db, network, flavors, images, builder, shelves,
                            EvacuateService(db, hosts, scheduler, builder), console,
                            keypairs=keypairs, quotas=quotas, migrations=migrations)
    interfaces = InterfaceService(db, network, servers, builder, leases)
    desired_state = DesiredStateService(db, revisions, poll_interval)
    hypervisors = HypervisorService(db, clock, service_down_time)
    return ComputeServices(
        servers=servers, flavors=flavors, images=images, hypervisors=hypervisors,
        desired_state=desired_state,
        reports=HostReports(db, network, hosts, servers),
        host_devices=HostDeviceService(db, hosts, desired_state),
        drain=DrainService(db, hosts, builder, scheduler, servers, migrations),
        audit=Audit(db, network, scheduler, revisions, clock, recorder,
                    worker=builder.leases.worker),
        placement=PlacementService(db, hypervisors),
        interfaces=interfaces,
        recovery=OperationRecovery(db, leases, {None: interfaces.roll_back,
                                                SHELVING: shelves.abandon,
                                                OFFLOADING: shelves.finish_offload}),
        shelves=shelves, console=console, keypairs=keypairs, quotas=quotas,
        services=ComputeServiceRegistry(db, clock, service_down_time),
        usage=UsageService(db, clock), migrations=migrations)
