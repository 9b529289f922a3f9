"""A real HTTP/1.1 receiver on a local port, for delivery tests: it records every request and
answers with a scripted status, on its own thread and event loop so any test (sync or async,
in-process or a subprocess dispatcher) can post to it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes

    @property
    def request_id(self) -> str:
        return self.headers["x-request-id"]

    def json(self) -> object:
        return json.loads(self.body)


Answer = Callable[[Received], int]


def always(status: int) -> Answer:
    return lambda _: status


def failing_first(times: int, status: int = 500) -> Answer:
    """`status` for the first `times` requests of each X-Request-ID, then 204."""
    seen: Counter[str] = Counter()

    def answer(request: Received) -> int:
        seen[request.request_id] += 1
        return status if seen[request.request_id] <= times else 204

    return answer


class Sink:
    def __init__(self, answer: Answer = always(204), delay_seconds: float = 0.0) -> None:
        self.answer = answer
        self.delay_seconds = delay_seconds
        self.received: list[Received] = []

    def request_ids(self) -> list[str]:
        return [request.request_id for request in self.received]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                self.received.append(request)
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                writer.write(_response(self.answer(request)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Received:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    method, path, _ = head[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in head[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, path, headers, body)


def _response(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    if status == 204:
        return f"HTTP/1.1 204 {phrase}\r\n\r\n".encode()
    body = json.dumps({"message": f"sink says {status}"}).encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _cancel_connections() -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@contextmanager
def running(sink: Sink) -> Iterator[str]:
    """Serve `sink` on a free local port until the block ends; yields its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def start() -> None:
        server = await asyncio.start_server(sink.serve, "127.0.0.1", 0, backlog=1024)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()

    def run() -> None:
        loop.run_until_complete(start())
        loop.run_forever()
        loop.run_until_complete(_cancel_connections())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "sink did not start"
    try:
        yield f"http://127.0.0.1:{port[0]}/oscp/cp/2.0"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
