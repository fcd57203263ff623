"""The compute API's microversions: one table of 2.1..2.79 saying, for each, what nova changed
and what this API does about it; the named versions the views and schemas branch on; and the
negotiation of a request's version from its headers.

Every entry up to the maximum is a contract (openstack_api_compat.md §4.1): a response shape
that changed on an API we serve is honoured; a feature we do not have answers as nova does
when it is absent (``tags`` empty, ``server_groups`` empty, no trusted certificates). Nova
accepts both headers at every version (``OpenStack-API-Version: compute X.Y`` from 2.27 is
its preferred form); "latest" is the maximum; above it, or below 2.1, is nova's 406.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import Request, Response

from sriovstack.errors import Invalid, NotAcceptable

__all__ = ["ApiVersion", "Microversion", "VERSIONS", "MIN_VERSION", "MAX_VERSION", "negotiate",
           "negotiated", "empty_answer", "EXTENDED_ATTRIBUTES", "KEYPAIR_TYPE", "KEYPAIR_USER",
           "KEYPAIR_PAGING",
           "LOCKED", "HOST_STATUS", "DESCRIPTION", "NO_DISK_OVER_COMMIT", "TAGS",
           "CPU_INFO_OBJECT", "LIVE_MIGRATE_FORCE", "LIVE_MIGRATE_ASYNC", "SERVER_MIGRATIONS",
           "MIGRATION_PAGING", "NO_FORCE", "NETWORK_TAG", "HYPERVISOR_PAGING", "NETWORKS_REQUIRED",
           "STATUS_FILTER_STRICT", "NETWORK_TAG_RESTORED", "INTERFACE_TAG", "INTERFACE_TAG_SHOWN",
           "UNSHELVE_AZ", "EVACUATE_NO_SHARED_STORAGE", "EVACUATE_FORCE", "EMBEDDED_FLAVOR",
           "ACTION_EVENTS_FOR_ALL", "TAGS_AT_CREATE", "HYPERVISOR_UUIDS", "FLAVOR_DESCRIPTION",
           "MIGRATE_HOST", "ACTIONS_PAGING", "FLAVOR_EXTRA_SPECS", "CHANGES_BEFORE",
           "ACTION_EVENT_HOST", "TRUSTED_CERTS", "SERVER_GROUPS", "LOCKED_REASON",
           "CREATE_ON_HOST", "API_CLEANUP", "NETWORK_TAG_DROPPED", "FORCED_DOWN",
           "PROXY_APIS_REMOVED", "IMAGE_META_PROXY_REMOVED", "USAGE_PAGING", "QUOTA_CLASS_GROUPS",
           "PERSONALITY_REMOVED"]

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True, slots=True)
class ApiVersion:
    """A compute microversion ``major.minor``, ordered as numbers (2.9 < 2.10)."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> "ApiVersion":
        """``"2.47"`` → ApiVersion(2, 47); Invalid (nova's 400) for anything else."""
        m = _VERSION_RE.match(text.strip())
        if m is None:
            raise Invalid(f"Invalid API version request string {text!r}: expected X.Y "
                          f"(this API serves {MIN_VERSION} to {MAX_VERSION}) or 'latest'",
                          field="OpenStack-API-Version", value=text)
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True, slots=True)
class Microversion:
    """One step of the API: what nova changed, and what this API does about it."""

    version: ApiVersion
    change: str
    here: str


def _v(version: str, change: str, here: str) -> Microversion:
    return Microversion(ApiVersion.parse(version), change, here)


_NONE = "no API we serve changes"
# One entry per microversion we serve, oldest first (nova's rest_api_version_history).
VERSIONS: tuple[Microversion, ...] = (
    _v("2.1", "the v2.1 base API", "flavors, servers and their power actions, "
       "os-instance-actions, os-hypervisors, os-aggregates, AZs"),
    _v("2.2", "keypair type", "'type' (ssh, x509) at create and in views; create 201, "
       "delete 204"),
    _v("2.3", "more OS-EXT-SRV-ATTR server attributes", "shown to admins"),
    _v("2.4", "os-fixed-ips reserved", _NONE),
    _v("2.5", "ip6 server list filter", "refused with a reason (no address filters)"),
    _v("2.6", "remote consoles", _NONE),
    _v("2.7", "flavor access check", _NONE),
    _v("2.8", "mks console", _NONE),
    _v("2.9", "server 'locked'", "shown; lock/unlock actions"),
    _v("2.10", "keypairs per user", "?user_id= and 'user_id' at create (admin)"),
    _v("2.11", "services force-down", "PUT /os-services/force-down (ComputeFilter skips the host)"),
    _v("2.12", "os-virtual-interfaces net_id", _NONE),
    _v("2.13", "server group project/user", _NONE),
    _v("2.14", "evacuate without onSharedStorage", "evacuate answers 200 without adminPass"),
    _v("2.15", "soft (anti-)affinity", _NONE),
    _v("2.16", "server 'host_status'", "shown to admins (UP/DOWN/MAINTENANCE/UNKNOWN)"),
    _v("2.17", "trigger_crash_dump action", _NONE),
    _v("2.18", "project id optional in URLs", "we never had one"),
    _v("2.19", "server 'description'", "create, update, show"),
    _v("2.20", "volumes on shelved servers", _NONE),
    _v("2.21", "instance actions of deleted servers", "none: a deleted server's actions go "
       "with it"),
    _v("2.22", "force-complete live migration", _NONE),
    _v("2.23", "server migrations resource", "GET /servers/{id}/migrations[/{id}]; "
       "os-migrations shows migration_type"),
    _v("2.24", "abort live migration", _NONE),
    _v("2.25", "os-migrateLive: block_migration 'auto', no disk_over_commit",
       "either body reaches the action"),
    _v("2.26", "server tags", "'tags' shown, always empty (no tag store)"),
    _v("2.27", "OpenStack-API-Version header", "both headers at every version"),
    _v("2.28", "hypervisor cpu_info an object", "an object"),
    _v("2.29", "evacuate force", "evacuate takes 'force' (2.29-2.67); a target host is refused"),
    _v("2.30", "live-migrate force", "either body reaches the action"),
    _v("2.31", "console auth tokens", _NONE),
    _v("2.32", "device tag on networks", "accepted (no metadata service shows it)"),
    _v("2.33", "hypervisor paging", "limit and marker"),
    _v("2.34", "async live-migration checks", "no valid host: 202, the migration and the "
       "instance action record the error (400 below)"),
    _v("2.35", "keypair paging", "limit and marker; keypairs_links"),
    _v("2.36", "proxy APIs removed", "we never had them; quota sets and limits drop the "
       "nova-network resources"),
    _v("2.37", "networks required: list, 'auto' or 'none'", "enforced"),
    _v("2.38", "invalid status filter is 400", "400 from here, empty list below"),
    _v("2.39", "image-metadata proxy removed", "limits drop maxImageMeta"),
    _v("2.40", "usage paging", "os-simple-tenant-usage limit and marker"),
    _v("2.41", "aggregate uuid", "no aggregates"),
    _v("2.42", "device tags restored", "accepted"),
    _v("2.43", "os-hosts removed", _NONE),
    _v("2.44", "fixed/floating IP actions removed", _NONE),
    _v("2.45", "createImage returns image_id", _NONE),
    _v("2.46", "X-OpenStack-Request-ID", "sent at every version"),
    _v("2.47", "server embeds its flavor", "vcpus, ram, disk, ephemeral, swap, original_name, "
       "extra_specs"),
    _v("2.48", "standard diagnostics", _NONE),
    _v("2.49", "tagged interface attach", "os-interface POST takes 'tag'"),
    _v("2.50", "quota class server groups", "server_groups, server_group_members in "
       "os-quota-class-sets; nova-network resources dropped there"),
    _v("2.51", "instance action events for non-admins", "shown to members from here"),
    _v("2.52", "tags at create", "refused with a reason (no tag store)"),
    _v("2.53", "hypervisor and service uuids; hostname pattern query", "ids are uuids; "
       "?hypervisor_hostname_pattern=, ?with_servers=; /search and /servers are 404; "
       "PUT /os-services/{id} (status, disabled_reason, forced_down)"),
    _v("2.54", "keypair on rebuild", _NONE),
    _v("2.55", "flavor 'description'", "shown"),
    _v("2.56", "migrate to a host", "the host is checked, then the scheduler's filters run"),
    _v("2.57", "personality removed; rebuild user_data", "personality refused at every version "
       "(no file injection); injected_file* quotas dropped"),
    _v("2.58", "instance action paging, updated_at", "updated_at shown; limit, marker, "
       "changes-since refused with a reason"),
    _v("2.59", "migration paging", "uuid shown; limit, marker (a migration uuid), "
       "changes-since"),
    _v("2.60", "multiattach volumes", _NONE),
    _v("2.61", "flavor 'extra_specs'", "shown"),
    _v("2.62", "instance action event host", "hostId shown, host to admins"),
    _v("2.63", "trusted image certificates", "'trusted_image_certificates' null"),
    _v("2.64", "server group policy", _NONE),
    _v("2.65", "abort queued live migration", _NONE),
    _v("2.66", "changes-before filter", "applied (updated time)"),
    _v("2.67", "volume_type in block device mapping", _NONE),
    _v("2.68", "force removed from evacuate/live-migrate", "either body reaches the action"),
    _v("2.69", "down-cell partial answers", "one cell, never down"),
    _v("2.70", "device tags in os-interface", "os-interface shows each port's 'tag'"),
    _v("2.71", "server 'server_groups'", "shown on show/update, always empty"),
    _v("2.72", "ports with resource requests", _NONE),
    _v("2.73", "lock reason", "lock takes locked_reason; 'locked_reason' shown"),
    _v("2.74", "host/hypervisor_hostname at create", "refused with a reason for now"),
    _v("2.75", "API cleanup", "PUT returns the full server; flavor swap 0; unknown server "
       "list parameters 400"),
    _v("2.76", "power-update external event", _NONE),
    _v("2.77", "unshelve to an AZ", "unshelve takes 'availability_zone'"),
    _v("2.78", "server topology", _NONE),
    _v("2.79", "delete_on_termination of volume attachments", _NONE),
)
MIN_VERSION = VERSIONS[0].version
MAX_VERSION = VERSIONS[-1].version


def _since(text: str) -> ApiVersion:
    version = ApiVersion.parse(text)
    assert any(v.version == version for v in VERSIONS), f"{text} is not in VERSIONS"
    return version


# The versions the views and schemas branch on (each in VERSIONS above).
KEYPAIR_TYPE = _since("2.2")
EXTENDED_ATTRIBUTES = _since("2.3")
KEYPAIR_USER = _since("2.10")
KEYPAIR_PAGING = _since("2.35")
LOCKED = _since("2.9")
HOST_STATUS = _since("2.16")
DESCRIPTION = _since("2.19")
NO_DISK_OVER_COMMIT = _since("2.25")
TAGS = _since("2.26")
CPU_INFO_OBJECT = _since("2.28")
LIVE_MIGRATE_FORCE = _since("2.30")
FORCED_DOWN = _since("2.11")
PROXY_APIS_REMOVED = _since("2.36")
IMAGE_META_PROXY_REMOVED = _since("2.39")
USAGE_PAGING = _since("2.40")
QUOTA_CLASS_GROUPS = _since("2.50")
PERSONALITY_REMOVED = _since("2.57")
LIVE_MIGRATE_ASYNC = _since("2.34")
SERVER_MIGRATIONS = _since("2.23")
MIGRATION_PAGING = _since("2.59")
NETWORK_TAG = _since("2.32")
HYPERVISOR_PAGING = _since("2.33")
NETWORKS_REQUIRED = NETWORK_TAG_DROPPED = _since("2.37")
STATUS_FILTER_STRICT = _since("2.38")
NETWORK_TAG_RESTORED = _since("2.42")
INTERFACE_TAG = _since("2.49")
INTERFACE_TAG_SHOWN = _since("2.70")
UNSHELVE_AZ = _since("2.77")
EVACUATE_NO_SHARED_STORAGE = _since("2.14")
EVACUATE_FORCE = _since("2.29")
EMBEDDED_FLAVOR = _since("2.47")
ACTION_EVENTS_FOR_ALL = _since("2.51")
TAGS_AT_CREATE = _since("2.52")
HYPERVISOR_UUIDS = _since("2.53")
FLAVOR_DESCRIPTION = _since("2.55")
MIGRATE_HOST = _since("2.56")
ACTIONS_PAGING = _since("2.58")
FLAVOR_EXTRA_SPECS = _since("2.61")
CHANGES_BEFORE = _since("2.66")
ACTION_EVENT_HOST = _since("2.62")
TRUSTED_CERTS = _since("2.63")
SERVER_GROUPS = _since("2.71")
NO_FORCE = _since("2.68")
LOCKED_REASON = _since("2.73")
CREATE_ON_HOST = _since("2.74")
API_CLEANUP = _since("2.75")


def _requested(request: Request) -> str | None:
    header = request.headers.get("openstack-api-version")
    if header:
        for item in header.split(","):
            service, _, version = item.strip().partition(" ")
            if service.lower() == "compute":
                return version.strip()
    return request.headers.get("x-openstack-nova-api-version")


async def negotiate(request: Request, response: Response) -> ApiVersion:
    """Router dependency: ``negotiated`` on the event loop (it is pure CPU: a sync
    dependency would cost every compute request a hop to the threadpool and back)."""
    return negotiated(request, response)


def negotiated(request: Request, response: Response) -> ApiVersion:
    """This request's microversion, echoed in both headers and ``Vary``.

    No header: 2.1; "latest": the maximum. Raises NotAcceptable (406) outside 2.1..maximum,
    Invalid (400) for a malformed version.
    """
    asked = _requested(request)
    version = MIN_VERSION
    if asked and asked.strip().lower() == "latest":
        version = MAX_VERSION
    elif asked:
        version = ApiVersion.parse(asked)
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise NotAcceptable(f"Version {asked.strip()} is not supported by the API. "
                                f"Minimum is {MIN_VERSION} and maximum is {MAX_VERSION}.",
                                field="OpenStack-API-Version", value=asked.strip())
    response.headers["OpenStack-API-Version"] = f"compute {version}"
    response.headers["X-OpenStack-Nova-API-Version"] = str(version)
    response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    return version


def empty_answer(status: int, negotiated: Response) -> Response:
    """A bodiless answer that keeps the microversion headers ``negotiate`` set on the
    request's response (a Response returned by a handler replaces that one)."""
    out = Response(status_code=status)
    for name in ("OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"):
        if name in negotiated.headers:
            out.headers[name] = negotiated.headers[name]
    return out
