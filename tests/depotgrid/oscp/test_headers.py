"""Authorization parsing (Token, Bearer, malformed) and outbound header construction."""

from __future__ import annotations

import pytest

from depotgrid.oscp import headers
from depotgrid.oscp.headers import (
    AuthScheme,
    Credentials,
    outbound_headers,
    parse_authorization,
    parse_bearer_authorization,
    parse_token_authorization,
)


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Token abc123", "abc123"),
        ("Token   abc+/=123==", "abc+/=123=="),
        ("token abc123", "abc123"),  # lenient on receipt (PROTOCOL.md §8.10)
        ("TOKEN abc123", "abc123"),
        ("  Token abc123  ", "abc123"),
    ],
)
def test_token_scheme_gives_the_token(value: str, token: str) -> None:
    assert parse_token_authorization(value) == token
    assert parse_bearer_authorization(value) is None


@pytest.mark.parametrize("value", ["Bearer eyJhbGciOi.x.y", "bearer eyJhbGciOi.x.y"])
def test_bearer_is_told_apart_from_token(value: str) -> None:
    assert parse_token_authorization(value) is None
    assert parse_bearer_authorization(value) == "eyJhbGciOi.x.y"
    assert parse_authorization(value) == Credentials(AuthScheme.BEARER, "eyJhbGciOi.x.y")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Token",
        "Token ",
        "abc123",
        "Basic dXNlcjpwYXNz",
        "Token a b",
        "Tokenabc",
        "Token\nabc",
    ],
)
def test_missing_or_malformed_authorization_gives_none(value: str | None) -> None:
    assert parse_token_authorization(value) is None
    assert parse_bearer_authorization(value) is None


def test_credentials_never_show_their_secret() -> None:
    assert "s3cret" not in repr(Credentials(AuthScheme.TOKEN, "s3cret"))


def test_outbound_headers_spell_the_token_scheme_exactly() -> None:
    assert outbound_headers("tok", "req-1") == {
        "Authorization": "Token tok",
        "Content-Type": "application/json",
        "X-Request-ID": "req-1",
    }


def test_outbound_headers_carry_correlation_bearer_and_extras() -> None:
    sent = outbound_headers(
        Credentials(AuthScheme.BEARER, "jwt"),
        "req-2",
        correlation_id="req-1",
        extra={headers.CONFIGURATION_ID: "cfg-9", "X-Partner": "vector"},
    )
    assert sent[headers.AUTHORIZATION] == "Bearer jwt"
    assert sent[headers.CORRELATION_ID] == "req-1"
    assert sent[headers.CONFIGURATION_ID] == "cfg-9"
    assert sent["X-Partner"] == "vector"


@pytest.mark.parametrize(
    "name", ["authorization", "X-Request-ID", "x-correlation-id", "content-type"]
)
def test_extra_headers_cannot_override_protocol_headers(name: str) -> None:
    with pytest.raises(ValueError, match="may not set"):
        outbound_headers("tok", "req-1", extra={name: "x"})


@pytest.mark.parametrize(
    ("token", "request_id", "correlation_id"),
    [("", "req", None), ("a b", "req", None), ("tok", "", None), ("tok", "req", "a\r\nb")],
)
def test_unusable_header_values_are_refused(
    token: str, request_id: str, correlation_id: str | None
) -> None:
    with pytest.raises(ValueError):
        outbound_headers(token, request_id, correlation_id)
