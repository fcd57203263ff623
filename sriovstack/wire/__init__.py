"""The contract between the host agents and the control plane, declared once.

Every message the internal API (``/internal/v1``) carries is a frozen value here with one JSON
encoding (``to_json``/``from_json``): the API parses bodies with it and answers with it, the
agents send and read with it.  Pure: it imports only the stdlib, ``pci``, ``mac`` and
``errors``.  A malformed message is Invalid naming the field (``devices[3].parent_addr``).

    agent → API                         API → agent
    Heartbeat        POST heartbeat     HeartbeatAnswer
    InventoryReport  PUT inventory      InventoryCounts
    —                GET desired-state  DesiredState (DesiredServer, DesiredPort)
    —                GET revision       HostRevision (long-poll: answered when it moves)
    ServerReport     POST status        ServerAnswer
    DeviceReport     POST devices       PortAnswer
    LinkReport       PUT links          LinkAnswer (PfLink: a PF's carrier)
    ConsoleReport    PUT console        ConsoleAnswer (a guest's console lines)
"""

from sriovstack.wire.desired import (DesiredPort, DesiredServer, DesiredState, HostRevision,
                                     IpInterface)
from sriovstack.wire.console import (MAX_CONSOLE_LINE, MAX_CONSOLE_LINES, ConsoleAnswer,
                                     ConsoleReport)
from sriovstack.wire.inventory import (MAX_DEVICES, HostCapabilities, HostResources,
                                       InventoryCounts, InventoryDevice, InventoryReport,
                                       NumaCell, SupportedInstance)
from sriovstack.wire.links import LinkAnswer, LinkReport, PfLink
from sriovstack.wire.reports import (MAX_MESSAGE, DeviceReport, Heartbeat, HeartbeatAnswer,
                                     PortAnswer, ServerAnswer, ServerReport)
from sriovstack.wire.vocabulary import (COMPUTE_AGENT_TYPE, COMPUTE_BINARY, NIC_AGENT_TYPE,
                                        NIC_BINARY, PortStatus, ServerOutcome, ServerStatus,
                                        UplinkPropagation, VnicType)

__all__ = [
    "VnicType", "ServerStatus", "PortStatus", "ServerOutcome", "COMPUTE_AGENT_TYPE",
    "COMPUTE_BINARY", "NIC_AGENT_TYPE", "NIC_BINARY", "HostResources", "HostCapabilities",
    "SupportedInstance", "NumaCell", "InventoryDevice", "InventoryReport", "InventoryCounts",
    "MAX_DEVICES", "DesiredState", "DesiredServer", "DesiredPort", "IpInterface", "Heartbeat",
    "HeartbeatAnswer", "ServerReport", "ServerAnswer", "DeviceReport", "PortAnswer", "MAX_MESSAGE",
    "LinkReport", "LinkAnswer", "PfLink", "HostRevision", "UplinkPropagation", "ConsoleReport",
    "ConsoleAnswer", "MAX_CONSOLE_LINES", "MAX_CONSOLE_LINE",
]
