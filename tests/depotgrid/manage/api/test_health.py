import httpx
from sqlalchemy import text

from depotgrid.manage.app import create_app
from depotgrid.manage.db.engine import make_engine


def test_healthz_needs_no_credentials(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_schema_revision(anonymous: httpx.Client) -> None:
    response = anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert response.json()["schema_revision"]


def test_readyz_is_503_when_migrations_are_not_applied(tmp_path, settings) -> None:
    from fastapi.testclient import TestClient

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    app = create_app(settings.model_copy(update={"data_dir": tmp_path}), engine=engine)
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "expected" in response.json()["reason"]
