"""How many concurrent OSCP CP sessions one sim process holds with heartbeats both ways, and how
many ledger writes per second it makes.

    uv run python bench/sim_oscp.py                      # 1,000 sessions, 5 s heartbeats, 60 s
    uv run python bench/sim_oscp.py --sweep 250,500,1000,1500 --duration 60
    uv run python bench/sim_oscp.py --database-url postgresql+psycopg://postgres@127.0.0.1/simbench

For each size N: a fresh sim process (`python -m depotgrid.cli sim serve`, SQLite in a temporary
data dir, or the --database-url database emptied first) and, in this process, a fast Flexibility
Provider double (a bare asyncio HTTP/1.1 server and keep-alive client, so the load generator
leaves the CPU to the sim) that acknowledges handshakes, answers 204 and sends its own
heartbeats. Every session is brought online by a CP-initiated handshake asking for heartbeats
every `--interval` seconds both ways; the double starts heartbeating once its acknowledgement is
accepted. After a warm-up, for `--duration` seconds:

- CP -> FP: sent is the sim's outbound heartbeat ledger entries, received what the double got. A
  *missed deadline* is a heartbeat that arrives after the `offline_mode_at` of the one before
  (the FP would have judged the CP offline). Latency: from the moment the sim claimed the
  heartbeat (its logical clock) to its arrival at the double.
- FP -> CP: each session sends a heartbeat every interval, staggered; a *missed deadline* is an
  answer other than 204. Latency: request to answer.
- a session not online at the end (its liveness expired, or it never came online) is a miss too.
- ledger: rows appended per second, and writes per second (outbound entries are written twice:
  pending, then final).
- sim process: its CPU use (100% = one core) and CPU milliseconds per heartbeat handled (sent
  or received); the 1-minute load average tells how busy the machine (2 cores) was.

A size *held* when it missed no deadline; `--sweep` stops at the first size that did not. It ends
with a direct measurement of the ledger's write capacity. Figures are printed, never asserted.
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
from sqlalchemy import Engine

from depotgrid.sim.db.engine import make_engine

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
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the CP accepted this double's HandshakeAcknowledge: the session is online."""


UNANSWERED = (OSError, asyncio.IncompleteReadError, IndexError, ValueError)
"""What `RawHttp` takes for a request that got no (readable) answer."""


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams: a pool of connections, one
    request at a time on each. Far cheaper per request than httpx, so the load generator leaves
    the CPU to the sim."""

    def __init__(self, host: str, port: int, connections: int) -> None:
        self.host = host
        self.port = port
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(connections):
            self._idle.put_nowait(None)

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """POST and return the status (the body is read and dropped); 0 when no answer came.

        A kept-alive connection the server closed while idle is replaced and the request sent
        once more (uvicorn closes connections idle for 5 s: exactly one heartbeat interval).
        """
        connection = await self._idle.get()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
            f"{head}\r\n".encode()
            + body
        )
        if connection is not None:
            try:
                if status := await self._exchange(connection, request):
                    self._idle.put_nowait(connection)
                    return status
            except UNANSWERED:
                pass
            connection[1].close()
        try:
            connection = await asyncio.open_connection(self.host, self.port)
            status = await self._exchange(connection, request)
        except UNANSWERED:
            status = 0
        self._idle.put_nowait(connection if status else None)
        return status

    @staticmethod
    async def _exchange(
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes
    ) -> int:
        """Send one request and read its answer; 0 if the connection was found closed."""
        reader, writer = connection
        writer.write(request)
        status_line = await reader.readline()
        if not status_line:
            return 0
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        return int(status_line.split()[1])


class FastFp:
    """A bare asyncio HTTP/1.1 Flexibility Provider double: records heartbeats, acknowledges
    handshakes (through `RawHttp`), answers 204 at once."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.cp: RawHttp | None = None
        self.pending: set[asyncio.Task[Any]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                self._handle(request_line.split()[1].decode(), headers, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the peer went away, or the bench is shutting down
        finally:
            writer.close()

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> None:
        peer = self.peers.get(headers.get("x-oscp-configuration-id", ""))
        if peer is None:
            return
        endpoint = path.rsplit("/", 1)[-1]
        if endpoint == "heartbeat":
            offline = json.loads(body)["offline_mode_at"].replace("Z", "+00:00")
            peer.beats.append(
                (time.monotonic(), time.time(), datetime.fromisoformat(offline).timestamp())
            )
        elif endpoint == "handshake":
            task = asyncio.create_task(
                self._acknowledge(headers["x-oscp-configuration-id"], peer, headers["x-request-id"])
            )
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    async def _acknowledge(self, configuration_id: str, peer: Peer, correlation: str) -> None:
        assert self.cp is not None
        status = await self.cp.post(
            "/oscp/cp/2.0/handshake_acknowledge",
            {
                "Authorization": f"Token {peer.cp_token}",
                "X-Request-ID": str(uuid.uuid4()),
                "X-Correlation-ID": correlation,
                "X-OSCP-Configuration-ID": configuration_id,
                "Content-Type": "application/json",
            },
            b'{"required_behaviour":{"measurement_configuration":[]}}',
        )
        if status == 204:
            peer.acknowledged.set()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    cp_sent: int
    """CP -> FP heartbeats the sim recorded as sent in the window (outbound ledger entries)."""
    cp_received: int
    cp_missed: int
    cp_latency_ms: tuple[float, float]
    """p50, p99 from the sim claiming a heartbeat to its arrival at the FP double."""
    cp_gap_max: float
    fp_sent: int
    fp_received: int
    """FP -> CP heartbeats answered 204."""
    fp_latency_ms: tuple[float, float]
    ledger_rows: int
    ledger_outbound: int
    """Outbound entries among `ledger_rows` (each is written twice: pending, then final)."""
    window_seconds: float
    sim_cpu_seconds: float
    load: float
    """The machine's 1-minute load average at the end of the window (2 cores)."""

    @property
    def missed(self) -> int:
        """Missed deadlines both ways: late CP beats, FP beats not accepted, sessions lost."""
        return (
            self.cp_missed + (self.fp_sent - self.fp_received) + self.sessions - self.online_at_end
        )

    @property
    def held(self) -> bool:
        return self.missed == 0 and self.cp_received > 0

    @property
    def ledger_writes_per_s(self) -> float:
        return (self.ledger_rows + self.ledger_outbound) / self.window_seconds

    @property
    def sim_cpu_percent(self) -> float:
        return 100 * self.sim_cpu_seconds / self.window_seconds

    @property
    def cpu_ms_per_heartbeat(self) -> float:
        """Sim CPU time per heartbeat handled (sent or received), in ms."""
        beats = self.cp_sent + self.fp_sent
        return 1000 * self.sim_cpu_seconds / beats if beats else 0.0


async def run_size(n: int, args: argparse.Namespace) -> Result:
    data_dir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    sim_port, fp_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(data_dir), "DEPOTGRID_LOG_LEVEL": "WARNING"}
    if args.database_url:
        env["DEPOTGRID_SIM_DATABASE_URL"] = args.database_url
        engine = make_engine(args.database_url)
        reset_database(engine)
        engine.dispose()
    command = [args.profile] if args.profile else ["-m", "depotgrid.cli"]
    process = subprocess.Popen(
        [sys.executable, *command, "sim", "serve", "--port", str(sim_port)],
        env=env,
        stdout=(data_dir / "sim.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    fp = FastFp()
    server = await asyncio.start_server(fp.serve, "127.0.0.1", fp_port, backlog=1024)
    # httpcore's pool slows down badly with many queued requests: keep the queues short.
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    retrying = httpx.AsyncHTTPTransport(limits=limits, retries=3)
    try:
        await wait_ready(sim_url, process)
        fp.cp = RawHttp("127.0.0.1", sim_port, args.connections)
        async with httpx.AsyncClient(base_url=sim_url, timeout=60, transport=retrying) as sim:
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
            behind = await logical_lag(sim, run["id"])
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
                try:
                    await asyncio.wait_for(peer.acknowledged.wait(), timeout=30)
                except TimeoutError:
                    return  # never came online: counted as a lost session
                next_at = time.monotonic()
                while next_at < stop:
                    offline = datetime.now(UTC) + timedelta(seconds=2 * args.interval + 1)
                    started = time.monotonic()
                    status = await fp.cp.post(
                        "/oscp/cp/2.0/heartbeat",
                        {
                            "Authorization": f"Token {peer.cp_token}",
                            "X-Request-ID": str(uuid.uuid4()),
                            "X-OSCP-Configuration-ID": configuration_id,
                            "Content-Type": "application/json",
                        },
                        json.dumps({"offline_mode_at": iso(offline)}).encode(),
                    )
                    ok = status == 204
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
            for _ in range(60):
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

            async def ledger_totals() -> tuple[int, int, int]:
                """Ledger rows, outbound rows, outbound heartbeat rows."""
                totals = []
                for params in (
                    {},
                    {"direction": "outbound"},
                    {"direction": "outbound", "message_type": "Heartbeat"},
                ):
                    found = await sim.get("/oscp-messages", params={"limit": 1, **params})
                    totals.append(int(found.json()["total"]))
                return totals[0], totals[1], totals[2]

            await asyncio.sleep(args.warmup)
            start, cpu_start, t_start = (
                await ledger_totals(),
                cpu_seconds(process.pid),
                time.monotonic(),
            )
            await asyncio.sleep(args.duration)
            end, cpu_end, t_end = await ledger_totals(), cpu_seconds(process.pid), time.monotonic()
            await asyncio.gather(*senders)
            final = (await sim.get(f"/simulation-runs/{run['id']}")).json()["oscp_sessions"]
    finally:
        server.close()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()

    gaps: list[float] = []
    delays: list[float] = []
    missed = 0
    received = 0
    # offline_mode_at = claimed at (logical time, `behind` the wall) + 2 x interval + 1 s
    promise = 2 * args.interval + 1 - behind
    for peer in fp.peers.values():
        window = [beat for beat in peer.beats if window_start <= beat[0] <= stop]
        received += len(window)
        delays += [(arrived - (deadline - promise)) * 1000 for _, arrived, deadline in window]
        for (before_at, _, before_deadline), (at, arrived, _) in itertools.pairwise(window):
            gaps.append(at - before_at)
            missed += arrived > before_deadline
    return Result(
        sessions=n,
        online_at_end=sum(1 for s in final if s["state"] == "online"),
        cp_sent=end[2] - start[2],
        cp_received=received,
        cp_missed=missed,
        cp_latency_ms=p50_p99(delays),
        cp_gap_max=max(gaps, default=0.0),
        fp_sent=sent,
        fp_received=sent - failures,
        fp_latency_ms=p50_p99(latencies),
        ledger_rows=end[0] - start[0],
        ledger_outbound=end[1] - start[1],
        window_seconds=t_end - t_start,
        sim_cpu_seconds=cpu_end - cpu_start,
        load=os.getloadavg()[0],
    )


async def logical_lag(sim: httpx.AsyncClient, run_id: str) -> float:
    """How many seconds the run's logical clock is behind the wall clock (at speed 1 it stays
    so: the time between creating the run and starting it)."""
    asked = time.time()
    logical = (await sim.get(f"/simulation-runs/{run_id}")).json()["logical_time"]
    answered = time.time()
    return (asked + answered) / 2 - datetime.fromisoformat(
        logical.replace("Z", "+00:00")
    ).timestamp()


def p50_p99(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (0.0, 0.0)
    quantiles = statistics.quantiles(values, n=100)
    return quantiles[49], quantiles[98]


BATCH = 100


def ledger_capacity(database_url: str | None, entries: int = 3000) -> tuple[float, float]:
    """Ledger writes per second (append pending, then finalize): one transaction per write,
    and `BATCH` entries per transaction as the scheduler claims and finalizes heartbeats."""
    from depotgrid.sim.db.engine import make_engine
    from depotgrid.sim.projections.oscp_cp.ledger import Finalization, LedgerEntry
    from depotgrid.sim.unit_of_work import SimUnitOfWorkFactory

    url = database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.sqlite3'}"
    engine = make_engine(url)
    reset_database(engine)
    uows = SimUnitOfWorkFactory(engine)
    now = datetime.now(UTC)

    def entry() -> LedgerEntry:
        return LedgerEntry(
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

    def write(batch: list[LedgerEntry]) -> None:
        with uows.write() as uow:
            uow.ledger.append_all(batch)
            uow.commit()
        with uows.write() as uow:
            uow.ledger.finalize_all(
                [Finalization(e.id, "accepted", 204, None, now, now, 1.0) for e in batch]
            )
            uow.commit()

    rates = []
    for size in (1, BATCH):
        started = time.perf_counter()
        for _ in range(entries // size):
            write([entry() for _ in range(size)])
        rates.append(2 * entries / (time.perf_counter() - started))
    engine.dispose()
    return rates[0], rates[1]


def reset_database(engine: Engine) -> None:
    """Migrate, then empty every sim table: each size starts from nothing, as on SQLite."""
    from depotgrid.sim.db.migrate import upgrade
    from depotgrid.sim.db.tables import metadata

    upgrade(engine)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


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
        "--ramp-rate", type=float, default=25.0, help="sessions brought online per second"
    )
    parser.add_argument(
        "--database-url", default=None, help="a throwaway database: emptied before each size"
    )
    parser.add_argument(
        "--connections", type=int, default=32, help="keep-alive connections of the FP double"
    )
    parser.add_argument(
        "--profile", default="", help="a script to run the sim with instead of depotgrid.cli"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sweep.split(",") if s] or [args.sessions]
    print(
        f"sim OSCP bench: heartbeats every {args.interval:g} s both ways, "
        f"{args.duration:g} s measured after {args.warmup:g} s warm-up, "
        f"database {'SQLite' if not args.database_url else args.database_url}"
    )
    print(HEADER)
    held = 0
    for n in sizes:
        result = asyncio.run(run_size(n, args))
        print(row(result), flush=True)
        if not result.held:
            print(f"{n} sessions missed {result.missed} deadlines: the sweep stops here")
            break
        held = n
    print(f"largest size that held (no missed deadline): {held or 'none'}")
    one, batched = ledger_capacity(args.database_url)
    print(
        f"ledger write capacity, append + finalize: {one:,.0f} writes/s one transaction each, "
        f"{batched:,.0f} writes/s {BATCH} per transaction (as the scheduler batches)"
    )


HEADER = (
    f"{'':>15} | {'CP -> FP heartbeats':^34} | {'FP -> CP heartbeats':^34} | {'ledger':^15} | "
    f"{'sim process':^16} |\n"
    f"{'sessions':>8} {'online':>6} | {'sent':>6} {'recv':>6} {'missed':>6} {'p50 ms':>6} "
    f"{'p99 ms':>6} | {'sent':>6} {'recv':>6} {'missed':>6} {'p50 ms':>6} {'p99 ms':>6} | "
    f"{'rows/s':>6} {'writes/s':>8} | {'cpu':>5} {'ms/beat':>8} | {'load':>4}"
)


def row(r: Result) -> str:
    """One table row; latencies are from the sender's clock to the answer (FP -> CP) or to
    the arrival at the FP double (CP -> FP, from the moment the sim claimed the heartbeat)."""
    return (
        f"{r.sessions:>8} {r.online_at_end:>6} | {r.cp_sent:>6} {r.cp_received:>6} "
        f"{r.cp_missed:>6} {r.cp_latency_ms[0]:>6.1f} {r.cp_latency_ms[1]:>6.1f} | "
        f"{r.fp_sent:>6} {r.fp_received:>6} {r.fp_sent - r.fp_received:>6} "
        f"{r.fp_latency_ms[0]:>6.1f} {r.fp_latency_ms[1]:>6.1f} | "
        f"{r.ledger_rows / r.window_seconds:>6.0f} {r.ledger_writes_per_s:>8.0f} | "
        f"{r.sim_cpu_percent:>4.0f}% {r.cpu_ms_per_heartbeat:>8.2f} | {r.load:>4.1f}"
    )


if __name__ == "__main__":
    main()
