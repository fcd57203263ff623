"""The all-in-one cloud: simulated hosts, database, API and agents in one process (§4)."""

from sriovstack.allinone.cloud import AllInOne, AllInOneOptions
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.hosts import LiveVf, SimulatedHost, live_vfs
from sriovstack.allinone.dataplane import DataplaneMode, choose_dataplane, dataplane_prefix
from sriovstack.allinone.guests import GUEST_STATE, ComputeHosts, GuestOptions
from sriovstack.allinone.machines import open_host, open_with_plane, set_pf_link

__all__ = [
    "AllInOne", "AllInOneOptions", "Credentials", "SimulatedHost", "LiveVf", "live_vfs",
    "DataplaneMode", "choose_dataplane", "dataplane_prefix", "open_host", "open_with_plane",
    "set_pf_link", "ComputeHosts", "GuestOptions", "GUEST_STATE",
]
