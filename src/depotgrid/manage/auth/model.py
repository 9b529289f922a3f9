"""Roles and what each may do.

docs/permissions.md is this table in words; a test keeps the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    SYSTEM_ADMIN = "system-admin"
    MANAGER = "manager"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(StrEnum):
    LEGACY_READ = "legacy:read"
    LEGACY_WRITE = "legacy:write"
    HISTORY_READ = "history:read"
    MICROGRID_ADMIN = "microgrid:admin"
    ENVELOPES_WRITE = "envelopes:write"
    OPERATIONS_WRITE = "operations:write"
    OSCP_CONFIGURE = "oscp:configure"
    OSCP_PROTOCOL = "oscp:protocol"


_READ = frozenset({Permission.LEGACY_READ, Permission.HISTORY_READ})

ROLE_PERMISSIONS: MappingProxyType[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.SYSTEM_ADMIN: frozenset(Permission),
        Role.MANAGER: _READ
        | {
            Permission.LEGACY_WRITE,
            Permission.ENVELOPES_WRITE,
            Permission.OPERATIONS_WRITE,
            Permission.OSCP_CONFIGURE,
            Permission.OSCP_PROTOCOL,
        },
        Role.OPERATOR: _READ | {Permission.OPERATIONS_WRITE},
        Role.VIEWER: _READ,
    }
)


@dataclass(frozen=True)
class User:
    id: str
    email: str
    role: Role
    password_hash: str
    created_at: datetime

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


@dataclass(frozen=True)
class ApiToken:
    id: str
    user_id: str
    token_hash: str
    created_at: datetime
