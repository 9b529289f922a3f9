"""OscpClient against a real local HTTP server that records what it receives."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from depotgrid.oscp.client import AsyncOscpClient, DeliveryResult, OscpClient
from depotgrid.oscp.messages import (
    ForecastedBlock,
    OscpPayloadError,
    UpdateGroupCapacityForecast,
    UpdateGroupMeasurements,
)
from tests.depotgrid.oscp.examples import EXAMPLES, FORECAST, HEARTBEAT


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 204
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Peer:
    """A tiny OSCP peer on a free loopback port: records requests, answers per path (204)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: dict[str, Reply] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/oscp/fp/2.0"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                peer.received.append(
                    Received("POST", self.path, httpx.Headers(list(self.headers.items())), body)
                )
                reply = peer.replies.get(self.path, Reply())
                time.sleep(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client() -> Iterator[OscpClient]:
    with httpx.Client() as http:
        yield OscpClient(http)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_delivers_the_wire_payload_with_the_protocol_headers(
    peer: Peer, client: OscpClient
) -> None:
    result = client.send(
        peer.base_url,
        FORECAST,
        token="peer-issued-token",
        request_id="5b0e6c1e-2f4e-4c1e-9a53-0b8e2f5d9a01",
        static_headers={"X-OSCP-Configuration-ID": "cfg-42"},
    )
    assert result.ok and result.status_code == 204 and result.error_text is None
    assert result.elapsed.total_seconds() > 0
    assert result.url == f"{peer.base_url}/update_group_capacity_forecast"
    [request] = peer.received
    assert request.path == "/oscp/fp/2.0/update_group_capacity_forecast"
    assert request.headers["Authorization"] == "Token peer-issued-token"
    assert request.headers["X-Request-ID"] == "5b0e6c1e-2f4e-4c1e-9a53-0b8e2f5d9a01"
    assert request.headers["X-OSCP-Configuration-ID"] == "cfg-42"
    assert request.headers["Content-Type"] == "application/json"
    assert "X-Correlation-ID" not in request.headers
    assert json.loads(request.body) == FORECAST.to_wire()


def test_correlation_id_and_bearer_are_sent(peer: Peer, client: OscpClient) -> None:
    ack = EXAMPLES["HandshakeAcknowledge"]
    result = client.send(
        peer.base_url, ack, bearer="eyJ.access.token", request_id="req-2", correlation_id="req-1"
    )
    assert result.ok
    [request] = peer.received
    assert request.path.endswith("/handshake_acknowledge")
    assert request.headers["Authorization"] == "Bearer eyJ.access.token"
    assert request.headers["X-Correlation-ID"] == "req-1"


def test_a_per_peer_path_override_is_used(peer: Peer, client: OscpClient) -> None:
    client.send(peer.base_url, HEARTBEAT, token="t", request_id="r", path="alt/heartbeat")
    assert peer.received[0].path == "/oscp/fp/2.0/alt/heartbeat"


def test_other_2xx_counts_as_delivered(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/heartbeat"] = Reply(200, b"{}")
    result = client.send(peer.base_url, HEARTBEAT, token="t", request_id="r")
    assert result.ok and result.status_code == 200


def test_4xx_is_not_ok_with_the_oscp_error_message(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/update_group_capacity_forecast"] = Reply(
        404,
        b'{"message": "unknown group_id depot-north-grid"}',
        {"Content-Type": "application/json"},
    )
    result = client.send(peer.base_url, FORECAST, token="t", request_id="r")
    assert not result.ok and result.status_code == 404
    assert result.error_text == "HTTP 404: unknown group_id depot-north-grid"


def test_error_text_falls_back_to_the_reason_header_or_body(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/register"] = Reply(
        501, headers={"X-Error-Message": "no 2.0 version"}
    )
    peer.replies["/oscp/fp/2.0/heartbeat"] = Reply(403, b"Forbidden: bad token")
    register = client.send(peer.base_url, EXAMPLES["Register"], token="t", request_id="r1")
    heartbeat = client.send(peer.base_url, HEARTBEAT, token="t", request_id="r2")
    assert register.error_text == "HTTP 501: no 2.0 version"
    assert heartbeat.error_text == "HTTP 403: Forbidden: bad token"


def test_error_without_body_reports_the_reason_phrase(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/heartbeat"] = Reply(401)
    result = client.send(peer.base_url, HEARTBEAT, token="t", request_id="r")
    assert result.error_text == "HTTP 401: Unauthorized"


def test_never_retries_and_never_follows_redirects(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/heartbeat"] = Reply(503, b"busy")
    peer.replies["/oscp/fp/2.0/register"] = Reply(307, headers={"Location": "/elsewhere"})
    assert client.send(peer.base_url, HEARTBEAT, token="t", request_id="r").status_code == 503
    assert (
        client.send(peer.base_url, EXAMPLES["Register"], token="t", request_id="r").status_code
        == 307
    )
    assert [request.path for request in peer.received] == [
        "/oscp/fp/2.0/heartbeat",
        "/oscp/fp/2.0/register",
    ]


def test_connection_refused_gives_no_status(client: OscpClient) -> None:
    base_url = f"http://127.0.0.1:{_free_port()}/oscp/fp/2.0"
    result = client.send(base_url, HEARTBEAT, token="t", request_id="r")
    assert result == DeliveryResult(
        url=f"{base_url}/heartbeat",
        request_id="r",
        status_code=None,
        ok=False,
        error_text=result.error_text,
        elapsed=result.elapsed,
    )
    assert result.error_text is not None and result.error_text.startswith("ConnectError")


def test_timeout_gives_no_status(peer: Peer, client: OscpClient) -> None:
    peer.replies["/oscp/fp/2.0/heartbeat"] = Reply(delay_s=1.0)
    result = client.send(peer.base_url, HEARTBEAT, token="t", request_id="r", timeout=0.2)
    assert result.status_code is None and not result.ok
    assert result.error_text is not None and "Timeout" in result.error_text


def test_a_malformed_base_url_gives_no_status(client: OscpClient) -> None:
    result = client.send("not a url", HEARTBEAT, token="t", request_id="r")
    assert result.status_code is None and not result.ok


def test_invalid_outbound_messages_are_refused_before_any_request(
    peer: Peer, client: OscpClient
) -> None:
    empty = UpdateGroupMeasurements(group_id="depot-north-grid", measurements=[])
    with pytest.raises(OscpPayloadError) as caught:
        client.send(peer.base_url, empty, token="t", request_id="r")
    assert caught.value.errors[0].path == "$.measurements"

    block = FORECAST.forecasted_blocks[0].model_dump()
    smuggled = UpdateGroupCapacityForecast.model_construct(
        group_id="g",
        type=FORECAST.type,
        forecasted_blocks=[ForecastedBlock.model_construct(**{**block, "capacity": -5})],
    )
    with pytest.raises(OscpPayloadError) as caught:
        client.send(peer.base_url, smuggled, token="t", request_id="r")
    assert caught.value.errors[0].path == "$.forecasted_blocks[0].capacity"
    assert peer.received == []


@pytest.mark.parametrize(("token", "bearer"), [(None, None), ("t", "b")])
def test_exactly_one_credential_is_required(
    peer: Peer, client: OscpClient, token: str | None, bearer: str | None
) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        client.send(peer.base_url, HEARTBEAT, token=token, bearer=bearer, request_id="r")
    assert peer.received == []


def test_async_client_delivers_the_same_request(peer: Peer) -> None:
    peer.replies["/oscp/fp/2.0/update_group_capacity_forecast"] = Reply(422, b'{"message": "bad"}')

    async def deliver() -> tuple[DeliveryResult, DeliveryResult]:
        async with httpx.AsyncClient() as http:
            client = AsyncOscpClient(http)
            beat = await client.send(peer.base_url, HEARTBEAT, token="t", request_id="a1")
            forecast = await client.send(peer.base_url, FORECAST, token="t", request_id="a2")
            return beat, forecast

    beat, forecast = asyncio.run(deliver())
    assert beat.ok and beat.status_code == 204
    assert not forecast.ok and forecast.error_text == "HTTP 422: bad"
    assert [json.loads(request.body) for request in peer.received] == [
        HEARTBEAT.to_wire(),
        FORECAST.to_wire(),
    ]
    assert peer.received[0].headers["X-Request-ID"] == "a1"
