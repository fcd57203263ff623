"""Compute v2.1 server action bodies (``POST /servers/{id}/action``): one parser per action
name, each turning its arguments at the request's microversion into a typed ``ServerAction``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import RootModel

from sriovstack.api.compute import microversions as mv
from sriovstack.api.compute.microversions import ApiVersion
from sriovstack.api.compute.schemas import flag
from sriovstack.compute import (ConfirmResizeAction, ConsoleOutputAction, EvacuateAction,
                                LiveMigrateAction, LockAction, MigrateAction, Operation,
                                PowerAction, RebuildAction, ResizeAction, RevertResizeAction,
                                ServerAction, ShelveAction, UnlockAction, UnshelveAction)
from sriovstack.errors import Invalid

__all__ = ["ServerActionRequest"]


class ServerActionRequest(RootModel[dict[str, Any]]):
    """``{"<action>": <arguments>}``: exactly one action per request."""

    def to_action(self, version: ApiVersion) -> ServerAction:
        """The typed action at ``version``; Invalid for an unknown action or bad arguments."""
        if len(self.root) != 1:
            raise Invalid(f"an action body names exactly one action, not {len(self.root)} "
                          f"({', '.join(sorted(self.root)) or 'none'})", field="action")
        [(name, args)] = self.root.items()
        parse = _ACTIONS.get(name)
        if parse is None:
            raise Invalid(f"Unsupported server action {name!r}", field="action", value=name,
                          fix=f"this API implements: {', '.join(sorted(_ACTIONS))}")
        return parse(args, version)


def _arguments(name: str, args: Any, allowed: dict[str, type | tuple[type, ...]],
               version: ApiVersion) -> dict[str, Any]:
    """The action's arguments object: null or a dict of only ``allowed`` keys and types."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise Invalid(f"Invalid input for field/attribute {name}: expected null or an object "
                      f"at microversion {version}", field=name, value=args)
    for key, value in args.items():
        if key not in allowed:
            raise Invalid(f"Invalid input for field/attribute {name}. Additional properties "
                          f"are not allowed ('{key}' was unexpected) at microversion {version}",
                          field=f"{name}.{key}")
        if not isinstance(value, allowed[key]):
            raise Invalid(f"Invalid input for field/attribute {key}. Value: {value!r}",
                          field=f"{name}.{key}", value=value)
    return args


def _lock(args: Any, version: ApiVersion) -> ServerAction:
    allowed: dict[str, Any] = {"locked_reason": str} if version >= mv.LOCKED_REASON else {}
    reason = _arguments("lock", args, allowed, version).get("locked_reason")
    if reason is not None and len(reason) > 255:
        raise Invalid("locked_reason is longer than 255 characters", field="locked_reason")
    return LockAction(reason=reason)


def _unlock(args: Any, version: ApiVersion) -> ServerAction:
    _arguments("unlock", args, {}, version)
    return UnlockAction()


def _migrate(args: Any, version: ApiVersion) -> ServerAction:
    allowed: dict[str, Any] = {"host": (str, type(None))} if version >= mv.MIGRATE_HOST else {}
    return MigrateAction(host=_arguments("migrate", args, allowed, version).get("host"))


def _live_migrate(args: Any, version: ApiVersion) -> ServerAction:
    # 2.25 dropped disk_over_commit and allowed block_migration "auto"; 2.30..2.67 had force.
    allowed: dict[str, Any] = {"host": (str, type(None)), "block_migration": (bool, str)}
    if version < mv.NO_DISK_OVER_COMMIT:
        allowed["disk_over_commit"] = (bool, str)
    if mv.LIVE_MIGRATE_FORCE <= version < mv.NO_FORCE:
        allowed["force"] = bool
    if args is None:
        raise Invalid("Invalid input for field/attribute os-migrateLive: an object is "
                      "required", field="os-migrateLive")
    given = _arguments("os-migrateLive", args, allowed, version)
    block = given.get("block_migration")
    if block == "auto" and version < mv.NO_DISK_OVER_COMMIT:
        raise Invalid("block_migration 'auto' needs microversion 2.25", field="block_migration")
    if isinstance(block, str) and block != "auto":
        block = flag("block_migration", block, default=False, bare=False)
    return LiveMigrateAction(host=given.get("host"),
                             block_migration=None if block == "auto" else block,
                             async_checks=version >= mv.LIVE_MIGRATE_ASYNC)


def _resize(args: Any, version: ApiVersion) -> ServerAction:
    if not isinstance(args, dict) or "flavorRef" not in args:
        raise Invalid("Invalid input for field/attribute resize: 'flavorRef' is a required "
                      "property", field="resize.flavorRef")
    given = _arguments("resize", args, {"flavorRef": (str, int),
                                        "OS-DCF:diskConfig": str}, version)
    flavor = str(given["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]  # an id or its link
    if not flavor:
        raise Invalid("Invalid input for field/attribute flavorRef: must not be empty",
                      field="resize.flavorRef", value=given["flavorRef"])
    return ResizeAction(flavor_ref=flavor)


def _confirm(args: Any, version: ApiVersion) -> ServerAction:
    _arguments("confirmResize", args, {}, version)
    return ConfirmResizeAction()


def _revert(args: Any, version: ApiVersion) -> ServerAction:
    _arguments("revertResize", args, {}, version)
    return RevertResizeAction()


def _power(op: Operation) -> Callable[[Any, ApiVersion], ServerAction]:
    def parse(args: Any, version: ApiVersion) -> ServerAction:
        _arguments(op.value, args, {}, version)
        return PowerAction(op)
    return parse


def _reboot(args: Any, version: ApiVersion) -> ServerAction:
    if not isinstance(args, dict) or "type" not in args:
        raise Invalid("Invalid input for field/attribute reboot: 'type' is a required "
                      "property (SOFT or HARD)", field="reboot.type")
    kind = _arguments("reboot", args, {"type": str}, version)["type"]
    if kind.upper() not in ("SOFT", "HARD"):
        raise Invalid(f"Invalid input for field/attribute type. Value: {kind}. "
                      f"'{kind}' is not one of ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', "
                      "'soft']", field="reboot.type", value=kind)
    return PowerAction(Operation.REBOOT_HARD if kind.upper() == "HARD"
                       else Operation.REBOOT_SOFT)


def _rebuild(args: Any, version: ApiVersion) -> ServerAction:
    allowed: dict[str, Any] = {"imageRef": str, "name": str, "metadata": dict,
                               "adminPass": str, "accessIPv4": str, "accessIPv6": str,
                               "OS-DCF:diskConfig": str, "preserve_ephemeral": bool}
    if version >= mv.DESCRIPTION:
        allowed["description"] = (str, type(None))
    given = _arguments("rebuild", args, allowed, version)
    if not given.get("imageRef"):
        raise Invalid("Invalid input for field/attribute rebuild: 'imageRef' is a required "
                      "property", field="rebuild.imageRef")
    name = given.get("name")
    if name is not None and not name.strip():
        raise Invalid("Invalid input for field/attribute name: must not be blank",
                      field="rebuild.name", value=name)
    meta = given.get("metadata")
    return RebuildAction(image_ref=given["imageRef"], name=name,
                         metadata=None if meta is None else tuple(
                             sorted((str(k), str(v)) for k, v in meta.items())),
                         set_description="description" in given,
                         description=given.get("description"))


def _shelve(args: Any, version: ApiVersion) -> ServerAction:
    _arguments("shelve", args, {}, version)
    return ShelveAction()


def _unshelve(args: Any, version: ApiVersion) -> ServerAction:
    # 2.77: an availability zone (a string); 2.91's null (unpin) and host are beyond 2.79.
    allowed: dict[str, Any] = {"availability_zone": str} if version >= mv.UNSHELVE_AZ else {}
    zone = _arguments("unshelve", args, allowed, version).get("availability_zone")
    if zone is not None and not 1 <= len(zone) <= 255:
        raise Invalid("availability_zone must be 1-255 characters",
                      field="unshelve.availability_zone", value=zone)
    return UnshelveAction(availability_zone=zone)


def _evacuate(args: Any, version: ApiVersion) -> ServerAction:
    # 2.14 dropped onSharedStorage (required before); 2.29..2.67 had force.
    allowed: dict[str, Any] = {"host": (str, type(None)), "adminPass": str}
    if version < mv.EVACUATE_NO_SHARED_STORAGE:
        allowed["onSharedStorage"] = (bool, str)
    if mv.EVACUATE_FORCE <= version < mv.NO_FORCE:
        allowed["force"] = bool
    given = _arguments("evacuate", args, allowed, version)
    if version < mv.EVACUATE_NO_SHARED_STORAGE and "onSharedStorage" not in given:
        raise Invalid("Invalid input for field/attribute evacuate. 'onSharedStorage' is a "
                      f"required property at microversion {version}",
                      field="evacuate.onSharedStorage")
    return EvacuateAction(host=given.get("host"))


def _console_output(args: Any, version: ApiVersion) -> ServerAction:
    # nova: length an integer (or its digits as a string) of -1 or more, or null; -1: all.
    given = _arguments("os-getConsoleOutput", args, {"length": (int, str, type(None))},
                       version)
    length = given.get("length")
    if isinstance(length, str):
        try:
            length = int(length)
        except ValueError:
            length = None if length == "" else length
    if length is not None and (isinstance(length, (str, bool)) or length < -1):
        raise Invalid(f"Invalid input for field/attribute length. Value: {given['length']!r}",
                      field="os-getConsoleOutput.length", value=str(given["length"]),
                      fix="a whole number of lines, -1 or null for all")
    return ConsoleOutputAction(length=None if length in (None, -1) else length)


_ACTIONS: dict[str, Callable[[Any, ApiVersion], ServerAction]] = {
    "lock": _lock, "unlock": _unlock, "migrate": _migrate, "os-migrateLive": _live_migrate,
    "os-stop": _power(Operation.STOP), "os-start": _power(Operation.START),
    "pause": _power(Operation.PAUSE), "unpause": _power(Operation.UNPAUSE),
    "suspend": _power(Operation.SUSPEND), "resume": _power(Operation.RESUME),
    "reboot": _reboot, "rebuild": _rebuild, "shelve": _shelve, "unshelve": _unshelve,
    "evacuate": _evacuate, "os-getConsoleOutput": _console_output, "resize": _resize,
    "confirmResize": _confirm, "revertResize": _revert}
