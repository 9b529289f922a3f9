"""Refusals the sim's domain makes; the API edge turns each into one error response.

A refused command changes nothing: every service checks before it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One reason a request is invalid: the field (a dotted path) and how to fix it."""

    field: str
    reason: str


class DomainError(Exception):
    """Base of every refusal."""


class NotFound(DomainError):
    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"{kind} {entity_id} not found")
        self.kind = kind
        self.entity_id = entity_id


class ValidationFailed(DomainError):
    """One or more fields break an invariant (HTTP 422)."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = list(errors)

    @classmethod
    def single(cls, field_name: str, reason: str) -> ValidationFailed:
        return cls([FieldError(field_name, reason)])


@dataclass
class Conflict(DomainError):
    """The request is valid but clashes with the current state (HTTP 409)."""

    message: str
    code: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)
