"""How many concurrent OSCP CP sessions one sim process holds with heartbeats both ways, and how
many ledger writes per second it makes.

    uv run python bench/sim_oscp.py                      # 1,000 sessions, 5 s heartbeats, 60 s
    uv run python bench/sim_oscp.py --sweep 500,1000,1500,2000 --duration 45
    uv run python bench/sim_oscp.py --database-url postgresql+psycopg://postgres@127.0.0.1/simbench

For each size N: a fresh sim process (`python -m depotgrid.cli sim serve`, SQLite in a temporary
data dir unless --database-url) and, in this process, a fast Flexibility Provider double (a bare
ASGI app on uvicorn) that acknowledges handshakes, answers 204 and sends its own heartbeats.
Every session is brought online by a CP-initiated handshake asking for heartbeats every
`--interval` seconds both ways. After a warm-up, for `--duration` seconds:

- CP -> FP: the double records every heartbeat's arrival. A *missed deadline* is a heartbeat
  that arrives after the `offline_mode_at` of the one before (the FP would have judged the CP
  offline); the gaps between beats are reported too.
- FP -> CP: each session sends a heartbeat every interval, staggered; a *missed deadline* is an
  answer other than 204, or the CP marking the session offline (its liveness expired).
- ledger: rows appended per second, and writes per second (outbound entries are written twice:
  pending, then final).

It ends with a direct measurement of the ledger's write capacity (append then finalize, one
transaction each, as the outbound path does). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

CONFIGURATION = {
    "name": "bench",
    "topology": {
        "nodes": [
            {"id": "site", "parent_id": None, "kind": "SITE"},
            {"id": "grid-1", "parent_id": "site", "kind": "GRID_CONNECTION", "rating_kw": 500},
        ]
    },
    "managed_scopes": [{"id": "scope-grid-1", "node_id": "grid-1"}],
    "projection_bindings": [{"managed_scope_id": "scope-grid-1", "group_id": "group-1"}],
}
FP_TOKEN = "bench-fp-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Peer:
    cp_token: str
    beats: list[tuple[float, float, float]] = field(default_factory=list)
    """(arrival monotonic, arrival epoch, offline_mode_at epoch) of each CP heartbeat."""


class FastFp:
    """A bare ASGI Flexibility Provider double: records heartbeats, acknowledges handshakes."""

    def __init__(self, cp_base: str) -> None:
        self.cp_base = cp_base
        self.peers: dict[str, Peer] = {}
        self.client: httpx.AsyncClient | None = None
        self.gate = asyncio.Semaphore(64)
        self.received = 0
        self.pending: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        endpoint = scope["path"].rsplit("/", 1)[-1]
        configuration_id = headers.get("x-oscp-configuration-id", "")
        self.received += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        peer = self.peers.get(configuration_id)
        if peer is None:
            return
        if endpoint == "heartbeat":
            offline = datetime.fromisoformat(
                json.loads(body)["offline_mode_at"].replace("Z", "+00:00")
            )
            peer.beats.append((time.monotonic(), time.time(), offline.timestamp()))
        elif endpoint == "handshake":
            task = asyncio.create_task(
                self._acknowledge(configuration_id, peer, headers["x-request-id"])
            )
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    async def _acknowledge(self, configuration_id: str, peer: Peer, correlation: str) -> None:
        assert self.client is not None
        async with self.gate:
            await self._post_ack(configuration_id, peer, correlation)

    async def _post_ack(self, configuration_id: str, peer: Peer, correlation: str) -> None:
        assert self.client is not None
        await self.client.post(
            f"{self.cp_base}/handshake_acknowledge",
            json={"required_behaviour": {"measurement_configuration": []}},
            headers={
                "Authorization": f"Token {peer.cp_token}",
                "X-Request-ID": str(uuid.uuid4()),
                "X-Correlation-ID": correlation,
                "X-OSCP-Configuration-ID": configuration_id,
            },
        )


async def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"sim exited with {process.returncode}")
            try:
                if (await client.get(f"{url}/readyz", timeout=1)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("sim did not become ready")


async def gather_limited(limit: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(j) for j in jobs))


@dataclass
class Result:
    sessions: int
    online_at_end: int
    cp_beats: int
    cp_missed: int
    cp_gap_p50: float
    cp_gap_p99: float
    cp_gap_max: float
    fp_beats: int
    fp_failed: int
    fp_latency_p50_ms: float
    fp_latency_p99_ms: float
    ledger_rows_per_s: float
    ledger_writes_per_s: float


async def run_size(n: int, args: argparse.Namespace) -> Result:
    data_dir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    sim_port, fp_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(data_dir), "DEPOTGRID_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DEPOTGRID_SIM_DATABASE_URL"] = args.database_url
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    process = subprocess.Popen(
        [sys.executable, *profile, "-m", "depotgrid.cli", "sim", "serve", "--port", str(sim_port)],
        env=env,
        stdout=(data_dir / "sim.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    fp = FastFp(f"{sim_url}/oscp/cp/2.0")
    server = uvicorn.Server(
        uvicorn.Config(fp, host="127.0.0.1", port=fp_port, log_level="error", access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    # httpcore's pool slows down badly with many queued requests: keep the queues in semaphores.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    retrying = httpx.AsyncHTTPTransport(limits=limits, retries=3)
    try:
        await wait_ready(sim_url, process)
        async with (
            httpx.AsyncClient(base_url=sim_url, timeout=60, transport=retrying) as sim,
            httpx.AsyncClient(base_url=sim_url, timeout=60, limits=limits) as fp_out,
        ):
            fp.client = fp_out
            control_gate = asyncio.Semaphore(16)
            configuration = (
                await sim.post("/simulation-configurations", json=CONFIGURATION)
            ).json()
            run = (
                await sim.post(
                    "/simulation-runs",
                    json={"configuration_id": configuration["id"], "configuration_version": 1},
                )
            ).json()
            await sim.post(f"/simulation-runs/{run['id']}/commands/start")
            sessions = f"/simulation-runs/{run['id']}/oscp-sessions"

            async def create(index: int) -> tuple[str, str]:
                configuration_id = f"bench-{index:05d}"
                created = await sim.post(
                    sessions,
                    json={
                        "managed_scope_id": "scope-grid-1",
                        "betterfleet_base_url": f"http://127.0.0.1:{fp_port}/oscp/fp/2.0",
                        "remote_configuration_id": configuration_id,
                        "fp_token": FP_TOKEN,
                    },
                )
                body = created.json()
                fp.peers[configuration_id] = Peer(body["cp_token"])
                return configuration_id, body["session_id"]

            made = await gather_limited(32, [create(i) for i in range(n)])
            latencies: list[float] = []
            failures = 0
            sent = 0
            window_start = float("inf")
            stop = float("inf")

            async def beat(configuration_id: str, session_id: str, offset: float) -> None:
                """Hand-shake the session, then heartbeat every interval until `stop`."""
                nonlocal failures, sent
                await asyncio.sleep(offset)
                async with control_gate:
                    await sim.post(
                        f"{sessions}/{session_id}/commands/send-handshake",
                        json={"heartbeat_interval_seconds": args.interval},
                    )
                peer = fp.peers[configuration_id]
                next_at = time.monotonic()
                while next_at < stop:
                    offline = datetime.now(UTC) + timedelta(seconds=2 * args.interval + 1)
                    started = time.monotonic()
                    try:
                        async with fp.gate:
                            answer = await fp_out.post(
                                "/oscp/cp/2.0/heartbeat",
                                content=json.dumps({"offline_mode_at": iso(offline)}),
                                headers={
                                    "Authorization": f"Token {peer.cp_token}",
                                    "X-Request-ID": str(uuid.uuid4()),
                                    "X-OSCP-Configuration-ID": configuration_id,
                                    "Content-Type": "application/json",
                                },
                            )
                        ok = answer.status_code == 204
                    except httpx.HTTPError:
                        ok = False
                    if window_start <= started < stop:
                        sent += 1
                        latencies.append((time.monotonic() - started) * 1000)
                        failures += 0 if ok else 1
                    next_at += args.interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))

            ramp = max(args.interval, n / args.ramp_rate)
            senders = [
                asyncio.create_task(beat(c, sid, ramp * i / n)) for i, (c, sid) in enumerate(made)
            ]
            await asyncio.sleep(ramp)
            for _ in range(600):
                states = [
                    s["state"]
                    for s in (await sim.get(f"/simulation-runs/{run['id']}")).json()[
                        "oscp_sessions"
                    ]
                ]
                if states.count("online") == n:
                    break
                await asyncio.sleep(1)
            else:
                print(
                    f"  only {states.count('online')} of {n} sessions came online; log: {data_dir}"
                )
            window_start = time.monotonic() + args.warmup
            stop = window_start + args.duration

            async def ledger_total() -> int:
                found = await sim.get("/oscp-messages", params={"limit": 1})
                return int(found.json()["total"])

            async def outbound_total() -> int:
                found = await sim.get(
                    "/oscp-messages", params={"limit": 1, "direction": "outbound"}
                )
                return int(found.json()["total"])

            await asyncio.sleep(args.warmup)
            rows_start, outbound_start, t_start = (
                await ledger_total(),
                await outbound_total(),
                time.monotonic(),
            )
            await asyncio.sleep(args.duration)
            rows_end, outbound_end, t_end = (
                await ledger_total(),
                await outbound_total(),
                time.monotonic(),
            )
            await asyncio.gather(*senders)
            final = (await sim.get(f"/simulation-runs/{run['id']}")).json()["oscp_sessions"]
    finally:
        server.should_exit = True
        await serving
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()

    gaps: list[float] = []
    missed = 0
    beats = 0
    for peer in fp.peers.values():
        window = [beat for beat in peer.beats if window_start <= beat[0] <= stop]
        beats += len(window)
        for (before_at, _, before_deadline), (at, arrived, _) in itertools.pairwise(window):
            gaps.append(at - before_at)
            missed += arrived > before_deadline
    seconds = t_end - t_start
    rows = rows_end - rows_start
    outbound = outbound_end - outbound_start
    quantiles = statistics.quantiles(gaps, n=100) if len(gaps) > 1 else [0.0] * 99
    lat = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(
        sessions=n,
        online_at_end=sum(1 for s in final if s["state"] == "online"),
        cp_beats=beats,
        cp_missed=missed,
        cp_gap_p50=quantiles[49],
        cp_gap_p99=quantiles[98],
        cp_gap_max=max(gaps, default=0.0),
        fp_beats=sent,
        fp_failed=failures,
        fp_latency_p50_ms=lat[49],
        fp_latency_p99_ms=lat[98],
        ledger_rows_per_s=rows / seconds,
        ledger_writes_per_s=(rows + outbound) / seconds,
    )


def ledger_capacity(database_url: str | None, entries: int = 3000) -> float:
    """Ledger writes per second, one transaction each: append pending, then finalize."""
    from depotgrid.sim.db.engine import make_engine
    from depotgrid.sim.db.migrate import upgrade
    from depotgrid.sim.projections.oscp_cp.ledger import LedgerEntry
    from depotgrid.sim.unit_of_work import SimUnitOfWorkFactory

    url = database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    uows = SimUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for _ in range(entries):
        entry = LedgerEntry(
            id=str(uuid.uuid4()),
            session_id="s",
            run_id="r",
            direction="outbound",
            message_type="Heartbeat",
            endpoint="heartbeat",
            url="http://fp/heartbeat",
            request_id=str(uuid.uuid4()),
            correlation_id=None,
            headers={"Authorization": "Token …abcd", "X-Request-ID": "x"},
            body={"offline_mode_at": "2026-04-02T10:00:11Z"},
            outcome="pending",
            http_status=None,
            validation_errors=[],
            reason=None,
            forced=False,
            override_mode=None,
            logical_at=now,
            wall_at=now,
        )
        with uows.write() as uow:
            uow.ledger.append(entry)
            uow.commit()
        with uows.write() as uow:
            uow.ledger.finalize(
                entry.id,
                outcome="accepted",
                http_status=204,
                reason=None,
                logical_at=now,
                wall_at=now,
                duration_ms=1.0,
            )
            uow.commit()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return 2 * entries / elapsed


def main() -> None:
    # `timeout` and CI send SIGTERM: unwind so the sim process started here is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--sweep", type=str, default="", help="comma-separated session counts")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument(
        "--ramp-rate", type=float, default=50.0, help="sessions brought online per second"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", default="", help="write a cProfile of the sim process here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sweep.split(",") if s] or [args.sessions]
    print(
        f"sim OSCP bench: heartbeats every {args.interval:g} s both ways, "
        f"{args.duration:g} s measured after {args.warmup:g} s warm-up, "
        f"database {'SQLite' if not args.database_url else args.database_url}"
    )
    header = (
        f"{'sessions':>8} {'online':>6} | {'CP beats':>8} {'missed':>6} {'gap p50':>7} {'p99':>6} "
        f"{'max':>6} | {'FP beats':>8} {'failed':>6} {'p50 ms':>7} {'p99 ms':>7} | "
        f"{'rows/s':>7} {'writes/s':>8}"
    )
    print(header)
    for n in sizes:
        r = asyncio.run(run_size(n, args))
        print(
            f"{r.sessions:>8} {r.online_at_end:>6} | {r.cp_beats:>8} {r.cp_missed:>6} "
            f"{r.cp_gap_p50:>7.2f} {r.cp_gap_p99:>6.2f} {r.cp_gap_max:>6.2f} | {r.fp_beats:>8} "
            f"{r.fp_failed:>6} {r.fp_latency_p50_ms:>7.1f} {r.fp_latency_p99_ms:>7.1f} | "
            f"{r.ledger_rows_per_s:>7.0f} {r.ledger_writes_per_s:>8.0f}",
            flush=True,
        )
    capacity = ledger_capacity(args.database_url)
    print(
        f"ledger write capacity (append + finalize, one transaction each): {capacity:,.0f} writes/s"
    )


if __name__ == "__main__":
    main()
