"""What an operator typed for an OSCP configuration: checked field by field, normalized, and
its secrets sealed (stored encrypted, replaced by references) before the aggregate sees them.

`check` names every wrong field with a reason that says how to fix it, so one refused request
lists every problem; `settle` turns checked input into the aggregate's field values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from depotgrid.manage.errors import FieldError
from depotgrid.manage.oscp.configuration import (
    PROFILES,
    PUBLICATION_INTERVALS,
    SUPPORTED_VERSIONS,
    VECTOR,
    AuthKind,
    OAuth2ClientCredentials,
    OscpConfiguration,
    OutboundAuth,
    PublicationMode,
    SecretRef,
    StaticHeaders,
    TokenAuth,
)
from depotgrid.oscp import headers
from depotgrid.oscp.enums import MeasurementConfiguration

MAX_TEXT = 200
MAX_URL = 500
MAX_SECRET = 1000
MAX_HEADERS = 20
MAX_HEADER_VALUE = 1000
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
"""An HTTP field name (RFC 9110 token)."""
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        headers.AUTHORIZATION,
        headers.CONTENT_TYPE,
        headers.REQUEST_ID,
        headers.CORRELATION_ID,
        headers.CONFIGURATION_ID,
        headers.SEGMENT_INDEX,
        headers.SEGMENT_COUNT,
        "Content-Length",
        "Host",
        "Transfer-Encoding",
        "Connection",
    )
)
"""Headers the dispatcher or the HTTP client sets itself; a static header may not replace them."""
REQUIRED = ("group_id", "microgrid_id", "managed_scope_id", "endpoint_base_url")
DEFAULTS: Mapping[str, Any] = {
    "name": None,
    "oscp_version": SUPPORTED_VERSIONS[0],
    "profile": VECTOR.name,
    "reporting_asset_id": None,
}


@dataclass(frozen=True)
class AuthInput:
    """Outbound authentication as typed; a secret left out keeps the current one of its kind."""

    kind: str
    token: str | None = field(default=None, repr=False)
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scope: str | None = None


@dataclass(frozen=True)
class ConfigurationInput:
    """A create or an edit: the plain fields sent, and secrets in plaintext (never stored here).

    `outbound_auth` and `static_headers` are None when not sent: none yet on create, unchanged
    on edit. An empty `static_headers` removes them all.
    """

    fields: Mapping[str, Any]
    outbound_auth: AuthInput | None = None
    static_headers: Mapping[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Checked:
    """A ConfigurationInput that passed validation, normalized."""

    values: dict[str, Any]
    outbound_auth: AuthInput | None
    static_headers: dict[str, str] | None = field(repr=False)


Seal = Callable[[str, str], SecretRef]
"""Stores a secret (purpose, plaintext) encrypted and returns its reference."""


def with_defaults(given: Mapping[str, Any]) -> dict[str, Any]:
    """A new configuration's fields: omitted ones take the defaults and the profile's values."""
    values = dict(DEFAULTS) | {k: v for k, v in given.items() if v is not None}
    profile = PROFILES.get(str(values["profile"]))
    if profile is not None:
        values.setdefault("measurement_publication_mode", profile.measurement_publication_mode)
        values.setdefault("measurement_configuration", profile.measurement_configuration)
        values.setdefault(
            "measurement_publication_interval_seconds",
            profile.measurement_publication_interval_seconds,
        )
    return values


def check(
    given: ConfigurationInput, current: OscpConfiguration | None
) -> tuple[Checked, list[FieldError]]:
    """Normalize what was typed; every field that is wrong gets an error saying how to fix it.

    A create (`current` None) needs every REQUIRED field and takes defaults for the rest.
    """
    raw = with_defaults(given.fields) if current is None else dict(given.fields)
    errors = [
        FieldError(name, "is required")
        for name in REQUIRED
        if current is None and not raw.get(name)
    ]
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if any(e.field == name for e in errors):
            continue
        try:
            values[name] = CHECKS[name](value)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    auth = None
    if given.outbound_auth is not None:
        auth, auth_errors = _check_auth(given.outbound_auth, current)
        errors += auth_errors
    static = None
    if given.static_headers is not None:
        static, header_errors = _check_headers(given.static_headers)
        errors += header_errors
    return Checked(values, auth, static), errors


def settle(checked: Checked, current: OscpConfiguration | None, seal: Seal) -> dict[str, Any]:
    """The checked values with new secrets sealed: what the configuration holds after this."""
    values = dict(checked.values)
    if checked.outbound_auth is not None:
        values["outbound_auth"] = _outbound_auth(
            checked.outbound_auth, current.outbound_auth if current else None, seal
        )
    elif current is None:
        values["outbound_auth"] = None
    if checked.static_headers is not None:
        values["static_headers"] = _static_headers(checked.static_headers, seal)
    elif current is None:
        values["static_headers"] = StaticHeaders()
    return values


# --- Field checks: each returns the normalized value or raises ValueError(how to fix it) -------


def _text(value: Any, *, limit: int = MAX_TEXT) -> str:
    if value is None:
        raise ValueError("is required")
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > limit:
        raise ValueError(f"use at most {limit} characters (this has {len(text)})")
    if not text.isprintable():
        raise ValueError("must not contain control characters such as line breaks or tabs")
    return text


def _optional_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, str) and not value.strip()) else _text(value)


def _url(value: Any) -> str:
    text = _text(value, limit=MAX_URL)
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password: put credentials in outbound_auth")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query (?…) or fragment (#…)")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _version(value: Any) -> str:
    if value not in SUPPORTED_VERSIONS:
        raise ValueError(f"'{value}' is not supported: only OSCP \"2.0\" is")
    return str(value)


def _profile(value: Any) -> str:
    if value not in PROFILES:
        raise ValueError(f"must be one of: {', '.join(PROFILES)}")
    return str(value)


def _mode(value: Any) -> PublicationMode:
    try:
        return PublicationMode(value)
    except ValueError:
        raise ValueError("must be GROUP or ASSET") from None


def _measurement_configuration(value: Any) -> MeasurementConfiguration:
    try:
        return MeasurementConfiguration(value)
    except ValueError:
        raise ValueError("must be CONTINUOUS or INTERMITTENT") from None


def _interval(value: Any) -> int:
    if isinstance(value, bool) or value not in PUBLICATION_INTERVALS:
        raise ValueError(
            "must be a whole number of minutes that divides the hour, in seconds: one of "
            + ", ".join(str(s) for s in PUBLICATION_INTERVALS)
        )
    return int(value)


CHECKS: Mapping[str, Callable[[Any], Any]] = {
    "name": _optional_text,
    "group_id": _text,
    "microgrid_id": _text,
    "managed_scope_id": _text,
    "endpoint_base_url": _url,
    "oscp_version": _version,
    "profile": _profile,
    "measurement_publication_mode": _mode,
    "measurement_configuration": _measurement_configuration,
    "measurement_publication_interval_seconds": _interval,
    "reporting_asset_id": _optional_text,
}


def _check_auth(
    given: AuthInput, current: OscpConfiguration | None
) -> tuple[AuthInput | None, list[FieldError]]:
    try:
        kind = AuthKind(given.kind)
    except ValueError:
        reason = f"must be one of: {', '.join(k.value for k in AuthKind)}"
        return None, [FieldError("outbound_auth.kind", reason)]
    existing = current.outbound_auth if current else None
    keeps_secret = existing is not None and existing.kind is kind
    checks: dict[str, Callable[[Any], Any]]
    if kind is AuthKind.TOKEN:
        checks = {"token": _secret_check(_token, keeps_secret)}
    else:
        checks = {
            "token_url": _url,
            "client_id": _text,
            "client_secret": _secret_check(_secret, keeps_secret),
            "scope": _optional_text,
        }
    errors: list[FieldError] = []
    normalized: dict[str, Any] = {}
    for name in ("token", "token_url", "client_id", "client_secret", "scope"):
        value = getattr(given, name)
        if name not in checks:
            if value is not None:
                errors.append(FieldError(f"outbound_auth.{name}", f"is not used with kind {kind}"))
            continue
        try:
            normalized[name] = checks[name](value)
        except ValueError as exc:
            errors.append(FieldError(f"outbound_auth.{name}", str(exc)))
    return AuthInput(kind.value, **normalized), errors


def _secret_check(check_value: Callable[[Any], str], may_keep: bool) -> Callable[[Any], str | None]:
    """A secret may be left out only to keep the one already stored for the same kind."""

    def checked(value: Any) -> str | None:
        if value is None and may_keep:
            return None
        if value is None:
            raise ValueError("is required")
        return check_value(value)

    return checked


def _token(value: Any) -> str:
    token = _secret(value)
    if any(char.isspace() for char in token):
        raise ValueError("must not contain spaces: it is sent as 'Authorization: Token <token>'")
    return token


def _secret(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_SECRET:
        raise ValueError(f"use at most {MAX_SECRET} characters")
    if not value.isprintable():
        raise ValueError("must not contain control characters such as line breaks")
    return value


def _check_headers(given: Mapping[str, str]) -> tuple[dict[str, str], list[FieldError]]:
    errors: list[FieldError] = []
    if len(given) > MAX_HEADERS:
        errors.append(FieldError("static_headers", f"use at most {MAX_HEADERS} headers"))
    seen: set[str] = set()
    for name, value in given.items():
        where = f"static_headers.{name}"
        if not HEADER_NAME.match(name):
            errors.append(
                FieldError(where, "is not a valid header name: use letters, digits and - only")
            )
        elif name.lower() in RESERVED_HEADERS:
            errors.append(FieldError(where, "is set by depotgrid itself and cannot be overridden"))
        elif name.lower() in seen:
            errors.append(FieldError(where, "is given twice (header names ignore case)"))
        seen.add(name.lower())
        if len(value) > MAX_HEADER_VALUE or not value.isprintable():
            errors.append(
                FieldError(
                    where,
                    f"needs a single-line value of at most {MAX_HEADER_VALUE} characters",
                )
            )
    return dict(given), errors


def _outbound_auth(given: AuthInput, existing: OutboundAuth | None, seal: Seal) -> OutboundAuth:
    if given.kind == AuthKind.TOKEN:
        kept = existing.token if isinstance(existing, TokenAuth) else None
        token = seal("outbound_token", given.token) if given.token is not None else kept
        assert token is not None, "checked: a token is given or kept"
        return TokenAuth(token)
    kept = existing.client_secret if isinstance(existing, OAuth2ClientCredentials) else None
    secret = (
        seal("oauth2_client_secret", given.client_secret)
        if given.client_secret is not None
        else kept
    )
    assert secret is not None and given.token_url and given.client_id, "checked"
    return OAuth2ClientCredentials(given.token_url, given.client_id, secret, given.scope)


def _static_headers(given: Mapping[str, str], seal: Seal) -> StaticHeaders:
    if not given:
        return StaticHeaders()
    return StaticHeaders(tuple(given), seal("static_headers", json.dumps(dict(given))))
