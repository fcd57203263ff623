"""Finding a network, subnet, port, server or flavor by id or by unique name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sriovstack.cli.cloud.session import CloudSession
from sriovstack.errors import Conflict, NotFound

__all__ = ["Kind", "NETWORK", "SUBNET", "PORT", "SERVER", "FLAVOR", "IMAGE", "find"]


@dataclass(frozen=True, slots=True)
class Kind:
    """Where one resource type lives: service, collection path, body keys."""

    name: str
    service: str
    path: str
    one: str
    many: str


NETWORK = Kind("network", "network", "/v2.0/networks", "network", "networks")
SUBNET = Kind("subnet", "network", "/v2.0/subnets", "subnet", "subnets")
PORT = Kind("port", "network", "/v2.0/ports", "port", "ports")
SERVER = Kind("server", "compute", "/servers", "server", "servers")
FLAVOR = Kind("flavor", "compute", "/flavors", "flavor", "flavors")
IMAGE = Kind("image", "image", "/v2/images", "image", "images")


def find(session: CloudSession, kind: Kind, ref: str) -> dict[str, Any]:
    """The resource whose id or name is ``ref``; NotFound, or Conflict when a name is taken
    twice (pass the id then)."""
    try:
        body = session.call("GET", kind.service, f"{kind.path}/{ref}")
        found: dict[str, Any] = body[kind.one] if kind.one in body else body
        return found
    except NotFound:
        pass
    listing = f"{kind.path}/detail" if kind is SERVER or kind is FLAVOR else kind.path
    items = session.call("GET", kind.service, listing).get(kind.many, [])
    named = [item for item in items if item.get("name") == ref]
    if not named:
        raise NotFound(f"no {kind.name} with name or id {ref!r}", field=kind.name, value=ref)
    if len(named) > 1:
        raise Conflict(f"{len(named)} {kind.name}s are named {ref!r}",
                       fix=f"pass the id: {', '.join(i['id'] for i in named)}",
                       field=kind.name, value=ref)
    return named[0]
