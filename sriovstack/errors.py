"""The one error tree of sriovstack, and the OpenStack error types the APIs report.

    SriovstackError                 every error we raise on purpose
    ├── NotFound                    a named thing does not exist
    ├── Conflict                    the request clashes with current state (in use, busy)
    │   ├── WriteConflict           the database refused a write: a unique key or reference
    │   │                           clashed, usually with a concurrent transaction (run again)
    │   ├── ClaimLost               another build took the RAM, vCPUs or device first
    │   └── NoValidHost             no host passed the filters, or every claim was lost
    ├── Invalid                     a request value is wrong (API field, CLI argument)
    ├── NotAcceptable               the API cannot answer in the form asked (a microversion)
    ├── NotSupported                the chapter (or the driver) says this cannot be done
    ├── Forbidden                   the caller may not do this
    ├── Unauthorized                no valid credentials or token
    ├── Unavailable                 the service cannot serve now: a pool ran dry (no free
    │                               VLAN, no free IP) or the database is down; try later
    ├── Unreachable                 the control plane did not answer usefully: the API cannot
    │                               be reached, timed out, failed (5xx) or sent a body we
    │                               cannot read, or what we waited for did not happen in time
    ├── ConfigError (ValueError)    a config file, option or spec is wrong
    └── HostError                   the Linux host refused or lacks something
        ├── VfCountInvalid          sriov_numvfs text is not a number      (EINVAL)
        ├── VfCountRange            more VFs than sriov_totalvfs           (ERANGE)
        ├── VfCountBusy             nonzero -> nonzero sriov_numvfs        (EBUSY)
        ├── NoSriovDriver           no bound driver that can enable VFs    (ENOENT)
        ├── DriverNotSupported      the driver lacks this VF setting       (EOPNOTSUPP)
        └── VirtError               the hypervisor (libvirt) refused an operation on a guest

    ErrorKind (StrEnum)             the OpenStack error types an error may name

``Unavailable`` and ``Unreachable`` are both "try later", seen from two sides: a service
behind the API raises ``Unavailable`` (the API answers 503); a client of the API (an agent,
the CLI, the all-in-one) raises ``Unreachable`` when the API does not serve it, so an agent
can abort a pass on ``Unreachable`` without mistaking a host's refusal for it.

Each error has a stable ``code`` (never reused or renamed), an optional ``kind`` naming the
OpenStack error type the API reports (an ``ErrorKind`` member only: ``PortNotFound``,
``PortInUse``, ``NetworkInUse``...) and keyword fields that say where the problem is (file,
section, option, field, value, path) and what would be right (``fix``).  ``str(err)`` is the
whole human message.
"""

from __future__ import annotations

import enum
import errno as _errno
from typing import Any

__all__ = [
    "ErrorKind",
    "SriovstackError",
    "NotFound",
    "Conflict",
    "WriteConflict",
    "ClaimLost",
    "NoValidHost",
    "Invalid",
    "NotAcceptable",
    "NotSupported",
    "Forbidden",
    "Unauthorized",
    "Unavailable",
    "Unreachable",
    "ConfigError",
    "HostError",
    "VfCountInvalid",
    "VfCountRange",
    "VfCountBusy",
    "NoSriovDriver",
    "DriverNotSupported",
    "VirtError",
    "host_error_from_errno",
    "error_for_status",
    "envelope_message",
]


class ErrorKind(enum.StrEnum):
    """The OpenStack error types we report, spelled as the services spell them: neutron's
    ``NeutronError.type``, keystone's and nova's exception names, placement's error codes.
    Append only; a value never changes (clients match on them)."""

    # keystone
    CONFLICT = "Conflict"
    DOMAIN_NOT_FOUND = "DomainNotFound"
    PROJECT_NOT_FOUND = "ProjectNotFound"
    ROLE_ASSIGNMENT_NOT_FOUND = "RoleAssignmentNotFound"
    ROLE_NOT_FOUND = "RoleNotFound"
    TOKEN_NOT_FOUND = "TokenNotFound"
    USER_NOT_FOUND = "UserNotFound"
    VALIDATION_ERROR = "ValidationError"
    SERVICE_NOT_FOUND = "ServiceNotFound"
    ENDPOINT_NOT_FOUND = "EndpointNotFound"
    REGION_NOT_FOUND = "RegionNotFound"
    # policy (neutron's and nova's name for a refused rule)
    POLICY_NOT_AUTHORIZED = "PolicyNotAuthorized"
    # neutron
    AGENT_NOT_FOUND = "AgentNotFound"
    DUPLICATE_SECURITY_GROUP_NAME = "DuplicateSecurityGroupName"
    EXTENSION_NOT_FOUND = "ExtensionNotFound"
    FLAT_NETWORK_IN_USE = "FlatNetworkInUse"
    GATEWAY_CONFLICT_WITH_ALLOCATION_POOLS = "GatewayConflictWithAllocationPools"
    OUT_OF_BOUNDS_ALLOCATION_POOL = "OutOfBoundsAllocationPool"
    DNS_NAMESERVERS_EXHAUSTED = "DNSNameServersExhausted"
    HOST_ROUTES_EXHAUSTED = "HostRoutesExhausted"
    INVALID_INPUT = "InvalidInput"
    INVALID_IP_FOR_NETWORK = "InvalidIpForNetwork"
    INVALID_IP_FOR_SUBNET = "InvalidIpForSubnet"
    IP_ADDRESS_ALREADY_ALLOCATED = "IpAddressAlreadyAllocated"
    IP_ADDRESS_GENERATION_FAILURE = "IpAddressGenerationFailure"
    MAC_ADDRESS_GENERATION_FAILURE = "MacAddressGenerationFailure"
    MAC_ADDRESS_IN_USE = "MacAddressInUse"
    NETWORK_IN_USE = "NetworkInUse"
    NETWORK_NOT_FOUND = "NetworkNotFound"
    OVER_QUOTA = "OverQuota"  # neutron's 409; nova answers its quota errors with 403
    NO_NETWORK_AVAILABLE = "NoNetworkAvailable"
    PORT_BINDING_ALREADY_ACTIVE = "PortBindingAlreadyActive"
    PORT_BINDING_ALREADY_EXISTS = "PortBindingAlreadyExists"
    PORT_BINDING_ERROR = "PortBindingError"
    PORT_BINDING_FAILED = "PortBindingFailed"
    PORT_BINDING_NOT_FOUND = "PortBindingNotFound"
    PORT_IN_USE = "PortInUse"
    PORT_NOT_FOUND = "PortNotFound"
    PORT_SECURITY_AND_IP_REQUIRED = "PortSecurityAndIPRequiredForSecurityGroups"
    PORT_SECURITY_PORT_HAS_SECURITY_GROUP = "PortSecurityPortHasSecurityGroup"
    SECURITY_GROUP_CANNOT_REMOVE_DEFAULT = "SecurityGroupCannotRemoveDefault"
    SECURITY_GROUP_CANNOT_UPDATE_DEFAULT = "SecurityGroupCannotUpdateDefault"
    SECURITY_GROUP_DEFAULT_ALREADY_EXISTS = "SecurityGroupDefaultAlreadyExists"
    SECURITY_GROUP_IN_USE = "SecurityGroupInUse"
    SECURITY_GROUP_NOT_FOUND = "SecurityGroupNotFound"
    SECURITY_GROUP_RULE_NOT_FOUND = "SecurityGroupRuleNotFound"
    SUBNET_IN_USE = "SubnetInUse"
    SUBNET_NOT_FOUND = "SubnetNotFound"
    VLAN_ID_IN_USE = "VlanIdInUse"
    # nova
    CLAIM_EXISTS = "ClaimExists"
    CLAIM_LOST = "ClaimLost"
    COMPUTE_HOST_NOT_FOUND = "ComputeHostNotFound"
    FLAVOR_NOT_FOUND = "FlavorNotFound"
    IMAGE_NOT_FOUND = "ImageNotFound"
    INSTANCE_ACTION_NOT_FOUND = "InstanceActionNotFound"
    INSTANCE_INVALID_STATE = "InstanceInvalidState"
    INSTANCE_IS_LOCKED = "InstanceIsLocked"
    INSTANCE_NOT_FOUND = "InstanceNotFound"
    NO_VALID_HOST = "NoValidHost"
    KEYPAIR_NOT_FOUND = "KeypairNotFound"
    KEY_PAIR_EXISTS = "KeyPairExists"
    INVALID_KEYPAIR = "InvalidKeypair"
    FLAVOR_EXISTS = "FlavorExists"
    FLAVOR_ID_EXISTS = "FlavorIdExists"
    FLAVOR_ACCESS_EXISTS = "FlavorAccessExists"
    FLAVOR_ACCESS_NOT_FOUND = "FlavorAccessNotFound"
    FLAVOR_EXTRA_SPECS_NOT_FOUND = "FlavorExtraSpecsNotFound"
    # placement (error codes, placement/errors.py)
    PLACEMENT_UNDEFINED_CODE = "placement.undefined_code"

    @property
    def is_placement_code(self) -> bool:
        """True for placement's ``errors[].code`` values (the rest are exception names)."""
        return self.value.startswith("placement.")


class SriovstackError(Exception):
    """Base of every error sriovstack raises on purpose.

    ``kind`` names the OpenStack error type (an ``ErrorKind``; a class may set its own);
    anything else raises TypeError at the raise site, so no free string gets through.
    """

    code = "sriovstack.error"
    kind: ErrorKind | None = None

    def __init__(self, message: str, *, kind: ErrorKind | None = None, fix: str | None = None,
                 **fields: Any) -> None:
        if kind is not None and not isinstance(kind, ErrorKind):
            raise TypeError(f"error kind {kind!r} is not an ErrorKind member")
        if kind is not None:
            self.kind = kind
        self.message = message
        self.fix = fix
        self.fields = fields
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.fix:
            text = f"{text} (fix: {self.fix})"
        return text

    def __getattr__(self, name: str) -> Any:
        # Fields such as ``err.option`` read like attributes; missing ones are None.
        if name.startswith("__"):
            raise AttributeError(name)
        return self.__dict__.get("fields", {}).get(name)


class NotFound(SriovstackError):
    code = "sriovstack.not_found"


class Conflict(SriovstackError):
    code = "sriovstack.conflict"


class WriteConflict(Conflict):
    """The database seam's IntegrityError: a unique key or a reference clashed.

    Usually another transaction got there first; run the whole transaction again
    (``sriovstack.db.retry_races``) and it sees the winner's row.  Same code and envelope as
    any Conflict."""


class ClaimLost(Conflict):
    """Another build took what this claim needed first; the scheduler tries the next host."""

    code = "sriovstack.conflict.claim_lost"
    kind = ErrorKind.CLAIM_LOST


class NoValidHost(Conflict):
    """No host passed the filters (or every passing host lost its claim to another build).

    The message names each filter that removed hosts, how many and why.
    """

    code = "sriovstack.conflict.no_valid_host"
    kind = ErrorKind.NO_VALID_HOST


class Invalid(SriovstackError):
    code = "sriovstack.invalid"


class NotAcceptable(SriovstackError):
    """The API cannot answer in the form the request asks for (nova: a microversion above
    the maximum is InvalidGlobalAPIVersion, 406)."""

    code = "sriovstack.not_acceptable"


class NotSupported(SriovstackError):
    code = "sriovstack.not_supported"


class Forbidden(SriovstackError):
    code = "sriovstack.forbidden"


class Unauthorized(SriovstackError):
    code = "sriovstack.unauthorized"


class Unavailable(SriovstackError):
    """A service cannot serve now (a pool ran dry, the database is down): the API's 503."""

    code = "sriovstack.unavailable"


class Unreachable(SriovstackError):
    """A client of the control plane got no usable answer (module docstring): try later."""

    code = "sriovstack.unreachable"


class ConfigError(SriovstackError, ValueError):
    """A config file, option or device spec is wrong.

    Fields: ``file``, ``section``, ``option``, ``value``; the message names them.
    """

    code = "sriovstack.config"

    def _render(self) -> str:
        where = []
        f = self.fields
        if f.get("file"):
            where.append(str(f["file"]))
        if f.get("section") and f.get("option"):
            where.append(f"[{f['section']}] {f['option']}")
        elif f.get("option"):
            where.append(str(f["option"]))
        prefix = ": ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.fix:
            text = f"{text} (fix: {self.fix})"
        return text


class HostError(SriovstackError):
    """The host refused an operation or lacks something. Fields: ``path``, ``errno``."""

    code = "sriovstack.host"
    default_errno: int | None = None

    @property
    def errno(self) -> int | None:
        """The errno the host gave (the ``errno`` field), else the class's usual one."""
        given = self.fields.get("errno")
        return given if given is not None else self.default_errno


class VfCountInvalid(HostError):
    code = "sriovstack.host.numvfs_invalid"
    default_errno = _errno.EINVAL


class VfCountRange(HostError):
    code = "sriovstack.host.numvfs_range"
    default_errno = _errno.ERANGE


class VfCountBusy(HostError):
    code = "sriovstack.host.numvfs_busy"
    default_errno = _errno.EBUSY


class NoSriovDriver(HostError):
    code = "sriovstack.host.no_driver"
    default_errno = _errno.ENOENT


class DriverNotSupported(HostError):
    code = "sriovstack.host.not_supported"
    default_errno = _errno.EOPNOTSUPP


class VirtError(HostError):
    """libvirt (or another virt driver) refused. Fields: ``domain``, ``operation``, ``libvirt_code``."""

    code = "sriovstack.host.virt"


_BY_ERRNO: dict[int, type[HostError]] = {
    _errno.EINVAL: VfCountInvalid,
    _errno.ERANGE: VfCountRange,
    _errno.EBUSY: VfCountBusy,
    _errno.ENOENT: NoSriovDriver,
    _errno.EOPNOTSUPP: DriverNotSupported,
}


def host_error_from_errno(err: OSError, path: str, what: str) -> HostError:
    """Translate an OSError from a sysfs write into the most specific HostError.

    ``what`` says what was being done ("write 8 to sriov_numvfs of 0000:0b:00.0").
    """
    cls = _BY_ERRNO.get(err.errno or 0, HostError)
    reason = _errno.errorcode.get(err.errno or 0, "error")
    return cls(f"{what}: {reason} ({err.strerror or err})", path=path, errno=err.errno)


_BY_STATUS: dict[int, type[SriovstackError]] = {
    400: Invalid, 401: Unauthorized, 403: Forbidden, 404: NotFound, 406: NotAcceptable,
    409: Conflict,
}


def error_for_status(status: int, default: type[SriovstackError]) -> type[SriovstackError]:
    """The error family an HTTP status of our API stands for (clients map responses back)."""
    return _BY_STATUS.get(status, default)


def envelope_message(body: object) -> str | None:
    """The message inside any OpenStack error envelope this project writes (Keystone
    ``error``, ``NeutronError``, Nova ``itemNotFound``..., Glance's flat one, Placement
    ``errors[]``), or None."""
    if not isinstance(body, dict):
        return None
    for inner in body.values():
        if isinstance(inner, dict) and isinstance(inner.get("message"), str) and inner["message"]:
            return str(inner["message"])
    if isinstance(body.get("message"), str) and body["message"]:  # Glance's flat envelope
        return str(body["message"])
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) \
            and errors[0].get("detail"):
        return str(errors[0]["detail"])
    return None
