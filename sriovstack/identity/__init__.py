"""Identity: users, projects, roles and tokens (a keystone v3 subset) for the control plane."""

from sriovstack.identity import policy
from sriovstack.identity.access import Access
from sriovstack.identity.directory import Directory
from sriovstack.identity.service import BootstrapResult, IdentityService
from sriovstack.identity.token_cache import TokenCache
from sriovstack.identity.tokens import TokenService
from sriovstack.identity.values import (DEFAULT_DOMAIN_ID, DEFAULT_DOMAIN_NAME, AssignmentNames,
                                        Caller, Domain,
                                        IssuedToken, NameRef, PasswordAuth, Project, Role,
                                        RoleAssignment, RoleName, Token, TokenAuth, User)

__all__ = ["IdentityService", "BootstrapResult", "Directory", "Access", "TokenService", "TokenCache", "policy",
           "Caller", "Domain", "Project", "User", "Role", "RoleName", "RoleAssignment",
           "AssignmentNames", "NameRef",
           "PasswordAuth", "Token", "TokenAuth", "IssuedToken", "DEFAULT_DOMAIN_ID",
           "DEFAULT_DOMAIN_NAME"]
