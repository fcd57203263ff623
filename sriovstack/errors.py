"""The one error tree of sriovstack.

    SriovstackError                 every error we raise on purpose
    ├── NotFound                    a named thing does not exist
    ├── Conflict                    the request clashes with current state (in use, busy)
    ├── Invalid                     a request value is wrong (API field, CLI argument)
    ├── NotSupported                the chapter (or the driver) says this cannot be done
    ├── Forbidden                   the caller may not do this
    ├── Unauthorized                no valid credentials or token
    ├── Unavailable                 a pool ran dry (no free VLAN, no free IP): try later
    ├── ConfigError (ValueError)    a config file, option or spec is wrong
    └── HostError                   the Linux host refused or lacks something
        ├── VfCountInvalid          sriov_numvfs text is not a number      (EINVAL)
        ├── VfCountRange            more VFs than sriov_totalvfs           (ERANGE)
        ├── VfCountBusy             nonzero -> nonzero sriov_numvfs        (EBUSY)
        ├── NoSriovDriver           no bound driver that can enable VFs    (ENOENT)
        ├── DriverNotSupported      the driver lacks this VF setting       (EOPNOTSUPP)
        └── VirtError               the hypervisor (libvirt) refused an operation on a guest

Each error has a stable ``code`` (never reused or renamed), an optional ``kind`` field naming
the OpenStack error type the API reports (``PortNotFound``, ``PortInUse``, ``NetworkInUse``...)
and keyword fields that say where the problem is (file, section, option, field, value, path)
and what would be right (``fix``).  ``str(err)`` is the whole human message.
"""

from __future__ import annotations

import errno as _errno
from typing import Any

__all__ = [
    "SriovstackError",
    "NotFound",
    "Conflict",
    "Invalid",
    "NotSupported",
    "Forbidden",
    "Unauthorized",
    "Unavailable",
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


class SriovstackError(Exception):
    """Base of every error sriovstack raises on purpose."""

    code = "sriovstack.error"

    def __init__(self, message: str, *, fix: str | None = None, **fields: Any) -> None:
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


class Invalid(SriovstackError):
    code = "sriovstack.invalid"


class NotSupported(SriovstackError):
    code = "sriovstack.not_supported"


class Forbidden(SriovstackError):
    code = "sriovstack.forbidden"


class Unauthorized(SriovstackError):
    code = "sriovstack.unauthorized"


class Unavailable(SriovstackError):
    code = "sriovstack.unavailable"


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
    400: Invalid, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict,
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
