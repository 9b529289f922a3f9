"""Templates, their filters, and `render`: every simulator UI response goes through here.

Times in sim are UTC; timers run on a run's logical clock, so relative ages ("in 4 s",
"12 s ago") are measured against the logical now the page passes in, not the wall clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

WEB = Path(__file__).parent
STATIC_DIR = WEB / "static"
STATIC_PATH = "/ui/static"
PRODUCT = "depotgrid sim"
REFRESH_SECONDS = 2
"""How often live regions poll for fresh state."""

Moment = datetime | str | None


def as_datetime(value: Moment) -> datetime | None:
    """A datetime from a view's ISO text (`...Z`) or a datetime; None stays None."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def format_kw(value: float | None) -> str:
    """Power in kW with one decimal, as every page shows it."""
    return "—" if value is None else f"{value:,.1f} kW"


def format_time(value: Moment) -> str:
    """A UTC time to the second, zone shown."""
    at = as_datetime(value)
    return "—" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(value: Moment, now: Moment) -> str:
    """How far `value` is from `now`: "in 4 s", "12 s ago", "now"."""
    at, reference = as_datetime(value), as_datetime(now)
    if at is None or reference is None:
        return ""
    seconds = (at - reference).total_seconds()
    if abs(seconds) < 1:
        return "now"
    words = _span(abs(seconds))
    return f"in {words}" if seconds > 0 else f"{words} ago"


def _span(seconds: float) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:g} s"


TONES: dict[str, dict[str, str]] = {
    "run": {"created": "grey", "running": "green", "paused": "yellow", "stopped": "grey"},
    "session": {
        "offline": "red",
        "accepting_handshake": "blue",
        "awaiting_handshake_acknowledge": "blue",
        "online": "green",
        "degraded": "yellow",
    },
    "registration": {
        "unregistered": "grey",
        "pending": "blue",
        "registered": "green",
        "failed": "red",
    },
    "outcome": {
        "pending": "blue",
        "accepted": "green",
        "rejected": "red",
        "failed": "red",
        "ignored": "yellow",
        "indeterminate": "grey",
    },
    "expectation": {"pending": "blue", "met": "green", "violated": "red", "expired": "grey"},
}


def tone(kind: str, value: str | None) -> str:
    """The colour of a state badge (shared/UI.md); unknown states are grey."""
    return TONES.get(kind, {}).get(value or "", "grey")


@cache
def static_url(path: str) -> str:
    """The URL of a static file, versioned by its content so browsers never keep a stale copy."""
    file = STATIC_DIR / path
    version = hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "missing"
    return f"{STATIC_PATH}/{path}?v={version}"


templates = Jinja2Templates(directory=WEB / "templates")
templates.env.filters.update(
    kw=format_kw, utc=format_time, rel=relative, pretty=pretty_json, secs=seconds
)
templates.env.globals.update(static=static_url, product=PRODUCT, tone=tone, refresh=REFRESH_SECONDS)


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> Response:
    return templates.TemplateResponse(request, name, dict(context or {}), status_code=status)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    """A designed error page: what failed, why, and where to go next."""
    return render(
        request, "error.html", {"status": status, "title": title, "message": message}, status=status
    )
