"""Operating envelope routes on a microgrid's managed scopes (COR-19 and the envelope view story).

Envelopes are protocol-agnostic: a body carrying an OSCP identifier is refused with 422 naming
the field, and nothing changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from depotgrid.manage.api.deps import Paging, Uow, require
from depotgrid.manage.api.schemas import Page
from depotgrid.manage.auth.model import Permission, User
from depotgrid.manage.envelopes import service
from depotgrid.manage.envelopes.model import (
    EnvelopeBlock,
    EnvelopeKind,
    OperatingEnvelope,
    in_force,
    next_boundary,
)
from depotgrid.manage.envelopes.repository import EnvelopeRepository
from depotgrid.manage.errors import FieldError, ValidationFailed
from depotgrid.manage.legacy.model import Circuit
from depotgrid.manage.microgrid import service as microgrids

router = APIRouter(prefix="/api/microgrids/{microgrid_id}", tags=["envelopes"])

Reader = Annotated[User, Depends(require(Permission.LEGACY_READ))]
Writer = Annotated[User, Depends(require(Permission.ENVELOPES_WRITE))]

PROTOCOL_FIELDS = frozenset(
    {
        "group_id",
        "forecasted_blocks",
        "capacity",
        "unit",
        "phase",
        "start_time",
        "end_time",
        "type",
        "measurement_configuration",
        "required_behaviour",
        "x_request_id",
        "x_correlation_id",
        "token",
        "version_url",
    }
)


class _Strict(BaseModel):
    """Unknown fields are collected, then refused by EnvelopeIn with the reason for each."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class BlockIn(_Strict):
    start: datetime
    end: datetime
    max_import_kw: float
    max_export_kw: float | None = None


class SourceIn(_Strict):
    kind: str = Field(min_length=1, max_length=50, description="e.g. MANUAL, OSCP, SIMULATOR")
    reference: str = Field(default="", max_length=500, description="Opaque to the envelope.")


class EnvelopeIn(_Strict):
    kind: Literal["PRIMARY", "FALLBACK"] = "PRIMARY"
    source: SourceIn
    blocks: list[BlockIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _no_unknown_fields(self) -> EnvelopeIn:
        errors = _unknown("", self) + _unknown("source.", self.source)
        for n, block in enumerate(self.blocks):
            errors += _unknown(f"blocks[{n}].", block)
        if errors:
            raise ValidationFailed(errors)
        return self


def _unknown(prefix: str, model: BaseModel) -> list[FieldError]:
    return [
        FieldError(
            prefix + name,
            "is an OSCP field; an operating envelope carries no protocol identifiers "
            "(the scope is in the URL)"
            if name.lower() in PROTOCOL_FIELDS
            else "is not a known field",
        )
        for name in sorted(model.model_extra or {})
    ]


class BlockOut(BaseModel):
    start: datetime
    end: datetime
    max_import_kw: float
    max_export_kw: float | None


class EnvelopeOut(BaseModel):
    id: str
    microgrid_id: str
    scope_id: str
    circuit_id: str
    kind: str
    status: str
    source: dict[str, str]
    blocks: list[BlockOut]
    valid_from: datetime
    valid_to: datetime
    created_at: datetime
    status_changed_at: datetime
    superseded_by: str | None


class ScopeEnvelopeState(BaseModel):
    """What is in force on a scope now, consistent with its circuit's written-through value."""

    scope_id: str
    name: str
    circuit_id: str
    effective_capacity_kw: float
    capacity_source: str
    active_envelope: EnvelopeOut | None
    block_in_force: BlockOut | None
    next_change_at: datetime | None


def envelope_view(envelope: OperatingEnvelope) -> EnvelopeOut:
    return EnvelopeOut(
        id=envelope.id,
        microgrid_id=envelope.microgrid_id,
        scope_id=envelope.scope_id,
        circuit_id=envelope.circuit_id,
        kind=envelope.kind.value,
        status=envelope.status.value,
        source={"kind": envelope.source_kind, "reference": envelope.source_reference},
        blocks=[BlockOut(**vars(block)) for block in envelope.blocks],
        valid_from=envelope.valid_from,
        valid_to=envelope.valid_to,
        created_at=envelope.created_at,
        status_changed_at=envelope.status_changed_at,
        superseded_by=envelope.superseded_by,
    )


@router.post("/scopes/{scope_id}/envelopes", status_code=201, response_model=EnvelopeOut)
def submit_envelope(
    microgrid_id: str, scope_id: str, body: EnvelopeIn, user: Writer, uows: Uow
) -> EnvelopeOut:
    blocks = [EnvelopeBlock(b.start, b.end, b.max_import_kw, b.max_export_kw) for b in body.blocks]
    with uows.write() as uow:
        envelope = service.submit(
            uow,
            user.email,
            microgrid_id,
            scope_id,
            kind=EnvelopeKind(body.kind),
            source_kind=body.source.kind,
            source_reference=body.source.reference,
            blocks=blocks,
        )
        uow.commit()
    return envelope_view(envelope)


@router.delete("/scopes/{scope_id}/envelopes/{envelope_id}", response_model=EnvelopeOut)
def withdraw_envelope(
    microgrid_id: str, scope_id: str, envelope_id: str, user: Writer, uows: Uow
) -> EnvelopeOut:
    with uows.write() as uow:
        envelope = service.withdraw(uow, user.email, microgrid_id, scope_id, envelope_id)
        uow.commit()
    return envelope_view(envelope)


@router.get("/envelopes", response_model=Page[EnvelopeOut])
def list_envelopes(
    microgrid_id: str,
    _: Reader,
    uows: Uow,
    paging: Paging,
    scope_id: Annotated[str | None, Query(description="Only this scope's envelopes.")] = None,
    status: Annotated[
        Literal["SCHEDULED", "ACTIVE", "EXPIRED", "WITHDRAWN", "SUPERSEDED"] | None, Query()
    ] = None,
) -> dict[str, Any]:
    """Every envelope, newest first: expired, withdrawn and superseded ones stay auditable."""
    with uows.read() as uow:
        microgrids.get_microgrid(uow, microgrid_id)
        items, total = EnvelopeRepository(uow.connection).page(
            microgrid_id,
            limit=paging.limit,
            offset=paging.offset,
            scope_id=scope_id,
            status=status,
        )
    return {
        "items": [envelope_view(e) for e in items],
        "total": total,
        "limit": paging.limit,
        "offset": paging.offset,
    }


@router.get("/envelopes/active", response_model=list[ScopeEnvelopeState])
def active_envelopes(microgrid_id: str, _: Reader, uows: Uow) -> list[ScopeEnvelopeState]:
    with uows.read() as uow:
        now = uow.clock.now()
        states = []
        for scope in microgrids.scopes(uow, microgrid_id):
            circuit = uow.legacy.get(Circuit, scope.circuit_id)
            if circuit is None:
                continue
            live = EnvelopeRepository(uow.connection).live_for_scope(scope.scope_id)
            states.append(_scope_state(scope.scope_id, scope.name, circuit, live, now))
    return states


@router.get("/envelopes/{envelope_id}", response_model=EnvelopeOut)
def get_envelope(microgrid_id: str, envelope_id: str, _: Reader, uows: Uow) -> EnvelopeOut:
    with uows.read() as uow:
        return envelope_view(service.get(uow, microgrid_id, envelope_id))


def _scope_state(
    scope_id: str, name: str, circuit: Circuit, live: list[OperatingEnvelope], now: datetime
) -> ScopeEnvelopeState:
    found = in_force(live, now)
    envelope, block = found if found else (None, None)
    return ScopeEnvelopeState(
        scope_id=scope_id,
        name=name,
        circuit_id=circuit.id,
        effective_capacity_kw=min(circuit.available_capacity_kw, circuit.max_capacity_kw),
        capacity_source=circuit.available_capacity_source.value,
        active_envelope=envelope_view(envelope) if envelope else None,
        block_in_force=BlockOut(**vars(block)) if block else None,
        next_change_at=next_boundary(live, now),
    )
