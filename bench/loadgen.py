"""A small keep-alive HTTP/1.1 load generator: N concurrent connections, each request timed.

Raw asyncio streams keep the client's own cost low, so the figures describe the server.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


RequestFactory = Callable[[int], bytes]


def request_bytes(
    method: str, path: str, host: str, *, token: str | None = None, body: bytes = b""
) -> bytes:
    headers = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    if body or method in ("POST", "PATCH", "PUT"):
        headers += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str,
    port: int,
    make: RequestFactory,
    worker: int,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    try:
        while time.perf_counter() < deadline:
            payload = make(worker * 1_000_000 + n)
            n += 1
            started = time.perf_counter()
            writer.write(payload)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            if status >= 400:
                errors.append(status)
    finally:
        writer.close()


async def run(
    name: str, host: str, port: int, make: RequestFactory, *, clients: int, seconds: float
) -> Result:
    """Drive `clients` connections for `seconds`; every response is timed and its status checked."""
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(host, port, make, w, deadline, latencies, errors) for w in range(clients))
    )
    elapsed = time.perf_counter() - started
    return Result(name, len(latencies), len(errors), elapsed, latencies)
