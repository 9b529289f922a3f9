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


def test_demo_starts_and_its_printed_login_shows_the_seeded_depot(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(tmp_path)}
    env.pop("DEPOTGRID_DATABASE_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "depotgrid.cli", "demo", "--port", str(port)],
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
    finally:
        demo.terminate()
        demo.wait(timeout=10)


def test_demo_run_twice_keeps_one_seeded_depot_and_a_fresh_password(tmp_path: Path) -> None:
    from depotgrid.demo import DEMO_DEPOT

    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(tmp_path)}
    env.pop("DEPOTGRID_DATABASE_URL", None)
    passwords = []
    for _ in range(2):
        port = free_port()
        demo = subprocess.Popen(
            [sys.executable, "-m", "depotgrid.cli", "demo", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            passwords.append(_read_login(demo)[1])
            _wait_healthy(f"http://127.0.0.1:{port}")
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


def _read_login(process: subprocess.Popen[str]) -> tuple[str, str]:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        found = LOGIN.search(line)
        if found:
            return found.group(1), found.group(2)
        if not line and process.poll() is not None:
            break
    raise AssertionError("the demo printed no login")


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the demo never answered /healthz")
