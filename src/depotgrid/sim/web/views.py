"""What each simulator page shows, read in one unit of work per page. Values come from the
control API's JSON views (`depotgrid.sim.api.views`), so a page and `GET` on the API agree;
this module adds what only a page needs: choices for its forms, what an action just did, the
ledger's filter and pages, and the forecast chart's series."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from depotgrid.common.ids import new_id
from depotgrid.oscp.enums import (
    CapacityForecastType,
    ForecastedBlockUnit,
    MeasurementConfiguration,
    PhaseIndicator,
)
from depotgrid.sim.api import views
from depotgrid.sim.api.sessions import session_view
from depotgrid.sim.projections.oscp_cp import message_types
from depotgrid.sim.projections.oscp_cp.ledger import INBOUND, OUTBOUND, LedgerFilter
from depotgrid.sim.runtime.run import RunState
from depotgrid.sim.scenarios.expectations import Polarity
from depotgrid.sim.scenarios.forecasts import VariationKind
from depotgrid.sim.scenarios.overrides import MODES, OverrideMode
from depotgrid.sim.services import SimServices
from depotgrid.sim.unit_of_work import SimUnitOfWork
from depotgrid.sim.web.forms import FormState

LEDGER_PAGE = 25
RUNS_SHOWN = 100
Choice = tuple[str, str]

RUN_NOTICES = {
    "created": "Run created. Start it to let logical time pass.",
    "start": "Run started: logical time is passing.",
    "pause": "Run paused: logical time stands still.",
    "resume": "Run resumed.",
    "stop": "Run stopped. Its sessions went offline; history is kept.",
    "tick": "Logical time jumped forward.",
    "speed": "Speed changed; logical time stayed continuous.",
}
SESSION_NOTICES = {
    "preset": ("scenario", "Preset applied: it replaced the session's overrides."),
    "override": ("scenario", "Override applied."),
    "cleared": ("scenario", "Override cleared."),
    "cleared-all": ("scenario", "Every override was cleared."),
    "expectation": ("expectations", "Expectation raised; it stays pending until resolved."),
}
SENT_SECTIONS = {"UpdateGroupCapacityForecast": "forecast"}
"""Where on the session page a delivery's outcome is told (default: the commands)."""
OUTCOMES = ("pending", "accepted", "rejected", "ignored", "indeterminate", "failed")
LEDGER_TYPES: list[str] = sorted(message_types.INBOUND | message_types.OUTBOUND)


def _choices(values: Any) -> list[Choice]:
    return [(v.value, v.value.replace("_", " ")) for v in values]


FORM_CHOICES: dict[str, list[Choice]] = {
    "forecast_type": _choices(CapacityForecastType),
    "unit": [(u.value, u.value) for u in ForecastedBlockUnit],
    "phase": _choices(PhaseIndicator),
    "variation": _choices(VariationKind),
    "measurement": _choices(MeasurementConfiguration),
    "mode": [(m.value, m.value.replace("_", " ")) for m in OverrideMode],
    "polarity": [(Polarity.RECEIVE.value, "receive"), (Polarity.NOT_RECEIVE.value, "not receive")],
    "inbound_types": [(t, t) for t in sorted(message_types.INBOUND)],
    "message_types": [(t, t) for t in LEDGER_TYPES],
    "expected_outcome": [(o, o) for o in ("accepted", "rejected", "ignored")],
    "outcome": [(o, o) for o in OUTCOMES],
    "direction": [(INBOUND, "inbound (received)"), (OUTBOUND, "outbound (sent)")],
    "forced": [("true", "forced only"), ("false", "not forced")],
}
MODE_HINTS = {mode.value: info.forces for mode, info in MODES.items()}


# --- runs ---------------------------------------------------------------------------------


def configuration_choices(uow: SimUnitOfWork) -> list[tuple[str, list[Choice]]]:
    """Every configuration version a run can pin, grouped by configuration, newest first."""
    configurations, _ = uow.configurations.page(500, 0)
    return [
        (
            c.name,
            [
                (f"{c.id}@{v}", f"{c.name} — version {v}")
                for v in reversed(uow.configurations.versions(c.id))
            ],
        )
        for c in configurations
    ]


def runs_page(sim: SimServices) -> dict[str, Any]:
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        records, total = uow.runs.page(RUNS_SHOWN, 0)
        names = {
            c.id: c.name
            for c in (uow.configurations.get(r.run.configuration_id) for r in records)
            if c
        }
        runs = [
            {
                **views.run(r, wall, uow.sessions.for_run(r.run.id)),
                "configuration_name": names.get(r.run.configuration_id, "?"),
            }
            for r in records
        ]
        configurations = configuration_choices(uow)
    return {
        "runs": runs,
        "total": total,
        "configurations": configurations,
        "refreshed_at": views.iso(wall),
    }


def run_page(sim: SimServices, run_id: str) -> dict[str, Any]:
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        record = sim.runs.get(uow, run_id)
        document = sim.runtime.document(uow, record.run)
        sessions = uow.sessions.for_run(run_id)
        run = views.run(record, wall, sessions)
    bindings = {b.managed_scope_id: b for b in document.projection_bindings}
    nodes = [
        {"id": n.id, "kind": n.kind.value, "name": n.name, **run["world"]["nodes"][n.id]}
        for n in document.topology.nodes
        if n.id in run["world"]["nodes"]
    ]
    return {
        "run": run,
        "stopped": record.run.state is RunState.STOPPED,
        "configuration_name": document.name,
        "nodes": nodes,
        "sessions": [
            {
                "id": s.id,
                "state": s.state.value,
                "state_reason": s.state_reason,
                "remote_configuration_id": s.remote_configuration_id,
                "scope": s.managed_scope_id,
                "group_id": s.group_id,
                "preset": s.scenario_preset,
            }
            for s in sessions
        ],
        "scopes": [
            (
                s.id,
                f"{s.name or s.id} (node {s.node_id}"
                + (f", group {bindings[s.id].group_id})" if s.id in bindings else ", no binding)"),
            )
            for s in document.managed_scopes
        ],
        "presets": [(p, p.replace("_", " ")) for p in document.preset_names()],
        "new_remote_id": new_id(),
        "refreshed_at": views.iso(wall),
    }


# --- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerQuery:
    """The ledger's filter and page, as the session page's query string carries them."""

    direction: str = ""
    message_type: str = ""
    outcome: str = ""
    forced: str = ""
    offset: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(
        cls, direction: str, message_type: str, outcome: str, forced: str, offset: str
    ) -> LedgerQuery:
        """Keep what is valid; say beside the filter what is not (and ignore it)."""
        errors: dict[str, str] = {}
        known = message_types.normalise(message_type) if message_type else ""
        if known is None:
            errors["message_type"] = f"'{message_type}' is no OSCP message type; pick from the list"
        checks = {
            "direction": (direction, {INBOUND, OUTBOUND}),
            "outcome": (outcome, set(OUTCOMES)),
            "forced": (forced, {"true", "false"}),
        }
        values = {}
        for name, (value, allowed) in checks.items():
            if value and value not in allowed:
                errors[name] = "choose one of the listed options"
            values[name] = value if value in allowed else ""
        start = int(offset) if offset.isdigit() else 0
        return cls(message_type=known or "", offset=start, errors=errors, **values)

    @property
    def form(self) -> FormState:
        """The filter as its form shows it: valid choices kept, errors beside the field."""
        chosen = {
            "direction": self.direction,
            "message_type": self.message_type,
            "outcome": self.outcome,
            "forced": self.forced,
        }
        return FormState({k: [v] for k, v in chosen.items()}, dict(self.errors))

    @property
    def active(self) -> bool:
        return bool(self.direction or self.message_type or self.outcome or self.forced)

    def where(self, session_id: str) -> LedgerFilter:
        return LedgerFilter(
            session_id=session_id,
            direction=self.direction or None,
            message_types=[self.message_type] if self.message_type else [],
            outcome=self.outcome or None,
            forced=None if not self.forced else self.forced == "true",
        )

    def query(self, offset: int | None = None) -> str:
        """The query string of this filter at `offset` (default: this page)."""
        params = {
            "direction": self.direction,
            "message_type": self.message_type,
            "outcome": self.outcome,
            "forced": self.forced,
        }
        at = self.offset if offset is None else offset
        pairs = {k: v for k, v in params.items() if v} | ({"offset": str(at)} if at else {})
        return urlencode(pairs)


def ledger(
    uow: SimUnitOfWork, session_id: str, query: LedgerQuery, base_url: str
) -> dict[str, Any]:
    """One page of the session's ledger, newest first."""
    items, total = uow.ledger.search(
        query.where(session_id), limit=LEDGER_PAGE, offset=query.offset, newest_first=True
    )
    older = query.offset + LEDGER_PAGE
    return {
        "entries": [views.ledger_entry(e) for e in items],
        "total": total,
        "first": query.offset + 1 if items else 0,
        "last": query.offset + len(items),
        "newer_url": f"{base_url}?{query.query(max(query.offset - LEDGER_PAGE, 0))}#ledger"
        if query.offset
        else None,
        "older_url": f"{base_url}?{query.query(older)}#ledger" if older < total else None,
        "live_query": query.query(),
        "live": query.offset == 0,
    }


def session_page(
    sim: SimServices, run_id: str, session_id: str, query: LedgerQuery, base_url: str
) -> dict[str, Any]:
    session = session_view(sim, run_id, session_id)
    wall = sim.clock.now()
    with sim.uows.read() as uow:
        record = sim.sessions.run(uow, run_id)
        document = sim.runtime.document(uow, record.run)
        expectations = [views.expectation(e) for e in uow.expectations.for_session(session_id)]
        outbound, _ = uow.ledger.search(
            LedgerFilter(session_id=session_id, direction=OUTBOUND),
            limit=20,
            offset=0,
            newest_first=True,
        )
        plans = uow.plans.for_session(session_id)
        last = session["last_forecast"]
        forecast_entry = uow.ledger.get(last["ledger_entry_id"]) if last else None
        page = ledger(uow, session_id, query, base_url)
    blocks = forecast_blocks(forecast_entry.body if forecast_entry else None)
    correlations = [(p.id, f"forecast plan {p.id[:8]} ({p.status})") for p in reversed(plans)] + [
        (e.id, f"{e.message_type} sent {views.iso(e.wall_at)} · X-Request-ID {e.request_id}")
        for e in outbound
    ]
    return {
        "run": views.run(record, wall),
        "session": session,
        "logical_now": session["timers"]["logical_now"],
        "expectations": expectations,
        "ledger": page,
        "query": query,
        "presets": [(p, p.replace("_", " ")) for p in document.preset_names()],
        "correlations": correlations,
        "forecast_blocks": blocks,
        "forecast_chart": forecast_series(blocks, session["timers"]["logical_now"]),
        "refreshed_at": views.iso(wall),
    }


def session_notice(
    sim: SimServices, session_id: str, done: str, sent: str
) -> dict[str, Any] | None:
    """What the last action did, told beside its form: a fixed text, or how the message a
    delivery command just sent fared (read back from the ledger)."""
    if sent:
        with sim.uows.read() as uow:
            entry = uow.ledger.get(sent)
        if entry is None or entry.session_id != session_id:
            return None
        section = SENT_SECTIONS.get(entry.message_type, "commands")
        return {"section": section, "entry": views.ledger_entry(entry)}
    if done in SESSION_NOTICES:
        section, text = SESSION_NOTICES[done]
        return {"section": section, "text": text}
    return None


def forecast_blocks(body: Any) -> list[dict[str, Any]]:
    """The blocks of a sent UpdateGroupCapacityForecast body, for its table and chart."""
    if not isinstance(body, dict):
        return []
    blocks = body.get("forecasted_blocks")
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def forecast_series(blocks: list[dict[str, Any]], now: str | None) -> dict[str, Any] | None:
    """uPlot columns of a step chart: each block's capacity from its start, a gap (null)
    between blocks that do not touch, the last value held to the last end."""
    if not blocks:
        return None
    times: list[float] = []
    values: list[float | None] = []
    ordered = sorted(blocks, key=lambda b: str(b["start_time"]))
    for index, block in enumerate(ordered):
        start, end = _epoch(block["start_time"]), _epoch(block["end_time"])
        times.append(start)
        values.append(float(block["capacity"]))
        following = ordered[index + 1] if index + 1 < len(ordered) else None
        if following is None or _epoch(following["start_time"]) > end:
            times.append(end)
            values.append(float(block["capacity"]))
            if following is not None:
                times.append((end + _epoch(following["start_time"])) / 2)
                values.append(None)
    return {
        "x": times,
        "y": values,
        "unit": str(ordered[0].get("unit", "")),
        "now": _epoch(now) if now else None,
    }


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()
