"""The CLI as an operator runs it: a real process against a real data directory."""

import os
import subprocess
import sys
from pathlib import Path

import httpx

from depotgrid.manage.app import create_app
from depotgrid.settings import Settings
from tests.conftest import serve


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEPOTGRID_DATA_DIR": str(data_dir)}
    env.pop("DEPOTGRID_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "depotgrid.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_create_user_then_token_which_authenticates(tmp_path: Path) -> None:
    made = _cli(
        tmp_path,
        "manage",
        "create-user",
        "ops@example.com",
        "--role",
        "viewer",
        "--password",
        "long-enough",
    )
    assert made.returncode == 0, made.stderr
    issued = _cli(tmp_path, "manage", "create-api-token", "ops@example.com")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    assert token.startswith("dg_") and " " not in token
    with serve(create_app(Settings(data_dir=tmp_path))) as url:
        ok = httpx.get(f"{url}/api/depots", headers={"Authorization": f"Bearer {token}"})
        refused = httpx.post(
            f"{url}/api/depots",
            json={"name": "x", "timezone": "UTC"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert ok.status_code == 200
    assert refused.status_code == 403


def test_create_user_with_bad_role_and_short_password_says_why(tmp_path: Path) -> None:
    result = _cli(
        tmp_path, "manage", "create-user", "x@example.com", "--role", "king", "--password", "short"
    )
    assert result.returncode == 2
    assert "role" in result.stderr and "password" in result.stderr


def test_token_for_unknown_user_fails_clearly(tmp_path: Path) -> None:
    result = _cli(tmp_path, "manage", "create-api-token", "ghost@example.com")
    assert result.returncode == 2
    assert "ghost@example.com" in result.stderr
