"""Restart-resume (design §10 "Service restart"; COR-49 acceptance 5): sim runs as a real
process (`python -m depotgrid.cli sim serve`), is killed with SIGKILL mid-run and started again
on the same data: sessions, ledger and timers are intact, the run is resumed
(`SimulationRunResumed`), heartbeats flow again, and only sessions whose timers expired while
the process was down go offline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from tests.conftest import free_port
from tests.depotgrid.sim.fp_double import FpDouble
from tests.depotgrid.sim.helpers import (
    create_session,
    go_online,
    make_world,
    session_path,
    wait_until,
)


@contextmanager
def sim_process(
    data_dir: Path, database_url: str, port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DEPOTGRID_DATA_DIR": str(data_dir),
        "DEPOTGRID_SIM_DATABASE_URL": database_url,
    }
    env.pop("DEPOTGRID_SIM_RUNNER_ID", None)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "depotgrid.cli", "sim", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: _ready(port, process),
            bool,
            timeout=30,
            what=f"sim to serve on port {port} (log: {log})",
        )
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _ready(port: int, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"sim exited with {process.returncode}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _seconds_until(moment: str) -> float:
    return (
        datetime.fromisoformat(moment.replace("Z", "+00:00")) - datetime.now(UTC)
    ).total_seconds()


def test_sigkill_then_restart_resumes_sessions_ledger_and_timers(
    tmp_path: Path, sim_database_url: str, sim_db: Engine, fp: FpDouble
) -> None:
    port = free_port()
    log = tmp_path / "sim.log"
    base = f"http://127.0.0.1:{port}"
    with (
        sim_process(tmp_path, sim_database_url, port, log) as process,
        httpx.Client(base_url=base, timeout=15) as sim,
    ):
        world = make_world(sim)
        beating = create_session(sim, world, fp, configuration_id="beating")
        go_online(sim, world, beating, fp, interval=3600, fp_asks=1)
        lapsing = create_session(sim, world, fp, configuration_id="lapsing")
        go_online(sim, world, lapsing, fp, interval=2, fp_asks=3600)
        fp.ack_handshakes = False
        waiting = create_session(sim, world, fp, configuration_id="waiting")
        sim.post(
            session_path(world, waiting) + "/commands/send-handshake",
            json={"ack_timeout_seconds": 3600},
        )
        fp.wait_for("heartbeat", count=3, timeout=10)
        before: dict[str, dict[str, Any]] = {
            name: sim.get(session_path(world, s)).json()
            for name, s in (("beating", beating), ("lapsing", lapsing), ("waiting", waiting))
        }
        ledger_before = sim.get(session_path(world, beating) + "/messages").json()["messages"]
        run_before = sim.get(f"/simulation-runs/{world.run_id}").json()
        assert before["lapsing"]["state"] == "online"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    beats_at_kill = len(fp.of("heartbeat"))
    time.sleep(max(0.0, _seconds_until(before["lapsing"]["timers"]["peer_offline_at"])) + 0.5)

    with (
        sim_process(tmp_path, sim_database_url, port, log),
        httpx.Client(base_url=base, timeout=15) as sim,
    ):
        after = {
            name: sim.get(session_path(world, s)).json()
            for name, s in (("beating", beating), ("lapsing", lapsing), ("waiting", waiting))
        }
        assert after["beating"]["state"] == "online"
        assert after["waiting"]["state"] == "awaiting_handshake_acknowledge"
        assert (
            after["waiting"]["timers"]["handshake_deadline_at"]
            == before["waiting"]["timers"]["handshake_deadline_at"]
        )
        assert (
            after["waiting"]["pending_handshake_request_id"]
            == before["waiting"]["pending_handshake_request_id"]
        )
        assert after["lapsing"]["state"] == "offline"
        assert "liveness expired" in after["lapsing"]["state_reason"]

        fp.wait_for("heartbeat", count=beats_at_kill + 2, timeout=10)
        ledger_after = wait_until(
            lambda: sim.get(session_path(world, beating) + "/messages").json()["messages"],
            lambda items: all(m["outcome"] != "pending" for m in items),
            what="no pending ledger entries",
        )
        by_id = {m["id"]: m for m in ledger_after}
        for item in ledger_before:
            kept = by_id[item["id"]]
            assert {k: kept[k] for k in ("message_type", "direction", "request_id", "body")} == {
                k: item[k] for k in ("message_type", "direction", "request_id", "body")
            }
            if item["outcome"] != "pending":
                assert kept["outcome"] == item["outcome"]
        assert len(ledger_after) > len(ledger_before)

        run_after = sim.get(f"/simulation-runs/{world.run_id}").json()
        assert run_after["state"] == "running"
        assert run_after["logical_time"] > run_before["logical_time"]
        resumed = sim.get(
            f"/simulation-runs/{world.run_id}/events", params={"type": "SimulationRunResumed"}
        ).json()["events"]
        assert len(resumed) == 1
        assert resumed[0]["data"]["sessions"] == 3
        assert resumed[0]["data"]["sessions_timed_out"] == 1
