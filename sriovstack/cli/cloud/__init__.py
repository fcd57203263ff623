"""The client commands (network, subnet, port, server, agent; host list|show): each handler
gets a CloudSession on the cloud chosen by ``--os-cloud`` / ``OS_CLOUD`` from clouds.yaml."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from sriovstack.cli.cloud import audit, network, operator, quotas, servers
from sriovstack.cli.cloud.session import CloudSession
from sriovstack.cli.clouds import find_cloud

__all__ = ["register", "register_host_views", "register_agent_views", "common_parser",
           "with_session"]

Handler = Callable[[CloudSession, argparse.Namespace], int]


def common_parser() -> argparse.ArgumentParser:
    """The options every client command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--os-cloud", metavar="NAME",
                        help="cloud in clouds.yaml (default: $OS_CLOUD; the file is "
                             "$OS_CLIENT_CONFIG_FILE or the usual places)")
    return common


def with_session(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """Wrap ``handler`` to run with a session on the chosen cloud, closed afterwards."""
    def run(args: argparse.Namespace) -> int:
        cloud = find_cloud(args.os_cloud, os.environ)
        with CloudSession(cloud) as session:
            return handler(session, args)
    return run


def register(subparsers: Any) -> None:
    """Add network, subnet, port, server, audit and quota to the top-level parser."""
    common = common_parser()
    network.register(subparsers, common, with_session)
    servers.register(subparsers, common, with_session)
    audit.register_audit(subparsers, common, with_session)
    quotas.register_quota(subparsers, common, with_session)


def register_host_views(host_sub: Any) -> None:
    """Add ``host list`` and ``host show`` (the cloud's compute hosts) to the host group."""
    operator.register_host_views(host_sub, common_parser(), with_session)


def register_agent_views(agent_sub: Any) -> None:
    """Add ``agent list`` (the agents the Networking API reports) to the agent group."""
    operator.register_agent_list(agent_sub, common_parser(), with_session)
