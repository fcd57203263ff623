"""The all-in-one cloud: simulated hosts, database, API and agents in one process (§4)."""

from sriovstack.allinone.cloud import AllInOne, AllInOneOptions
from sriovstack.allinone.credentials import Credentials
from sriovstack.allinone.hosts import LiveVf, SimulatedHost, live_vfs

__all__ = ["AllInOne", "AllInOneOptions", "Credentials", "SimulatedHost", "LiveVf", "live_vfs"]
