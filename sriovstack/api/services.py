"""The Services bundle the API hands to handlers, and ``build_services`` that wires it.

Area engineers add their service as a field of Services and one constructor line in
build_services (tiny additive edits).
"""

from __future__ import annotations

from dataclasses import dataclass

from sriovstack.api.settings import ApiSettings
from sriovstack.clock import Clock, SystemClock
from sriovstack.compute import (ComputeServices, HostRegistry, ImageStore, Scheduler,
                                build_compute, scheduler_config)
from sriovstack.db import Database
from sriovstack.metrics import PrometheusRecorder
from sriovstack.identity import IdentityService
from sriovstack.network import NetworkService, ml2_settings_for

__all__ = ["Services", "build_services"]


@dataclass(frozen=True, slots=True)
class Services:
    """Every service one API process serves, built once at start."""

    settings: ApiSettings
    db: Database
    clock: Clock
    identity: IdentityService
    network: NetworkService
    hosts: HostRegistry
    scheduler: Scheduler
    compute: ComputeServices
    recorder: PrometheusRecorder


def build_services(settings: ApiSettings, db: Database, *, clock: Clock | None = None) -> Services:
    """Wire the services over one database and clock (the system clock unless given)."""
    clock = clock or SystemClock()
    identity = IdentityService(db, clock, settings.token_ttl)
    network = NetworkService(db, ml2_settings_for(settings.deployment), clock)  # syncs VLANs
    sched_config = scheduler_config(settings.deployment)  # unknown filter → ConfigError here
    hosts = HostRegistry(db, clock, sched_config.service_down_time)
    recorder = PrometheusRecorder()
    db.on_statement(recorder.statement)
    scheduler = Scheduler(db, sched_config, clock, recorder)
    compute = build_compute(db, network, scheduler, hosts, clock,
                            image_store=ImageStore(settings.image_dir, settings.max_image_bytes),
                            max_attempts=sched_config.max_attempts,
                            service_down_time=sched_config.service_down_time,
                            build_start_delay=settings.build_start_delay, recorder=recorder,
                            lease_seconds=settings.lease_seconds)
    return Services(
        settings=settings,
        db=db,
        clock=clock,
        identity=identity,
        network=network,
        hosts=hosts,
        scheduler=scheduler,
        compute=compute,
        recorder=recorder,
    )
