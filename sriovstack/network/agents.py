"""The agents registry: heartbeats from compute and NIC Switch agents, liveness by
agent_down_time, and the per-host view the mechanism drivers bind against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import functools
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from sriovstack.db import storable, upsert_into
from sriovstack.db.models import AgentRow
from sriovstack.errors import ErrorKind, Invalid, NotFound
from sriovstack.identity import Caller, policy
from sriovstack.network.env import Env, new_id
from sriovstack.network.mechanisms import AgentState
from sriovstack.wire import Heartbeat

__all__ = ["Agent", "Agents", "agent_states", "agents_on_hosts"]


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    host: str
    agent_type: str
    binary: str
    topic: str
    alive: bool
    admin_state_up: bool
    device_mappings: tuple[tuple[str, tuple[str, ...]], ...]
    devices: int
    extensions: tuple[str, ...]
    created_at: datetime
    started_at: datetime
    heartbeat_at: datetime


def _configurations(beat: Heartbeat) -> dict[str, object]:
    return {"device_mappings": {p: list(devs) for p, devs in beat.device_mappings},
            "devices": beat.devices, "extensions": list(beat.extensions)}


def _alive(heartbeat_at: datetime, now: datetime, down_time: int) -> bool:
    return now - heartbeat_at < timedelta(seconds=down_time)


def _to_agent(row: AgentRow | Row[Any], now: datetime, down_time: int) -> Agent:
    conf = row.configurations
    return Agent(id=row.id, host=row.host, agent_type=row.agent_type, binary=row.binary,
                 topic=row.topic, alive=_alive(row.heartbeat_at, now, down_time),
                 admin_state_up=row.admin_state_up,
                 device_mappings=tuple((p, tuple(d)) for p, d in
                                       conf.get("device_mappings", {}).items()),
                 devices=int(conf.get("devices", 0)),
                 extensions=tuple(conf.get("extensions", ())), created_at=row.created_at,
                 started_at=row.started_at, heartbeat_at=row.heartbeat_at)


@functools.cache
def _beat(dialect: str, restarted: bool) -> Executable:
    """``record_heartbeat``'s statement, built once per dialect and start flag: the agent
    inserted, or its binary, configurations and heartbeat (and with the start flag its
    started_at) refreshed, in one upsert that returns every column."""
    table = AgentRow.__table__
    upsert = upsert_into(table, dialect)
    refreshed = ("binary", "configurations", "heartbeat_at", *(
        ("started_at",) if restarted else ()))
    return upsert.on_conflict_do_update(
        index_elements=[table.c.host, table.c.agent_type],
        set_={name: upsert.excluded[name] for name in refreshed}).returning(*table.c)


# ``agents_on_hosts``' read, built once (every binding reads its host's agents, a batch of
# builds those of many hosts): the few columns a binding looks at, no ORM rows.
_A = AgentRow.__table__.c
_ON_HOSTS = select(_A.host, _A.agent_type, _A.heartbeat_at, _A.admin_state_up,
                   _A.configurations).where(_A.host.in_(bindparam("hosts", expanding=True)))


def agent_states(session: Session, host: str, now: datetime,
                 down_time: int) -> tuple[AgentState, ...]:
    """The agents on ``host`` as the mechanism drivers see them."""
    return agents_on_hosts(session, (host,), now, down_time)[host]


def agents_on_hosts(session: Session, hosts: Sequence[str], now: datetime,
                    down_time: int) -> dict[str, tuple[AgentState, ...]]:
    """``agent_states`` of each of ``hosts`` in one read (a host with no agent maps to ())."""
    found: dict[str, list[AgentState]] = {host: [] for host in hosts}
    for row in session.execute(_ON_HOSTS, {"hosts": sorted(found)}) if found else ():
        found[row.host].append(AgentState(
            row.agent_type, _alive(row.heartbeat_at, now, down_time) and row.admin_state_up,
            tuple(row.configurations.get("device_mappings", {}))))
    return {host: tuple(states) for host, states in found.items()}


class Agents:
    """Heartbeats in, agent list/show out (admin and service users only, as in neutron)."""

    def __init__(self, env: Env) -> None:
        self._env = env

    def record_heartbeat(self, host: str, report: Heartbeat,
                         session: Session | None = None) -> Agent:
        """Create or refresh the (host, agent_type) agent (in ``session`` when given, else in
        a transaction of its own); Invalid for an empty host/type."""
        if not host or not report.agent_type or not all(
                storable(t) for t in (host, report.agent_type, report.binary)):
            raise Invalid("an agent heartbeat needs a host and an agent_type (no NUL bytes)",
                          field="host", value=host, fix="send host and agent_type")
        now = self._env.clock.now()
        with self._env.db.transaction(session) as s:
            row = s.execute(_beat(self._env.db.dialect, report.start_flag), {  # one statement
                "id": new_id(), "host": host, "agent_type": report.agent_type,
                "binary": report.binary, "topic": "N/A", "admin_state_up": True,
                "configurations": _configurations(report), "created_at": now,
                "started_at": now, "heartbeat_at": now}).one()
        return _to_agent(row, now, self._env.settings.agent_down_time)

    def list(self, caller: Caller) -> list[Agent]:
        _require_privileged(caller)
        now = self._env.clock.now()
        with self._env.db.transaction() as session:
            rows = session.scalars(select(AgentRow).order_by(AgentRow.host, AgentRow.agent_type))
            return [_to_agent(row, now, self._env.settings.agent_down_time) for row in rows]

    def get(self, caller: Caller, agent_id: str) -> Agent:
        _require_privileged(caller)
        with self._env.db.transaction() as session:
            row = session.get(AgentRow, agent_id) if storable(agent_id) else None
            if row is None:
                raise NotFound(f"Agent {agent_id} could not be found.",
                               kind=ErrorKind.AGENT_NOT_FOUND,
                               field="agent_id", value=agent_id)
            return _to_agent(row, self._env.clock.now(), self._env.settings.agent_down_time)

    def delete(self, caller: Caller, agent_id: str) -> None:
        _require_privileged(caller)
        with self._env.db.transaction() as session:
            row = session.get(AgentRow, agent_id) if storable(agent_id) else None
            if row is None:
                raise NotFound(f"Agent {agent_id} could not be found.",
                               kind=ErrorKind.AGENT_NOT_FOUND,
                               field="agent_id", value=agent_id)
            session.delete(row)

    def live_agents(self, host: str) -> list[Agent]:
        """The agents on ``host`` whose last heartbeat is newer than agent_down_time."""
        now = self._env.clock.now()
        with self._env.db.transaction() as session:
            rows = session.scalars(select(AgentRow).where(AgentRow.host == host))
            agents = [_to_agent(row, now, self._env.settings.agent_down_time) for row in rows]
            return [agent for agent in agents if agent.alive]


def _require_privileged(caller: Caller) -> None:
    policy.require_privileged(caller, "the agents API is admin only",
                              fix="use an admin or service account")
