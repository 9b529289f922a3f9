"""Domain errors: plain exceptions that the API and UI edges turn into responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class DomainError(Exception):
    """Base of every refusal the domain makes; a refused command changes nothing."""


class NotFound(DomainError):
    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"{kind} {entity_id} not found")
        self.kind = kind
        self.entity_id = entity_id


class ValidationFailed(DomainError):
    """One or more fields break an invariant; each error says which field and how to fix it."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = errors

    @classmethod
    def single(cls, field_name: str, reason: str) -> ValidationFailed:
        return cls([FieldError(field_name, reason)])


@dataclass
class Conflict(DomainError):
    """The request is valid but clashes with stored state (children still attached, duplicates)."""

    message: str
    code: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)
