"""The submit form of the Envelopes tab (story "Canonical Scoped Operating Envelope View and
History"; issue #3 §5): one block for one managed scope, its start and end typed in the depot's
time zone.

`parse_submission` turns what was typed into a `Submission` or into errors beside the fields; the
block rules are the domain's own (`envelopes.model.check_blocks`), so one failed post lists every
problem. `field_errors` puts the service's refusals (`blocks[0].end`, …) beside the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from depotgrid.manage.envelopes.model import EnvelopeBlock, EnvelopeKind, check_blocks
from depotgrid.manage.errors import ValidationFailed
from depotgrid.manage.microgrid.model import ManagedScope
from depotgrid.manage.web.forms import Choices, FormField, FormView, form_view, parse

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
MAX_SOURCE_KIND = 50
SOURCE_KINDS = ("MANUAL", "OSCP", "SIMULATOR")
KINDS = (
    ("PRIMARY", "PRIMARY: applies while in force"),
    ("FALLBACK", "FALLBACK: kept for the fallback policy"),
)
FIELDS = (
    FormField(
        "scope_id", "Scope", "select", choices="scopes", hint="The grid connection it limits."
    ),
    FormField(
        "kind", "Kind", "select", choices="kinds", hint="A FALLBACK never applies by itself."
    ),
    FormField("source_kind", "Source kind", hint="Where the limit comes from: MANUAL, OSCP, …"),
    FormField(
        "source_reference",
        "Source reference",
        required=False,
        hint="A ticket or message id, kept in the history.",
    ),
    FormField(
        "max_import_kw", "Max import (kW)", "kw", hint="The most the scope may draw, e.g. 120."
    ),
    FormField(
        "max_export_kw",
        "Max export (kW)",
        "kw",
        required=False,
        hint="Leave empty for no export limit.",
    ),
)
TIME_FIELDS = (
    FormField("start", "Start", hint="Depot local time"),
    FormField("end", "End", hint="Depot local time"),
)
DOMAIN_FIELDS = {
    "blocks[0].start": "start",
    "blocks[0].end": "end",
    "blocks[0].max_import_kw": "max_import_kw",
    "blocks[0].max_export_kw": "max_export_kw",
    "blocks[0]": "start",
    "blocks": "end",
}
WORDS = {
    ("end", "must be after start"): "must be after the start: pick a later end",
    ("end", "every block has already ended; nothing to apply"): (
        "has already passed, so nothing would apply: pick an end in the future"
    ),
    ("max_import_kw", "must be zero or more"): "must be zero or more kW, e.g. 120",
    ("max_export_kw", "must be zero or more"): "must be zero or more kW, or leave it empty",
}
"""The domain's reasons, reworded to say how to fix them; others are shown as they are."""


@dataclass(frozen=True)
class Submission:
    scope_id: str
    kind: EnvelopeKind
    source_kind: str
    source_reference: str
    block: EnvelopeBlock


def choices(scopes: Sequence[ManagedScope]) -> Choices:
    return {"scopes": [(s.scope_id, s.name) for s in scopes], "kinds": KINDS}


def initial_values(scopes: Sequence[ManagedScope], zone: ZoneInfo, now: datetime) -> dict[str, str]:
    """A one-hour block from this minute on the first scope, as a MANUAL PRIMARY envelope."""
    start = now.astimezone(zone).replace(second=0, microsecond=0)
    return {
        "scope_id": scopes[0].scope_id if scopes else "",
        "kind": "PRIMARY",
        "source_kind": "MANUAL",
        "start": start.strftime(LOCAL_FORMAT),
        "end": (start + timedelta(hours=1)).strftime(LOCAL_FORMAT),
    }


def local_time(raw: str, zone: ZoneInfo) -> datetime:
    """A `datetime-local` value read as a wall-clock time in `zone`."""
    text = raw.strip()
    example = "e.g. 2026-05-01T14:30"
    if not text:
        raise ValueError(f"enter a date and time, {example}")
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{text[:40]}' is not a date and time: {example}") from None
    if naive.tzinfo is not None:
        return naive
    local = naive.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks go forward); "
            "pick a time outside the gap"
        )
    return local


def parse_submission(
    form: Mapping[str, str], scopes: Sequence[ManagedScope], zone: ZoneInfo
) -> tuple[Submission | None, dict[str, str]]:
    """The submission, or every error beside its field."""
    parsed = parse(FIELDS, form, choices(scopes))
    errors = dict(parsed.errors)
    times: dict[str, datetime] = {}
    for spec in TIME_FIELDS:
        try:
            times[spec.name] = local_time(form.get(spec.name, ""), zone)
        except ValueError as exc:
            errors[spec.name] = str(exc)
    source_kind = str(parsed.values.get("source_kind") or "")
    if len(source_kind) > MAX_SOURCE_KIND:
        errors["source_kind"] = f"use at most {MAX_SOURCE_KIND} characters"
    if len(times) < len(TIME_FIELDS):
        return None, errors
    block = EnvelopeBlock(
        start=times["start"],
        end=times["end"],
        max_import_kw=float(parsed.values.get("max_import_kw") or 0.0),
        max_export_kw=parsed.values.get("max_export_kw"),
    )
    try:
        check_blocks([block])
    except ValidationFailed as exc:
        errors = field_errors(exc) | errors
    if errors:
        return None, errors
    submission = Submission(
        scope_id=str(parsed.values["scope_id"]),
        kind=EnvelopeKind(parsed.values["kind"]),
        source_kind=source_kind,
        source_reference=str(parsed.values.get("source_reference") or ""),
        block=block,
    )
    return submission, {}


def field_errors(exc: ValidationFailed) -> dict[str, str]:
    """The service's refusal, beside the inputs: `blocks[0].end` goes beside End."""
    found: dict[str, str] = {}
    for error in exc.errors:
        name = DOMAIN_FIELDS.get(error.field, "end")
        reason = WORDS.get((name, error.reason), error.reason)
        found[name] = "; ".join(filter(None, [found.get(name), reason]))
    return found


def envelope_form(
    values: Mapping[str, str],
    errors: Mapping[str, str],
    scopes: Sequence[ManagedScope],
    *,
    action: str,
) -> FormView:
    return form_view(
        (*FIELDS, *TIME_FIELDS),
        values,
        errors,
        choices(scopes),
        title="Submit an envelope",
        action=action,
        submit="Submit envelope",
        cancel_url=action,
    )
