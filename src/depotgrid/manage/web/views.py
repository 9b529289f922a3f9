"""View models of the depot pages, built by plain functions from a unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from depotgrid.manage.events.store import RecordedEvent
from depotgrid.manage.legacy import service
from depotgrid.manage.legacy.model import Depot, PowerSource, PowerSourceState
from depotgrid.manage.legacy.views import DepotTree
from depotgrid.manage.unit_of_work import UnitOfWork
from depotgrid.manage.web.entities import walk

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# The UI's state colours (docs: shared/UI.md): every badge also carries its word.
STATE_TONES = {
    PowerSourceState.CHARGING: "green",
    PowerSourceState.DISCHARGING: "green",
    PowerSourceState.GENERATING: "green",
    PowerSourceState.IDLE: "grey",
    PowerSourceState.UNKNOWN: "grey",
    PowerSourceState.OFFLINE: "red",
    PowerSourceState.FAULT: "red",
}
VERB_TONES = {"Created": "green", "Updated": "blue", "Deleted": "red"}
FIELD_LABELS = {
    "name": "name",
    "timezone": "time zone",
    "parent_circuit_id": "parent circuit",
    "circuit_id": "circuit",
    "max_capacity_kw": "max capacity kW",
    "available_capacity_kw": "available capacity kW",
    "safe_default_capacity_kw": "safe-default capacity kW",
    "max_power_kw": "max power kW",
    "min_power_kw": "min power kW",
    "rated_power_kw": "rated power kW",
    "connector_count": "connectors",
    "plugged_in": "plugged in",
    "requested_kw": "requested kW",
    "ocpp_identity": "OCPP identity",
    "site_model_name": "site model",
    "output_translation": "output translation",
}
HIDDEN_FIELDS = {"id", "depot_id"}


@dataclass(frozen=True)
class Pager:
    """Limit/offset paging of a list, with links that keep the other query parameters."""

    path: str
    total: int
    limit: int
    offset: int
    params: tuple[tuple[str, str], ...] = ()

    @property
    def first(self) -> int:
        return self.offset + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def prev_url(self) -> str | None:
        return self._url(max(self.offset - self.limit, 0)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        return self._url(self.offset + self.limit) if self.last < self.total else None

    def _url(self, offset: int) -> str:
        query = [*self.params, ("offset", str(offset))]
        if self.limit != DEFAULT_LIMIT:
            query.append(("limit", str(self.limit)))
        return f"{self.path}?{urlencode(query)}"


def paging(raw_limit: str | None, raw_offset: str | None) -> tuple[int, int]:
    """Lenient limit/offset from the query string: nonsense falls back to the defaults."""
    return (
        min(max(_int(raw_limit, DEFAULT_LIMIT), 1), MAX_LIMIT),
        max(_int(raw_offset, 0), 0),
    )


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class DepotRow:
    id: str
    name: str
    timezone: str
    utc_offset: str


@dataclass(frozen=True)
class DepotList:
    rows: list[DepotRow]
    query: str
    pager: Pager


def depot_list(uow: UnitOfWork, query: str, limit: int, offset: int) -> DepotList:
    items, total = uow.legacy.page(Depot, limit=limit, offset=offset, search=query or None)
    now = uow.clock.now()
    rows = [DepotRow(d.id, d.name, d.timezone, utc_offset(now, d.timezone)) for d in items]
    params = (("q", query),) if query else ()
    return DepotList(rows, query, Pager("/depots", total, limit, offset, params))


def utc_offset(moment: datetime, zone: str) -> str:
    """'UTC+01:00' for the zone at `moment`."""
    offset = moment.astimezone(ZoneInfo(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


@dataclass(frozen=True)
class Overview:
    tree: DepotTree
    states: dict[str, PowerSourceState]

    def tone(self, source_id: str) -> str:
        return STATE_TONES.get(self.states.get(source_id, PowerSourceState.UNKNOWN), "grey")

    def state(self, source_id: str) -> str:
        return self.states.get(source_id, PowerSourceState.UNKNOWN).value


def overview(uow: UnitOfWork, tree: DepotTree) -> Overview:
    sources = uow.legacy.all_in_depot(PowerSource, tree.id)
    return Overview(tree, {source.id: source.state for source in sources})


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryRow:
    version: int
    time: str
    iso_time: str
    actor: str
    event_type: str
    entity: str
    verb: str
    tone: str
    name: str
    changes: list[Change]


@dataclass(frozen=True)
class History:
    rows: list[HistoryRow]
    timezone: str
    pager: Pager


def history(uow: UnitOfWork, tree: DepotTree, limit: int, offset: int) -> History:
    """One page of the depot's audit events, newest first, times in the depot's zone."""
    stream = service.depot_stream(tree.id)
    total = uow.events.current_version(stream)
    start = max(total - offset - limit, 0)
    count = max(min(limit, total - offset), 0)
    events = uow.events.read_stream(stream, offset=start, limit=count) if count else []
    names = {node.id: node.name for node, _ in walk(tree.circuits)}
    for event in events:
        state = event.data.get("state", {})
        if event.data.get("entity") == "circuit" and state.get("name"):
            names.setdefault(str(state.get("id")), str(state["name"]))
    zone = ZoneInfo(tree.timezone)
    rows = [history_row(event, zone, names) for event in reversed(events)]
    return History(rows, tree.timezone, Pager(f"/depots/{tree.id}/history", total, limit, offset))


def history_row(event: RecordedEvent, zone: ZoneInfo, names: dict[str, str]) -> HistoryRow:
    entity = str(event.data.get("entity", ""))
    verb = next((v for v in VERB_TONES if event.event_type.endswith(v)), "")
    state: dict[str, Any] = event.data.get("state", {})
    if "changes" in event.data:
        pairs = [(k, c.get("from"), c.get("to")) for k, c in event.data["changes"].items()]
    elif verb == "Deleted":
        pairs = [(k, v, None) for k, v in state.items() if k not in HIDDEN_FIELDS]
    else:
        pairs = [(k, None, v) for k, v in state.items() if k not in HIDDEN_FIELDS]
    local = event.recorded_at.astimezone(zone)
    return HistoryRow(
        version=event.stream_version,
        time=local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or ""),
        iso_time=local.isoformat(),
        actor=event.actor,
        event_type=event.event_type,
        entity=entity.replace("_", " "),
        verb=verb.lower(),
        tone=VERB_TONES.get(verb, "grey"),
        name=str(state.get("name") or str(state.get("kind", "")).title()).strip() or "—",
        changes=[
            Change(FIELD_LABELS.get(k, k), before, after)
            for k, a, b in pairs
            if (before := _shown(k, a, names)) != (after := _shown(k, b, names))
        ],
    )


def _shown(key: str, value: Any, names: dict[str, str]) -> str:
    if value is None or value == "":
        return "—"
    if key in {"parent_circuit_id", "circuit_id"}:
        return names.get(str(value), f"circuit {str(value)[:8]}…")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
