"""``sriovstack quota show PROJECT`` and ``quota set-vfs PROJECT --physnet P --vfs N``: the
VF quota per physnet (``sriov_vfs:<physnet>``), which `openstack quota show/set` cannot name
(their options are a fixed list, and nova's quota-set schema allows no extra key); kept in
the os-sriov-quotas compute extension."""

from __future__ import annotations

import argparse
from typing import Any

from sriovstack.cli.cloud.output import View, format_parser, print_list, print_show
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.inputs import quota_limit

__all__ = ["register_quota"]


def register_quota(subparsers: Any, common: argparse.ArgumentParser, run: Any) -> None:
    """Add the ``quota`` group: ``show`` and ``set-vfs``."""
    group = subparsers.add_parser("quota", help="the VF quota of a project per physnet")
    sub = group.add_subparsers(dest="quota_command", metavar="COMMAND", required=True)
    p = sub.add_parser("show", parents=[common, format_parser()],
                       help="VFs a project may hold per physnet, and holds now")
    p.add_argument("project", metavar="PROJECT", help="project name or id")
    p.set_defaults(func=run(_show))
    p = sub.add_parser("set-vfs", parents=[common, format_parser()],
                       help="set how many VFs of PHYSNET a project's servers may hold (admin)")
    p.add_argument("project", metavar="PROJECT", help="project name or id")
    p.add_argument("--physnet", required=True, help="the physical network (e.g. physnet1)")
    p.add_argument("--vfs", required=True, type=quota_limit,
                   help="the limit: a count, or -1 for unlimited")
    p.add_argument("--force", action="store_true",
                   help="allow a limit below what the project holds now")
    p.set_defaults(func=run(_set_vfs))


def _project_id(s: CloudSession, name_or_id: str) -> str:
    found = s.call("GET", "identity", f"/v3/projects?name={name_or_id}").get("projects", [])
    return str(found[0]["id"]) if found else name_or_id


def _rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(name.split(":", 1)[1], v["limit"], v["in_use"])
            for name, v in sorted(body.items()) if name != "id"]


def _show(s: CloudSession, args: argparse.Namespace) -> int:
    project = _project_id(s, args.project)
    body = s.call("GET", "compute", f"/os-sriov-quotas/{project}")["sriov_quota_set"]
    print_list(f"VF quota of project {args.project}", ("Physnet", "Limit", "In use"),
               _rows(body), View.of(args))
    return 0


def _set_vfs(s: CloudSession, args: argparse.Namespace) -> int:
    project = _project_id(s, args.project)
    change: dict[str, Any] = {f"sriov_vfs:{args.physnet}": args.vfs}
    if args.force:
        change["force"] = True
    body = s.call("PUT", "compute", f"/os-sriov-quotas/{project}",
                  {"sriov_quota_set": change})["sriov_quota_set"]
    mine = body[f"sriov_vfs:{args.physnet}"]
    print_show(f"VF quota of project {args.project}",
               [("physnet", args.physnet), ("limit", mine["limit"]),
                ("in_use", mine["in_use"])], View.of(args))
    return 0
