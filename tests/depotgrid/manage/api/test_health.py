from pathlib import Path

import httpx
from sqlalchemy import Engine

from depotgrid.manage.app import create_app
from depotgrid.manage.db.engine import make_engine
from depotgrid.manage.db.migrate import revision_state
from depotgrid.settings import Settings
from tests.conftest import serve


def test_healthz_needs_no_credentials(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_schema_revision(anonymous: httpx.Client, engine: Engine) -> None:
    response = anonymous.get("/readyz")
    assert response.status_code == 200
    shipped = revision_state(engine)[1]
    assert shipped is not None and "0001" not in shipped.split(",")
    assert response.json() == {"status": "ready", "schema_revision": shipped}


def test_readyz_is_503_when_migrations_are_not_applied(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'unmigrated.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    with serve(app) as url:
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 503
    assert "database schema is at nothing, expected" in response.json()["reason"]


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}")
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    with serve(app) as url:
        response = httpx.get(f"{url}/readyz")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["reason"]


def test_openapi_docs_are_served(anonymous: httpx.Client) -> None:
    assert anonymous.get("/api/docs").status_code == 200
    assert "/api/depots" in anonymous.get("/api/openapi.json").json()["paths"]
