"""Form fields described as data: parse posted text into typed values, and build the view.

A form is a tuple of `FormField`. `parse` turns what was typed into values plus inline errors
(in words that say how to fix them); `form_view` pairs each field with its value as typed,
its error and its choices, for the one generic form template.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from depotgrid.manage.errors import Conflict, ValidationFailed

FieldKind = Literal["text", "kw", "int", "select", "json", "timezone"]
Choice = tuple[str, str]
Choices = Mapping[str, Sequence[Choice]]

KW_HINT = "enter a number in kW, e.g. 250 or 12.5"
MAX_TEXT = 200
MAX_INT = 2**31 - 1


@dataclass(frozen=True)
class FormField:
    """One input. Empty optional fields take `fallback` (another field's value) or `default`;
    with `omit_if_empty` they are left out, so the service picks (create) or nothing changes
    (edit)."""

    name: str
    label: str
    kind: FieldKind = "text"
    required: bool = True
    hint: str = ""
    choices: str = ""
    blank: str = ""
    fallback: str = ""
    default: Any = None
    omit_if_empty: bool = False
    wide: bool = False
    initial: str = ""
    minimum: int = 0


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    kind: FieldKind
    value: str
    error: str
    hint: str
    required: bool
    choices: Sequence[Choice]
    blank: str
    wide: bool

    @property
    def id(self) -> str:
        return f"f-{self.name}"

    @property
    def described_by(self) -> str:
        ids = [f"{self.id}-hint" if self.hint else "", f"{self.id}-error" if self.error else ""]
        return " ".join(i for i in ids if i)


@dataclass(frozen=True)
class FormView:
    title: str
    action: str
    submit: str
    cancel_url: str
    fields: Sequence[FieldView]
    error: str = ""
    intro: str = ""

    @property
    def invalid(self) -> list[FieldView]:
        return [f for f in self.fields if f.error]


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def parse(fields: Iterable[FormField], form: Mapping[str, str], choices: Choices) -> Parsed:
    """Typed values for every field that parsed; an inline error for every one that did not."""
    parsed = Parsed()
    specs = list(fields)
    for spec in specs:
        raw = form.get(spec.name, "").strip()
        try:
            value = _parse_one(spec, raw, choices)
        except ValueError as exc:
            parsed.errors[spec.name] = str(exc)
            continue
        parsed.values[spec.name] = value
    for spec in specs:
        _apply_empty_rule(spec, parsed)
    return parsed


def _parse_one(spec: FormField, raw: str, choices: Choices) -> Any:
    if not raw:
        if spec.required:
            raise ValueError(_missing(spec))
        return None
    if spec.kind == "kw":
        return _number(raw)
    if spec.kind == "int":
        return _whole_number(raw, spec.minimum)
    if spec.kind == "select":
        if raw not in {value for value, _ in choices.get(spec.choices, ())}:
            raise ValueError("choose one of the listed options")
        return raw
    if spec.kind == "json":
        return _json_object(raw)
    if len(raw) > MAX_TEXT:
        raise ValueError(f"use at most {MAX_TEXT} characters (this has {len(raw)})")
    return raw


def _apply_empty_rule(spec: FormField, parsed: Parsed) -> None:
    if spec.name not in parsed.values or parsed.values[spec.name] is not None:
        return
    if spec.fallback:
        if spec.fallback in parsed.values:
            parsed.values[spec.name] = parsed.values[spec.fallback]
        else:
            del parsed.values[spec.name]
    elif spec.default is not None:
        parsed.values[spec.name] = spec.default
    elif spec.omit_if_empty:
        del parsed.values[spec.name]


def _missing(spec: FormField) -> str:
    if spec.kind == "kw":
        return KW_HINT
    if spec.kind == "select":
        return f"choose {_lower_first(spec.label)}"
    return f"enter {_lower_first(spec.label)}"


def _number(raw: str) -> float:
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        raise ValueError(f"'{raw}' is not a number: {KW_HINT}") from None
    if not math.isfinite(value):
        raise ValueError(KW_HINT)
    return value


def _whole_number(raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not minimum <= value <= MAX_INT:
        raise ValueError(f"enter a whole number of at least {minimum}, e.g. {minimum + 1}")
    return value


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            'enter an object such as {"power_kw": "P"}'
        ) from None
    if not isinstance(value, dict):
        raise ValueError('enter a JSON object in braces, such as {"power_kw": "P"}')
    return value


def _lower_first(label: str) -> str:
    """'Name' -> 'a name'-style phrasing without breaking acronyms ('OCPP identity')."""
    word = label.split(" ")[0]
    text = label if word.isupper() else label[0].lower() + label[1:]
    return f"the {text}"


def display_value(value: Any) -> str:
    """A stored value as a form shows it: 250.0 -> '250', None -> '', dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def initial_values(fields: Iterable[FormField], entity: Any) -> dict[str, str]:
    return {spec.name: display_value(getattr(entity, spec.name, None)) for spec in fields}


def domain_errors(
    exc: ValidationFailed | Conflict, fields: Iterable[FormField]
) -> tuple[dict[str, str], str]:
    """Field errors from a domain refusal, and what belongs to no field (shown above the form)."""
    names = {spec.name for spec in fields}
    if isinstance(exc, Conflict):
        field_name = str(exc.details.get("field", ""))
        return ({field_name: exc.message}, "") if field_name in names else ({}, exc.message)
    inline: dict[str, str] = {}
    other: list[str] = []
    for error in exc.errors:
        if error.field in names:
            inline[error.field] = "; ".join(filter(None, [inline.get(error.field), error.reason]))
        else:
            other.append(f"{error.field}: {error.reason}")
    return inline, "; ".join(other)


def form_view(
    fields: Iterable[FormField],
    values: Mapping[str, str],
    errors: Mapping[str, str],
    choices: Choices,
    *,
    title: str,
    action: str,
    submit: str,
    cancel_url: str,
    error: str = "",
    intro: str = "",
) -> FormView:
    return FormView(
        title=title,
        action=action,
        submit=submit,
        cancel_url=cancel_url,
        error=error,
        intro=intro,
        fields=[
            FieldView(
                name=spec.name,
                label=spec.label,
                kind=spec.kind,
                value=values.get(spec.name, ""),
                error=_sentence(errors.get(spec.name, "")),
                hint=spec.hint,
                required=spec.required,
                choices=choices.get(spec.choices, ()),
                blank=spec.blank,
                wide=spec.wide,
            )
            for spec in fields
        ],
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else ""
