"""View models of the load-balancing pages: the circuit page, the Cycles tab, a cycle's detail.

Built by plain functions from a unit of work and the stored cycle results. Times are shown in
the depot's local time with its zone; every number a limit produced carries its reason codes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from depotgrid.manage.balancing import service as balancing
from depotgrid.manage.balancing.limits import circuit_sources, effective_cap
from depotgrid.manage.balancing.policy import DEFAULT_POLICY
from depotgrid.manage.balancing.reasons import (
    ANCESTOR_SATURATED,
    FAIL_SAFE_DEFAULT,
    FALLBACK_DERIVED_TELEMETRY,
    base_code,
    describe,
)
from depotgrid.manage.balancing.repository import BreachRow, CycleRow, MeterReading
from depotgrid.manage.errors import NotFound
from depotgrid.manage.legacy.model import CapacitySource, Charger, Circuit, Depot
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.views import Pager

MODE_TONES = {
    "MEASURED": "green",
    "FALLBACK_DERIVED": "yellow",
    "FAIL_SAFE": "red",
    "UNMETERED": "grey",
}
MODE_WORDS = {
    "MEASURED": "measured",
    "FALLBACK_DERIVED": "fallback derived",
    "FAIL_SAFE": "fail-safe",
    "UNMETERED": "unmetered",
}
SOURCE_WORDS = {
    CapacitySource.RATING.value: "the physical rating",
    CapacitySource.OPERATOR.value: "an operator's setting",
    CapacitySource.ENVELOPE.value: "an operating envelope",
    CapacitySource.SAFE_DEFAULT.value: "the safe default (no envelope in force)",
}
TRIGGER_WORDS = {
    "MANUAL": "manual",
    "CIRCUIT_CHANGE": "circuit change",
    "CHARGER_CHANGE": "charger change",
    "ENVELOPE_CHANGE": "envelope change",
    "LEGACY_ALIAS": "legacy alias",
    "METER_READING": "meter reading",
    "TIMER": "timer",
}


@dataclass(frozen=True)
class Moment:
    """A time in the depot's zone, with its relative age when it is in the past."""

    text: str
    iso: str
    ago: str


def moment(value: datetime | str | None, zone: ZoneInfo, now: datetime) -> Moment | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = at.astimezone(zone)
    return Moment(
        text=local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or ""),
        iso=local.isoformat(),
        ago=age_words((now - at).total_seconds()),
    )


def age_words(seconds: float) -> str:
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    """The code as shown: ANCESTOR_SATURATED names its circuit."""
    description: str
    tone: str


def reasons(codes: Iterable[str], names: Mapping[str, str]) -> list[Reason]:
    shown = []
    for code in codes:
        base, _, sub = code.partition(":")
        label, description = code, describe(code)
        if base == ANCESTOR_SATURATED and sub:
            name = names.get(sub, f"circuit {sub[:8]}…")
            label = f"{ANCESTOR_SATURATED}: {name}"
            description = f"Its fair share is set by {name}, which is full."
        tone = {FAIL_SAFE_DEFAULT: "red", FALLBACK_DERIVED_TELEMETRY: "yellow"}.get(
            base_code(code), "grey"
        )
        shown.append(Reason(code, label, description, tone))
    return shown


@dataclass(frozen=True)
class SourceRow:
    code: str
    kw: float
    detail: str
    binding: bool
    description: str


@dataclass(frozen=True)
class Telemetry:
    mode: str
    tone: str
    word: str
    explanation: str
    stale_after_seconds: float
    margin_fraction: float
    latest: Moment | None
    latest_power_kw: float | None
    reading_age_seconds: float | None
    children: list[tuple[str, str, float]]
    untrusted: list[str]
    direct_chargers_kw: float
    derived_load_kw: float | None
    load_kw: float
    chargers_under_kw: float
    uncontrolled_kw: float


@dataclass(frozen=True)
class CapRow:
    circuit_id: str
    name: str
    depth: int
    max_capacity_kw: float
    available_capacity_kw: float
    available_source: str
    safe_default_kw: float
    cap_kw: float
    reasons: list[Reason]
    sources: list[SourceRow]
    headroom_kw: float
    allocated_kw: float
    uncontrolled_kw: float
    telemetry: Telemetry


@dataclass(frozen=True)
class Allocation:
    charger_id: str
    name: str
    circuit_name: str
    plugged_in: bool
    requested_kw: float | None
    max_kw: float
    kw: float
    admitted: bool
    reasons: list[Reason]


@dataclass(frozen=True)
class Breach:
    breach_id: str
    circuit_id: str
    circuit_name: str
    status: str
    tone: str
    started: Moment | None
    ended: Moment | None
    primary_reason: Reason
    cap_kw: float
    peak_kw: float
    samples: int
    excess_kwh: float
    note: str = ""


@dataclass(frozen=True)
class CycleRowView:
    cycle_id: str
    sequence: int
    time: Moment | None
    trigger: str
    trigger_words: str
    trigger_ref_name: str | None
    actor: str
    source_mode: str
    tone: str
    mode_word: str
    fail_safe: bool
    total_allocated_kw: float
    charger_count: int
    open_breaches: int
    opened_breaches: int


@dataclass(frozen=True)
class CycleList:
    rows: list[CycleRowView]
    timezone: str
    pager: Pager
    refreshed: Moment | None


@dataclass(frozen=True)
class CycleDetail:
    row: CycleRowView
    inputs_hash: str
    policy: dict[str, Any]
    caps: list[CapRow]
    allocations: list[Allocation]
    breaches: list[Breach]
    timezone: str


@dataclass(frozen=True)
class CircuitPage:
    depot: Depot
    circuit: Circuit
    kind: str
    path: list[tuple[str, str]]
    cap_kw: float
    cap_reasons: list[Reason]
    cap_sources: list[SourceRow]
    available_source_words: str
    cap_from_cycle: bool
    telemetry: Telemetry | None
    cycle: CycleRowView | None
    allocations: list[Allocation]
    breaches: list[Breach]
    readings: list[tuple[Moment | None, float, float]]
    latest_reading: Moment | None
    stale_after_seconds: float
    fresh: bool | None
    refreshed: Moment | None
    timezone: str


def _names(uow: UnitOfWork, depot_id: str) -> tuple[dict[str, str], dict[str, str]]:
    circuits = {c.id: c.name for c in uow.legacy.all_in_depot(Circuit, depot_id)}
    chargers = {c.id: c.name for c in uow.legacy.all_in_depot(Charger, depot_id)}
    return circuits, chargers


def _row(row: CycleRow, zone: ZoneInfo, now: datetime, names: Mapping[str, str]) -> CycleRowView:
    ref = row.trigger_ref
    return CycleRowView(
        cycle_id=row.id,
        sequence=row.sequence,
        time=moment(row.computed_at, zone, now),
        trigger=row.trigger,
        trigger_words=TRIGGER_WORDS.get(row.trigger, row.trigger.lower()),
        trigger_ref_name=None if ref is None else names.get(ref, ref[:8] + "…"),
        actor=row.actor,
        source_mode=row.source_mode,
        tone=MODE_TONES.get(row.source_mode, "grey"),
        mode_word=row.source_mode,
        fail_safe=row.fail_safe,
        total_allocated_kw=row.total_allocated_kw,
        charger_count=row.charger_count,
        open_breaches=row.open_breaches,
        opened_breaches=row.opened_breaches,
    )


def cycle_list(uow: UnitOfWork, depot: Depot, limit: int, offset: int) -> CycleList:
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    circuits, chargers = _names(uow, depot.id)
    rows, total = balancing.cycles_page(uow, depot.id, limit=limit, offset=offset)
    return CycleList(
        rows=[_row(r, zone, now, circuits | chargers) for r in rows],
        timezone=depot.timezone,
        pager=Pager(f"/depots/{depot.id}/cycles", total, limit, offset),
        refreshed=moment(now, zone, now),
    )


def cycle_detail(uow: UnitOfWork, depot: Depot, cycle_id: str) -> CycleDetail:
    row = balancing.get_cycle(uow, cycle_id)
    if row.depot_id != depot.id:
        raise NotFound("cycle", cycle_id)
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    circuits, chargers = _names(uow, depot.id)
    result = row.result or {}
    names = circuits | {c["circuit_id"]: c["name"] for c in result.get("circuits", [])}
    return CycleDetail(
        row=_row(row, zone, now, names | chargers),
        inputs_hash=row.inputs_hash,
        policy=dict(result.get("policy", {})),
        caps=cap_rows(result, names, zone, now),
        allocations=allocations(result.get("setpoints", []), names),
        breaches=breaches_in(result, names, zone, now),
        timezone=depot.timezone,
    )


def cap_rows(
    result: Mapping[str, Any], names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> list[CapRow]:
    """Every circuit of a cycle, in tree order (parents first, siblings by name)."""
    items = {c["circuit_id"]: c for c in result.get("circuits", [])}
    children: dict[str | None, list[str]] = {}
    for circuit_id, item in sorted(items.items(), key=lambda kv: (kv[1]["name"], kv[0])):
        parent = item["parent_id"] if item["parent_id"] in items else None
        children.setdefault(parent, []).append(circuit_id)
    ordered: list[tuple[str, int]] = []

    def visit(parent: str | None, depth: int) -> None:
        for circuit_id in children.get(parent, []):
            ordered.append((circuit_id, depth))
            visit(circuit_id, depth + 1)

    visit(None, 0)
    return [_cap_row(items[circuit_id], depth, names, zone, now) for circuit_id, depth in ordered]


def _cap_row(
    item: Mapping[str, Any], depth: int, names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> CapRow:
    return CapRow(
        circuit_id=item["circuit_id"],
        name=item["name"],
        depth=depth,
        max_capacity_kw=item["max_capacity_kw"],
        available_capacity_kw=item["available_capacity_kw"],
        available_source=item["available_capacity_source"],
        safe_default_kw=item["safe_default_capacity_kw"],
        cap_kw=item["cap_kw"],
        reasons=reasons(item["reasons"], names),
        sources=[
            SourceRow(s["code"], s["kw"], s["detail"], s["binding"], describe(s["code"]))
            for s in item["sources"]
        ],
        headroom_kw=item["headroom_kw"],
        allocated_kw=item["allocated_kw"],
        uncontrolled_kw=item["uncontrolled_kw"],
        telemetry=telemetry(item["telemetry"], names, zone, now),
    )


def telemetry(
    t: Mapping[str, Any], names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> Telemetry:
    mode = str(t["mode"])
    return Telemetry(
        mode=mode,
        tone=MODE_TONES.get(mode, "grey"),
        word=MODE_WORDS.get(mode, mode),
        explanation=_named(str(t["explanation"]), names),
        stale_after_seconds=t["stale_after_seconds"],
        margin_fraction=t["margin_fraction"],
        latest=moment(t["latest_reading_at"], zone, now),
        latest_power_kw=t["latest_power_kw"],
        reading_age_seconds=t["reading_age_seconds"],
        children=[
            (names.get(c["circuit_id"], c["circuit_id"]), c["mode"], c["load_kw"])
            for c in t["children"]
        ],
        untrusted=[names.get(c, c) for c in t["untrusted_children"]],
        direct_chargers_kw=t["direct_chargers_kw"],
        derived_load_kw=t["derived_load_kw"],
        load_kw=t["load_kw"],
        chargers_under_kw=t["chargers_under_kw"],
        uncontrolled_kw=t["uncontrolled_kw"],
    )


def _named(text: str, names: Mapping[str, str]) -> str:
    for circuit_id, name in names.items():
        text = text.replace(circuit_id, name)
    return text


def allocations(
    setpoints: Iterable[Mapping[str, Any]], names: Mapping[str, str]
) -> list[Allocation]:
    rows = [
        Allocation(
            charger_id=s["charger_id"],
            name=s["name"],
            circuit_name=names.get(s["circuit_id"], s["circuit_id"]),
            plugged_in=s["plugged_in"],
            requested_kw=s["requested_kw"],
            max_kw=s["max_kw"],
            kw=s["kw"],
            admitted=s["admitted"],
            reasons=reasons(s["reasons"], names),
        )
        for s in setpoints
    ]
    return sorted(rows, key=lambda a: (a.circuit_name, a.name, a.charger_id))


def breaches_in(
    result: Mapping[str, Any], names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> list[Breach]:
    opened = set(result.get("opened_breaches", []))
    closed = set(result.get("closed_breaches", []))
    shown = []
    for b in result.get("breaches", []):
        note = "opened in this cycle" if b["episode_id"] in opened else ""
        if b["episode_id"] in closed:
            note = "closed in this cycle"
        shown.append(
            Breach(
                breach_id=b["episode_id"],
                circuit_id=b["circuit_id"],
                circuit_name=names.get(b["circuit_id"], b["circuit_id"]),
                status=b["status"],
                tone="red" if b["status"] == "OPEN" else "grey",
                started=moment(b["started_at"], zone, now),
                ended=moment(b["ended_at"], zone, now),
                primary_reason=reasons([b["primary_reason"]], names)[0],
                cap_kw=b["cap_kw"],
                peak_kw=b["peak_kw"],
                samples=b["samples"],
                excess_kwh=b["excess_kwh"],
                note=note,
            )
        )
    return shown


def _breach_rows(
    rows: Iterable[BreachRow], names: Mapping[str, str], zone: ZoneInfo, now: datetime
) -> list[Breach]:
    return [
        Breach(
            breach_id=b.id,
            circuit_id=b.circuit_id,
            circuit_name=names.get(b.circuit_id, b.circuit_id),
            status=b.status,
            tone="red" if b.status == "OPEN" else "grey",
            started=moment(b.started_at, zone, now),
            ended=moment(b.ended_at, zone, now),
            primary_reason=reasons([b.primary_reason], names)[0],
            cap_kw=b.cap_kw,
            peak_kw=b.peak_kw,
            samples=b.samples,
            excess_kwh=b.excess_kwh,
        )
        for b in rows
    ]


def circuit_page(uow: UnitOfWork, circuit_id: str) -> CircuitPage:
    circuit = uow.legacy.get(Circuit, circuit_id)
    if circuit is None:
        raise NotFound("circuit", circuit_id)
    depot = uow.legacy.get(Depot, circuit.depot_id)
    if depot is None:
        raise NotFound("depot", circuit.depot_id)
    zone, now = ZoneInfo(depot.timezone), uow.clock.now()
    circuits = {c.id: c for c in uow.legacy.all_in_depot(Circuit, depot.id)}
    names, charger_names = _names(uow, depot.id)
    path: list[tuple[str, str]] = []
    above = circuit.parent_circuit_id
    while above is not None and above in circuits and len(path) < len(circuits):
        path.append((circuits[above].name, above))
        above = circuits[above].parent_circuit_id
    subtree = _subtree(circuit_id, circuits)
    latest = balancing.latest_cycle(uow, depot.id)
    result = (latest.result if latest else None) or {}
    item = next((c for c in result.get("circuits", []) if c["circuit_id"] == circuit_id), None)
    if item is not None:
        row = _cap_row(item, 0, names, zone, now)
        cap_kw, cap_reasons, sources = row.cap_kw, row.reasons, row.sources
        shown_telemetry: Telemetry | None = row.telemetry
    else:
        cap = effective_cap(
            circuit_sources(
                max_capacity_kw=circuit.max_capacity_kw,
                available_capacity_kw=circuit.available_capacity_kw,
                available_capacity_source=circuit.available_capacity_source.value,
            )
        )
        cap_kw, cap_reasons = cap.cap_kw, reasons(cap.reasons, names)
        sources = [
            SourceRow(s.code, s.kw, s.detail, cap.binding(s), describe(s.code)) for s in cap.sources
        ]
        shown_telemetry = None
    mine = [s for s in result.get("setpoints", []) if s["circuit_id"] in subtree]
    readings, _ = balancing.readings_page(uow, circuit_id, limit=10, offset=0)
    policy = result.get("policy", {})
    stale_after = float(policy.get("stale_after_seconds", DEFAULT_POLICY.stale_after_seconds))
    newest = readings[0] if readings else None
    return CircuitPage(
        depot=depot,
        circuit=circuit,
        kind="Grid connection" if circuit.parent_circuit_id is None else "Circuit",
        path=list(reversed(path)),
        cap_kw=cap_kw,
        cap_reasons=cap_reasons,
        cap_sources=sources,
        available_source_words=SOURCE_WORDS[circuit.available_capacity_source.value],
        cap_from_cycle=item is not None,
        telemetry=shown_telemetry,
        cycle=_row(latest, zone, now, names | charger_names) if latest else None,
        allocations=allocations(mine, names),
        breaches=_breach_rows(balancing.breaches(uow, circuit_ids=[circuit_id]), names, zone, now),
        readings=[_reading(r, zone, now) for r in readings],
        latest_reading=None if newest is None else moment(newest.timestamp, zone, now),
        stale_after_seconds=stale_after,
        fresh=None if newest is None else (now - newest.timestamp).total_seconds() <= stale_after,
        refreshed=moment(now, zone, now),
        timezone=depot.timezone,
    )


def _reading(r: MeterReading, zone: ZoneInfo, now: datetime) -> tuple[Moment | None, float, float]:
    return moment(r.timestamp, zone, now), r.power_kw, r.energy_register_kwh


def _subtree(circuit_id: str, circuits: Mapping[str, Circuit]) -> set[str]:
    found = {circuit_id}
    grew = True
    while grew:
        grew = False
        for c in circuits.values():
            if c.parent_circuit_id in found and c.id not in found:
                found.add(c.id)
                grew = True
    return found
