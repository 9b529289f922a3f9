"""The chart of a managed scope on the Envelopes tab (story "Canonical Scoped Operating Envelope
View and History"): envelope blocks against effective capacity and measured load over time.

Pure functions over what the page already loaded:

- the **envelope limit** at a moment is the max import of the PRIMARY block in force then, as it
  was at that moment: an envelope counts from its creation until it was withdrawn or superseded,
  and the newest wins an overlap (the rule of `envelopes.model.in_force`);
- the **effective capacity** (min of available capacity and rating) is recorded history before
  now, rebuilt from the circuit's `CircuitUpdated` events by undoing each change from the current
  value, and a plan after now, from `capacity_target` at each upcoming block boundary;
- the **measured load** is the circuit's meter readings, thinned to one peak per time bucket.

The result is the JSON the browser draws with uPlot (x in Unix seconds, one value per series per
x, null where a series has no value) and the rows of its text alternative.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from depotgrid.manage.balancing.telemetry import Reading
from depotgrid.manage.envelopes.model import (
    EnvelopeKind,
    EnvelopeStatus,
    OperatingEnvelope,
    capacity_target,
)
from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy.model import Circuit

WINDOW = timedelta(hours=12)
LOAD_POINTS = 720
CIRCUIT_CREATED = "CircuitCreated"
CIRCUIT_UPDATED = "CircuitUpdated"
CAPACITY_FIELDS = ("available_capacity_kw", "max_capacity_kw", "available_capacity_source")
ENDED_BY_HAND = frozenset({EnvelopeStatus.WITHDRAWN, EnvelopeStatus.SUPERSEDED})


@dataclass(frozen=True)
class CapacityState:
    available_kw: float
    max_kw: float
    source: str

    @property
    def effective_kw(self) -> float:
        return min(self.available_kw, self.max_kw)


@dataclass(frozen=True)
class CapacityStep:
    at: datetime
    state: CapacityState
    """The circuit's capacity from `at` on."""


@dataclass(frozen=True)
class ChartRow:
    """One change point of the chart, for its text alternative."""

    at: datetime
    envelope_kw: float | None
    capacity_kw: float
    source: str
    planned: bool


@dataclass(frozen=True)
class ChartData:
    start: datetime
    now: datetime
    end: datetime
    series: dict[str, Any]
    rows: list[ChartRow]
    readings: int
    latest_load_kw: float | None
    peak_load_kw: float | None


def state_of(circuit: Circuit) -> CapacityState:
    return CapacityState(
        circuit.available_capacity_kw,
        circuit.max_capacity_kw,
        circuit.available_capacity_source.value,
    )


def capacity_history(
    events: Iterable[RecordedEvent], circuit: Circuit
) -> tuple[CapacityState, list[CapacityStep]]:
    """The capacity before the first recorded change, and after each change, oldest first."""
    changes = [
        (event.recorded_at, capacity_changes(event))
        for event in events
        if event.event_type == CIRCUIT_UPDATED and event.data.get("entity_id") == circuit.id
    ]
    state = state_of(circuit)
    steps: list[CapacityStep] = []
    for at, change in reversed([(at, c) for at, c in changes if c]):
        steps.append(CapacityStep(at, state))
        state = _undo(state, change)
    return state, steps[::-1]


def created_at(events: Iterable[RecordedEvent], circuit_id: str) -> datetime | None:
    """When the circuit was created: the chart draws no capacity before it existed."""
    return next(
        (
            e.recorded_at
            for e in events
            if e.event_type == CIRCUIT_CREATED and e.data.get("entity_id") == circuit_id
        ),
        None,
    )


def capacity_changes(event: RecordedEvent) -> dict[str, Mapping[str, Any]]:
    changes = event.data.get("changes") or {}
    return {key: changes[key] for key in CAPACITY_FIELDS if key in changes}


def _undo(state: CapacityState, change: Mapping[str, Mapping[str, Any]]) -> CapacityState:
    before = {key: value["from"] for key, value in change.items()}
    return CapacityState(
        available_kw=float(before.get("available_capacity_kw", state.available_kw)),
        max_kw=float(before.get("max_capacity_kw", state.max_kw)),
        source=str(before.get("available_capacity_source", state.source)),
    )


def planned_steps(
    circuit: Circuit, live: Sequence[OperatingEnvelope], now: datetime, until: datetime
) -> list[CapacityStep]:
    """What the write-through will do at each upcoming block boundary, if nothing else changes."""
    edges = sorted(
        {edge for e in live for b in e.blocks for edge in (b.start, b.end) if now < edge <= until}
    )
    steps: list[CapacityStep] = []
    current = circuit
    for edge in edges:
        target = capacity_target(current, live, edge)
        if target is None:
            continue
        current = dataclasses.replace(
            current,
            available_capacity_kw=target.available_capacity_kw,
            available_capacity_source=target.source,
        )
        steps.append(CapacityStep(edge, state_of(current)))
    return steps


def state_at(
    initial: CapacityState, steps: Sequence[CapacityStep], moment: datetime
) -> CapacityState:
    found = initial
    for step in steps:
        if step.at > moment:
            break
        found = step.state
    return found


def envelope_limit_at(envelopes: Iterable[OperatingEnvelope], moment: datetime) -> float | None:
    """The max import of the PRIMARY block that was (or will be) in force at `moment`."""
    candidates = [
        (envelope, block)
        for envelope in envelopes
        if envelope.kind is EnvelopeKind.PRIMARY
        and envelope.created_at <= moment
        and not (envelope.status in ENDED_BY_HAND and envelope.status_changed_at <= moment)
        and (block := envelope.block_at(moment)) is not None
    ]
    if not candidates:
        return None
    _, block = max(candidates, key=lambda pair: (pair[0].created_at, pair[0].id))
    return block.max_import_kw


def envelope_edges(envelopes: Iterable[OperatingEnvelope]) -> set[datetime]:
    """Every moment the envelope limit may change: block edges, creations, withdrawals."""
    edges = {edge for e in envelopes for b in e.blocks for edge in (b.start, b.end)}
    edges |= {e.created_at for e in envelopes}
    edges |= {e.status_changed_at for e in envelopes if e.status in ENDED_BY_HAND}
    return edges


def thin(readings: Sequence[Reading], start: datetime, end: datetime) -> list[Reading]:
    """At most LOAD_POINTS readings: the highest of each time bucket, so peaks stay visible."""
    bucket = (end - start) / LOAD_POINTS
    kept: dict[int, Reading] = {}
    for reading in readings:
        if not start <= reading.timestamp <= end:
            continue
        key = int((reading.timestamp - start) / bucket)
        if key not in kept or reading.power_kw > kept[key].power_kw:
            kept[key] = reading
    return sorted(kept.values(), key=lambda r: r.timestamp)


@dataclass(frozen=True)
class CapacityTimeline:
    """The circuit's effective capacity at any moment: recorded up to now, planned after."""

    now: datetime
    initial: CapacityState
    recorded: list[CapacityStep]
    current: CapacityState
    planned: list[CapacityStep]

    @classmethod
    def build(
        cls,
        circuit: Circuit,
        envelopes: Sequence[OperatingEnvelope],
        events: Sequence[RecordedEvent],
        now: datetime,
        until: datetime,
    ) -> CapacityTimeline:
        initial, recorded = capacity_history(events, circuit)
        live = [e for e in envelopes if e.status not in ENDED_BY_HAND | {EnvelopeStatus.EXPIRED}]
        planned = planned_steps(circuit, live, now, until)
        return cls(now, initial, recorded, state_of(circuit), planned)

    def at(self, moment: datetime) -> CapacityState:
        if moment <= self.now:
            return state_at(self.initial, self.recorded, moment)
        return state_at(self.current, self.planned, moment)

    def edges(self) -> set[datetime]:
        return {step.at for step in (*self.recorded, *self.planned)}


def chart_data(
    *,
    circuit: Circuit,
    envelopes: Sequence[OperatingEnvelope],
    events: Sequence[RecordedEvent],
    readings: Sequence[Reading],
    now: datetime,
    window: timedelta = WINDOW,
) -> ChartData:
    """The series of one scope's chart from `now - window` to `now + window`.

    Nothing is drawn for the circuit before it was created; readings are kept as they are.
    """
    start, end = now - window, now + window
    created = created_at(events, circuit.id)
    first = max(start, created) if created else start
    capacity = CapacityTimeline.build(circuit, envelopes, events, now, end)
    inside = sorted((r for r in readings if start <= r.timestamp <= end), key=lambda r: r.timestamp)
    edges = {first, now, end} | capacity.edges() | envelope_edges(envelopes)
    edges = {edge for edge in edges if first <= edge <= end}
    rows = [
        ChartRow(
            m,
            envelope_limit_at(envelopes, m),
            capacity.at(m).effective_kw,
            capacity.at(m).source,
            m > now,
        )
        for m in sorted(edges)
    ]
    return ChartData(
        start=start,
        now=now,
        end=end,
        series=_series(edges, first, capacity, envelopes, thin(inside, start, end))
        | {"start": start.timestamp(), "now": now.timestamp(), "end": end.timestamp()},
        rows=_changes_only(rows),
        readings=len(inside),
        latest_load_kw=inside[-1].power_kw if inside else None,
        peak_load_kw=max((r.power_kw for r in inside), default=None),
    )


def _series(
    edges: set[datetime],
    first: datetime,
    capacity: CapacityTimeline,
    envelopes: Sequence[OperatingEnvelope],
    loads: Sequence[Reading],
) -> dict[str, Any]:
    """uPlot's columns: one x per edge or reading, each series valued (or null) at every x."""
    moments = sorted(edges | {r.timestamp for r in loads})
    load_at = {r.timestamp: r.power_kw for r in loads}
    now = capacity.now
    return {
        "x": [m.timestamp() for m in moments],
        "envelope": [envelope_limit_at(envelopes, m) if m >= first else None for m in moments],
        "capacity": [capacity.at(m).effective_kw if first <= m <= now else None for m in moments],
        "planned": [capacity.at(m).effective_kw if m >= now else None for m in moments],
        "load": [load_at.get(m) for m in moments],
    }


def _changes_only(rows: Sequence[ChartRow]) -> list[ChartRow]:
    """The first row, then only rows where the limit, the capacity or its source changes."""
    kept: list[ChartRow] = []
    for row in rows:
        last = kept[-1] if kept else None
        if last is None or (last.envelope_kw, last.capacity_kw, last.source) != (
            row.envelope_kw,
            row.capacity_kw,
            row.source,
        ):
            kept.append(row)
    return kept
