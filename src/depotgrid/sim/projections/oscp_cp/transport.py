"""The HTTP transport for deliveries to Flexibility Providers: HTTP/1.1 (h11) over asyncio
streams, with a pool of idle keep-alive connections per origin.

Why not httpx's default transport: every heartbeat of every session is one small POST to the
same few origins, hundreds a second, and httpcore's pool costs about 2 ms of CPU per request
(per-request anyio locks and pool bookkeeping) where this costs about 0.3 ms. Concurrency is
bounded by the caller (`Outbound`), not here.

Failures are raised as httpx's own exceptions (`ConnectError`, `ReadTimeout`,
`RemoteProtocolError`, ...), so `AsyncOscpClient` reports them like any other transport's. A
request that finds its reused connection already closed by the peer, before any byte of an
answer, is sent once more on a new connection (the peer closed an idle keep-alive connection;
the request never reached it).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import h11
import httpx

T = TypeVar("T")
Origin = tuple[str, str, int]
READ_SIZE = 65536
DEFAULT_PORTS = {"http": 80, "https": 443}


class _Stale(Exception):
    """A reused connection turned out closed before any answer arrived."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False
    protocol: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_idle_per_origin: int = 64) -> None:
        self._max_idle = max_idle_per_origin
        self._idle: dict[Origin, list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = _origin(request.url)
        timeouts = request.extensions.get("timeout", {})
        body = await request.aread()
        connection = await self._connection(origin, timeouts.get("connect"))
        try:
            return await self._exchange(origin, connection, request, body, timeouts)
        except _Stale:
            connection = await self._connect(origin, timeouts.get("connect"))
            return await self._exchange(origin, connection, request, body, timeouts)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _connection(self, origin: Origin, timeout: float | None) -> _Connection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        return await self._connect(origin, timeout)

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        tls = self._tls_context() if scheme == "https" else None
        try:
            reader, writer = await _within(
                timeout,
                asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
                httpx.ConnectTimeout,
            )
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(reader, writer)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    async def _exchange(
        self,
        origin: Origin,
        connection: _Connection,
        request: httpx.Request,
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        """One request and its whole answer; the connection goes back to the pool if both
        sides left it reusable, and is closed otherwise."""
        keep = False
        try:
            await self._send(connection, request, body, timeouts.get("write"))
            response = await self._receive(connection, timeouts.get("read"))
            keep = _reusable(connection.protocol)
            return response
        finally:
            if keep:
                self._park(origin, connection)
            else:
                connection.close()

    async def _send(
        self, connection: _Connection, request: httpx.Request, body: bytes, timeout: float | None
    ) -> None:
        protocol = connection.protocol
        head = h11.Request(
            method=request.method, target=request.url.raw_path, headers=list(request.headers.raw)
        )
        events = (
            [head, h11.Data(data=body), h11.EndOfMessage()] if body else [head, h11.EndOfMessage()]
        )
        try:
            data = b"".join(protocol.send(event) or b"" for event in events)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        try:
            connection.writer.write(data)
            await _within(timeout, connection.writer.drain(), httpx.WriteTimeout)
        except OSError as exc:
            if connection.reused:
                raise _Stale from exc
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    async def _receive(self, connection: _Connection, timeout: float | None) -> httpx.Response:
        protocol = connection.protocol
        answer: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            try:
                event = protocol.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is h11.NEED_DATA:
                data = await self._read(connection, timeout, answered=answer is not None)
                protocol.receive_data(data)
            elif isinstance(event, h11.Response):
                answer = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("the server closed the connection mid-answer")
        assert answer is not None
        return httpx.Response(
            answer.status_code,
            headers=list(answer.headers),
            content=b"".join(chunks),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def _read(
        self, connection: _Connection, timeout: float | None, *, answered: bool
    ) -> bytes:
        try:
            data = await _within(timeout, connection.reader.read(READ_SIZE), httpx.ReadTimeout)
        except OSError as exc:
            if connection.reused and not answered:
                raise _Stale from exc
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        if not data and connection.reused and not answered:
            raise _Stale
        if not data and not answered:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return data

    def _park(self, origin: Origin, connection: _Connection) -> None:
        connection.protocol.start_next_cycle()
        idle = self._idle.setdefault(origin, [])
        if len(idle) < self._max_idle:
            idle.append(connection)
        else:
            connection.close()


def _origin(url: httpx.URL) -> Origin:
    if url.scheme not in DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
    return url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme]


def _reusable(protocol: h11.Connection) -> bool:
    return protocol.our_state is h11.DONE and protocol.their_state is h11.DONE


async def _within(
    seconds: float | None, work: Awaitable[T], error: type[httpx.TimeoutException]
) -> T:
    """Await `work`, raising httpx's `error` if it takes longer than `seconds` (None: no limit)."""
    try:
        async with asyncio.timeout(seconds):
            return await work
    except TimeoutError as exc:
        raise error(f"no progress within {seconds} s") from exc
