"""The scope cards of the depot's Envelopes tab (story "Canonical Scoped Operating Envelope View
and History"; issue #3 §5): per managed scope, the effective capacity and where it comes from,
the envelope in force, the next change, and the chart with its text alternative.

A card's effective capacity is its circuit's written-through value, min(available capacity,
rating): the number the circuit page and `GET /api/microgrids/{id}/envelopes/active` show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from depotgrid.manage.balancing.repository import BalancingRepository
from depotgrid.manage.envelopes.model import (
    OperatingEnvelope,
    capacity_target,
    in_force,
    next_boundary,
)
from depotgrid.manage.envelopes.repository import EnvelopeRepository
from depotgrid.manage.legacy.model import Circuit, Depot
from depotgrid.manage.legacy.service import depot_stream
from depotgrid.manage.microgrid import service as microgrids
from depotgrid.manage.microgrid.model import ManagedScope, Microgrid
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.balancing_views import Moment, moment
from depotgrid.manage.web.envelope_chart import WINDOW, ChartData, chart_data
from depotgrid.manage.web.envelope_views import (
    BlockView,
    EnvelopeView,
    block_view,
    envelope_view,
    local_moment,
    window_text,
)
from depotgrid.manage.web.views import utc_offset

SOURCE_TONES = {"ENVELOPE": "green", "SAFE_DEFAULT": "yellow", "OPERATOR": "grey", "RATING": "grey"}
SOURCE_WORDS = {
    "ENVELOPE": "the envelope in force",
    "SAFE_DEFAULT": "its safe default, as no envelope is in force",
    "OPERATOR": "an operator's setting",
    "RATING": "its physical rating",
}
CHART_ENVELOPES = 200
"""How many of a scope's newest envelopes its chart considers."""
CHART_READINGS = 5000


@dataclass(frozen=True)
class ChartRowView:
    at: Moment
    envelope_kw: float | None
    capacity_kw: float
    source: str
    planned: bool


@dataclass(frozen=True)
class ChartView:
    series: dict[str, Any]
    summary: str
    rows: list[ChartRowView]


@dataclass(frozen=True)
class ScopeCard:
    scope_id: str
    name: str
    circuit_id: str
    circuit_name: str
    effective_kw: float
    rating_kw: float
    safe_default_kw: float
    source: str
    source_tone: str
    source_words: str
    envelope: EnvelopeView | None
    block: BlockView | None
    next_change: Moment | None
    next_change_in: str
    next_capacity: str
    upcoming: list[EnvelopeView]
    chart: ChartView


@dataclass(frozen=True)
class EnvelopeTab:
    status: microgrids.ProvisioningStatus
    microgrid: Microgrid | None
    scopes: list[ManagedScope]
    cards: list[ScopeCard]
    timezone: str
    zone_label: str
    """'Europe/London (BST, UTC+01:00 now)'."""
    refreshed: Moment


def until_words(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 48:
        return f"in {hours // 24} d"
    if hours:
        return f"in {hours} h {minutes} min" if minutes else f"in {hours} h"
    return f"in {minutes} min" if minutes else f"in {secs} s"


def envelope_tab(uow: UnitOfWork, depot: Depot) -> EnvelopeTab:
    """The scope cards of the depot's microgrid (none without a microgrid or scopes)."""
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    status = microgrids.provisioning_status(uow, depot.id)
    microgrid = status.microgrid
    scopes = microgrids.scopes(uow, microgrid.id) if microgrid else []
    cards = _cards(uow, depot, scopes, zone, now) if scopes else []
    abbreviation = now.astimezone(zone).tzname() or ""
    label = f"{depot.timezone} ({abbreviation}, {utc_offset(now, depot.timezone)} now)"
    return EnvelopeTab(
        status=status,
        microgrid=microgrid,
        scopes=scopes,
        cards=cards,
        timezone=depot.timezone,
        zone_label=label,
        refreshed=local_moment(now, zone, now),
    )


def _cards(
    uow: UnitOfWork, depot: Depot, scopes: Sequence[ManagedScope], zone: ZoneInfo, now: datetime
) -> list[ScopeCard]:
    circuits = {c.id: c for c in uow.legacy.all_in_depot(Circuit, depot.id)}
    events = uow.events.read_stream(depot_stream(depot.id))
    readings = BalancingRepository(uow.connection).recent_readings(
        [s.circuit_id for s in scopes], CHART_READINGS
    )
    repo = EnvelopeRepository(uow.connection)
    names = {s.scope_id: s.name for s in scopes}
    cards = []
    for scope in scopes:
        circuit = circuits.get(scope.circuit_id)
        if circuit is None:
            continue
        recent, _ = repo.page(
            scope.microgrid_id, limit=CHART_ENVELOPES, offset=0, scope_id=scope.scope_id
        )
        chart = chart_data(
            circuit=circuit,
            envelopes=[
                e for e in recent if e.valid_to >= now - WINDOW and e.created_at <= now + WINDOW
            ],
            events=events,
            readings=readings.get(circuit.id, ()),
            now=now,
        )
        live = repo.live_for_scope(scope.scope_id)
        cards.append(_card(scope, circuit, live, chart, names, zone, now))
    return cards


def _card(
    scope: ManagedScope,
    circuit: Circuit,
    live: Sequence[OperatingEnvelope],
    chart: ChartData,
    names: Mapping[str, str],
    zone: ZoneInfo,
    now: datetime,
) -> ScopeCard:
    found = in_force(live, now)
    envelope, block = found if found else (None, None)
    upcoming = sorted(
        (e for e in live if e is not envelope and e.valid_to > now), key=lambda e: e.valid_from
    )
    boundary = next_boundary(live, now)
    source = circuit.available_capacity_source.value
    return ScopeCard(
        scope_id=scope.scope_id,
        name=scope.name,
        circuit_id=circuit.id,
        circuit_name=circuit.name,
        effective_kw=min(circuit.available_capacity_kw, circuit.max_capacity_kw),
        rating_kw=circuit.max_capacity_kw,
        safe_default_kw=circuit.safe_default_capacity_kw,
        source=source,
        source_tone=SOURCE_TONES.get(source, "grey"),
        source_words=SOURCE_WORDS.get(source, source),
        envelope=envelope_view(envelope, names, zone, now) if envelope else None,
        block=block_view(block, zone, now, live=True) if block else None,
        next_change=moment(boundary, zone, now) if boundary else None,
        next_change_in=until_words((boundary - now).total_seconds()) if boundary else "",
        next_capacity=_next_capacity(circuit, live, boundary),
        upcoming=[envelope_view(e, names, zone, now) for e in upcoming],
        chart=chart_view(chart, scope.name, zone, now),
    )


def _next_capacity(
    circuit: Circuit, live: Sequence[OperatingEnvelope], boundary: datetime | None
) -> str:
    if boundary is None:
        return ""
    target = capacity_target(circuit, live, boundary)
    if target is None or (
        target.available_capacity_kw == circuit.available_capacity_kw
        and target.source is circuit.available_capacity_source
    ):
        return "the circuit's capacity stays as it is"
    kw = min(target.available_capacity_kw, circuit.max_capacity_kw)
    return f"the circuit's capacity becomes {kw:,.1f} kW ({target.source.value})"


def chart_view(chart: ChartData, name: str, zone: ZoneInfo, now: datetime) -> ChartView:
    rows = [
        ChartRowView(
            local_moment(r.at, zone, now), r.envelope_kw, r.capacity_kw, r.source, r.planned
        )
        for r in chart.rows
    ]
    series = chart.series | {"timezone": zone.key, "name": name}
    return ChartView(series=series, summary=chart_summary(chart, name, zone), rows=rows)


def chart_summary(chart: ChartData, name: str, zone: ZoneInfo) -> str:
    """The chart in words: its text alternative's caption."""
    hours = int((chart.now - chart.start).total_seconds() // 3600)
    span = f"{window_text(chart.start, chart.end, zone)} ({hours} h back to {hours} h ahead)"
    segments = [
        f"{kw:,.1f} kW {window_text(start, end, zone)}" for start, end, kw in limit_segments(chart)
    ]
    now_row = [r for r in chart.rows if r.at <= chart.now][-1:]
    capacity = (
        f"Effective capacity now {now_row[0].capacity_kw:,.1f} kW ({now_row[0].source})."
        if now_row
        else ""
    )
    limit = "Envelope limit: " + "; ".join(segments) + "." if segments else "No envelope limit."
    if chart.latest_load_kw is None or chart.peak_load_kw is None:
        load = "No meter readings."
    else:
        load = (
            f"Measured load: latest {chart.latest_load_kw:,.1f} kW, peak "
            f"{chart.peak_load_kw:,.1f} kW over {chart.readings} "
            f"reading{'' if chart.readings == 1 else 's'}."
        )
    return " ".join(filter(None, [f"{name}, {span}.", limit, capacity, load]))


def limit_segments(chart: ChartData) -> list[tuple[datetime, datetime, float]]:
    """Each stretch of one envelope limit in the chart: start, end and kW."""
    segments: list[tuple[datetime, datetime, float]] = []
    ends = [r.at for r in chart.rows[1:]] + [chart.end]
    for row, end in zip(chart.rows, ends, strict=True):
        if row.envelope_kw is None:
            continue
        if segments and segments[-1][1] == row.at and segments[-1][2] == row.envelope_kw:
            segments[-1] = (segments[-1][0], end, row.envelope_kw)
        else:
            segments.append((row.at, end, row.envelope_kw))
    return segments
