"""The table modules, one per area, imported here so ``Base.metadata`` holds every table."""

from __future__ import annotations

from sriovstack.db.base import Base
from sriovstack.db.models import (compute, hosts, identity, keypairs, network, placement, quotas,
                                  migrations)
from sriovstack.db.models.network import (AgentRow, DefaultSecurityGroupRow, FlatAllocationRow,
                                          IpAllocationRow, NetworkRow, PortHostBindingRow, PortRow,
                                          PortSecurityGroupRow, SecurityGroupRow,
                                          SecurityGroupRuleRow, SubnetRow, VlanAllocationRow)
from sriovstack.db.models.identity import (DomainRow, IdentityRevisionRow, ProjectRow,
                                           RoleAssignmentRow, RoleRow, TokenRow, UserRow)
from sriovstack.db.models.compute import (FaultRow, FlavorRow, HostRevisionRow, ImageRow,
                                          InstanceActionEventRow, InstanceActionRow,
                                          ServerConsoleRow, ServerPortRow, ServerRow,
                                          SweepLeaseRow)
from sriovstack.db.models.hosts import (HostAllocationRow, HostRow, PciDeviceRow,
                                        SchedulerRevisionRow)
from sriovstack.db.models.migrations import MigrationRow
from sriovstack.db.models.placement import PlacementNameRow
from sriovstack.db.models.keypairs import FlavorExtraSpecRow, FlavorProjectRow, KeyPairRow
from sriovstack.db.models.quotas import QuotaLimitRow

__all__ = [
    "Base", "compute", "hosts", "identity", "keypairs", "network", "placement", "quotas",
    "AgentRow", "FlavorExtraSpecRow", "FlavorProjectRow", "KeyPairRow", "QuotaLimitRow",
    "migrations", "MigrationRow",
    "DefaultSecurityGroupRow",
    "DomainRow", "FaultRow", "FlatAllocationRow", "FlavorRow", "HostAllocationRow",
    "HostRevisionRow", "HostRow", "IdentityRevisionRow", "ImageRow", "InstanceActionEventRow", "InstanceActionRow",
    "IpAllocationRow", "NetworkRow", "PciDeviceRow", "PlacementNameRow", "PortHostBindingRow", "PortRow",
    "PortSecurityGroupRow", "ProjectRow", "RoleAssignmentRow", "RoleRow",
    "SchedulerRevisionRow", "SecurityGroupRow", "SecurityGroupRuleRow", "ServerConsoleRow",
    "ServerPortRow",
    "ServerRow", "SubnetRow", "SweepLeaseRow", "TokenRow", "UserRow", "VlanAllocationRow",
]
