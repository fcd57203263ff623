"""What a flavor's extra specs ask of the scheduler: the PCI requests of
``pci_passthrough:alias``, the PCI NUMA affinity policy and how many NUMA nodes the guest has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sriovstack.compute.extra_specs import ALIAS_SPEC, parse_alias_spec
from sriovstack.pci import NumaPolicy, PciAlias, PciRequest, alias_requests

__all__ = ["FlavorPci", "flavor_pci"]


@dataclass(frozen=True, slots=True)
class FlavorPci:
    """The flavor's PCI side: alias requests, the affinity policy (None: each request's own)
    and the guest's NUMA node count (None: no NUMA topology, so no affinity applies)."""

    requests: tuple[PciRequest, ...] = ()
    numa_policy: NumaPolicy | None = None
    numa_cells: int | None = None


def flavor_pci(specs: Mapping[str, str], aliases: Mapping[str, PciAlias]) -> FlavorPci:
    """Read the extra specs nova reads for PCI placement. Invalid (400) naming the key for a
    malformed value or an alias no ``[pci] alias`` defines."""
    policy_text = specs.get("hw:pci_numa_affinity_policy")
    policy = NumaPolicy(policy_text) if policy_text in {p.value for p in NumaPolicy} else None
    requests: tuple[PciRequest, ...] = ()
    if ALIAS_SPEC in specs:
        requests = alias_requests(parse_alias_spec(specs[ALIAS_SPEC]), aliases, policy)
    cells = None
    nodes = specs.get("hw:numa_nodes", "")
    if nodes.isdigit() and int(nodes) >= 1:
        cells = int(nodes)
    elif specs.get("hw:cpu_policy") == "dedicated" or "hw:mem_page_size" in specs:
        cells = 1  # nova gives such a guest a NUMA topology of one node
    return FlavorPci(requests, policy, cells)
