"""API baseline: requests/s and p50/p99 latency of manage's depot API at 32 concurrent clients.

Starts `depotgrid manage serve` as its own process on a fresh SQLite database (or the URL given
with --database-url), seeds a manager token and a depot, then drives:
  - GET /healthz (no auth, no database): the floor, the most this server and client can do;
  - GET /api/depots/{id} (token lookup + one read);
  - POST /api/depots/{id}/circuits (token lookup + locked write + event append).
Prints each endpoint's figures and its ratio to the floor. Run: uv run python -m bench.api_baseline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.loadgen import Result, request_bytes, run


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "depotgrid.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "depotgrid.cli", "manage", "serve", "--port", str(port)],
        env={**env, "DEPOTGRID_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("manage did not become ready")


def _report(results: list[Result], floor: Result) -> None:
    print(
        f"{'endpoint':<42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'rps/floor':>10} {'p99/floor':>10}"
    )
    for r in results:
        print(
            f"{r.name:<42} {r.rps:>9.0f} {r.p50:>8.2f} {r.p99:>8.2f} {r.errors:>7} "
            f"{r.rps / floor.rps:>10.2f} {r.p99 / floor.p99:>10.2f}"
        )


async def _measure(
    port: int, token: str, depot_id: str, clients: int, seconds: float
) -> list[Result]:
    host = f"127.0.0.1:{port}"
    floor = request_bytes("GET", "/healthz", host)
    read = request_bytes("GET", f"/api/depots/{depot_id}", host, token=token)

    def create(n: int) -> bytes:
        body = json.dumps({"name": f"Board {n}", "max_capacity_kw": 100}).encode()
        return request_bytes(
            "POST", f"/api/depots/{depot_id}/circuits", host, token=token, body=body
        )

    cases = [
        ("GET /healthz (floor)", lambda n: floor),
        ("GET /api/depots/{id}", lambda n: read),
        ("POST /api/depots/{id}/circuits", create),
    ]
    await run("warm-up", "127.0.0.1", port, lambda n: read, clients=clients, seconds=1)
    return [
        await run(name, "127.0.0.1", port, make, clients=clients, seconds=seconds)
        for name, make in cases
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "DEPOTGRID_DATA_DIR": data_dir}
        env["DEPOTGRID_DATABASE_URL"] = args.database_url or f"sqlite:///{Path(data_dir)}/b.db"
        _cli(
            env,
            "manage",
            "create-user",
            "bench@example.com",
            "--role",
            "manager",
            "--password",
            "bench-password",
        )
        token = _cli(env, "manage", "create-api-token", "bench@example.com")
        port = _free_port()
        server = _start_server(env, port)
        try:
            depot = httpx.post(
                f"http://127.0.0.1:{port}/api/depots",
                json={"name": "Bench", "timezone": "UTC"},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            results = asyncio.run(_measure(port, token, depot["id"], args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)
    database = "PostgreSQL" if args.database_url.startswith("postgresql") else "SQLite"
    print(
        f"manage API baseline: {args.clients} concurrent clients, {args.seconds:g} s each, "
        f"{database}, one uvicorn worker, {os.cpu_count()} CPUs"
    )
    _report(results, results[0])


if __name__ == "__main__":
    main()
