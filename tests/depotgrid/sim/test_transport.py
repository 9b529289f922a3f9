"""sim's keep-alive HTTP transport for deliveries to Flexibility Providers: connections are
reused, one the peer closed while idle is replaced, failures are httpx's exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from depotgrid.sim.projections.oscp_cp.transport import KeepAliveTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def peer(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


def answering(connections: list[int], *, close_after_each: bool) -> Handler:
    """A peer answering 204 to every request (closing the connection after each if asked),
    counting the connections it accepted."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while not reader.at_eof():
                await read_request(reader)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
                if close_after_each:
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return handle


async def post(client: httpx.AsyncClient, url: str) -> int:
    answer = await client.post(f"{url}/oscp/fp/2.0/heartbeat", content=b'{"a":1}')
    return answer.status_code


def test_requests_reuse_one_kept_alive_connection() -> None:
    asyncio.run(_reuse())


def test_a_connection_the_peer_closed_while_idle_is_replaced() -> None:
    asyncio.run(_replace())


def test_failures_are_httpx_exceptions() -> None:
    asyncio.run(_failures())


async def _reuse() -> None:
    connections: list[int] = []
    async with (
        peer(answering(connections, close_after_each=False)) as url,
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        assert [await post(client, url) for _ in range(5)] == [204] * 5
    assert len(connections) == 1


async def _replace() -> None:
    connections: list[int] = []
    async with (
        peer(answering(connections, close_after_each=True)) as url,
        httpx.AsyncClient(transport=KeepAliveTransport()) as client,
    ):
        for _ in range(3):
            assert await post(client, url) == 204
            await asyncio.sleep(0.05)  # let the close arrive while the connection is idle
        assert await post(client, url) == 204  # and once with no pause at all
    assert len(connections) == 4


async def _failures() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async with (
        peer(silent) as url,
        httpx.AsyncClient(transport=KeepAliveTransport(), timeout=0.2) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await post(client, url)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(transport=KeepAliveTransport()) as client:
            await post(client, "http://127.0.0.1:9")
