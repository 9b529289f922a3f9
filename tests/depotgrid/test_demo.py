"""`depotgrid demo` as a person runs it: it starts, prints a login, and that login shows the
seeded depot."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import Account, free_port
from tests.depotgrid.manage.web.ui_client import UiClient

LOGIN = re.compile(r"log in as (\S+) with password (\S+)")
SIMULATOR = re.compile(r"simulator at (\S+)/ui \(run (\S+) of the seeded depot\)")


def test_demo_starts_and_its_printed_login_shows_the_seeded_depot(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(tmp_path)}
    env.pop("DEPOTGRID_DATABASE_URL", None)
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "depotgrid.cli",
            "demo",
            "--port",
            str(port),
            "--sim-port",
            str(free_port()),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        email, password = _read_login(demo)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        with UiClient(base) as ui:
            account = Account(email=email, password=password, token="", role="system-admin")
            depots = ui.follow(ui.login(account))
        assert depots.status_code == 200
        assert "Riverside Bus Depot" in depots.text
        sim_url, run_id = _read(demo, SIMULATOR)
        run = httpx.get(f"{sim_url}/simulation-runs/{run_id}").json()
        assert run["state"] == "running"
        assert run["name"].startswith("Riverside Bus Depot (simulated)")
    finally:
        demo.terminate()
        demo.wait(timeout=10)


def test_demo_run_twice_keeps_one_seeded_depot_and_simulation_and_a_fresh_password(
    tmp_path: Path,
) -> None:
    from depotgrid.demo import DEMO_DEPOT, DEMO_SIMULATION

    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(tmp_path)}
    env.pop("DEPOTGRID_DATABASE_URL", None)
    passwords = []
    for _ in range(2):
        port = free_port()
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "depotgrid.cli",
                "demo",
                "--port",
                str(port),
                "--sim-port",
                str(free_port()),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            passwords.append(_read_login(demo)[1])
            _wait_healthy(f"http://127.0.0.1:{port}")
            _read(demo, SIMULATOR)
        finally:
            demo.terminate()
            demo.wait(timeout=10)
    assert passwords[0] != passwords[1]
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'manage.sqlite3'}")
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM depots WHERE name = :n"), {"n": DEMO_DEPOT}
        ).scalar()
    assert count == 1
    sim = create_engine(f"sqlite:///{tmp_path / 'sim.sqlite3'}")
    with sim.connect() as conn:
        simulations = conn.execute(
            text("SELECT count(*) FROM sim_configurations WHERE name = :n"),
            {"n": DEMO_SIMULATION},
        ).scalar()
    assert simulations == 1


def _read_login(process: subprocess.Popen[str]) -> tuple[str, str]:
    return _read(process, LOGIN)


def _read(process: subprocess.Popen[str], pattern: re.Pattern[str]) -> tuple[str, str]:
    """The two groups of the first line of the demo's output that matches `pattern`."""
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        found = pattern.search(line)
        if found:
            return found.group(1), found.group(2)
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"the demo printed no line matching {pattern.pattern}")


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo never answered /healthz")
