"""The one settings object: every knob comes from `DEPOTGRID_*` environment variables."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings shared by manage, sim and the CLI."""

    model_config = SettingsConfigDict(env_prefix="DEPOTGRID_", extra="ignore")

    data_dir: Path = Field(default=Path(".depotgrid"), description="Where embedded state lives.")
    database_url: str = Field(
        default="", description="SQLAlchemy URL of manage's database; empty = SQLite in data_dir."
    )
    secret_key: str = Field(
        default="", description="Signs session cookies; empty = a key kept in data_dir."
    )
    sim_database_url: str = Field(
        default="", description="SQLAlchemy URL of sim's database; empty = SQLite in data_dir."
    )
    sim_runner_id: str = Field(
        default="",
        description="The sim process's runner identity for run leases; empty = host + data_dir, "
        "so a restarted process reclaims the runs it held.",
    )
    scheduler_interval_seconds: float = Field(
        default=1.0, description="How often background jobs run; 0 turns the scheduler off."
    )
    dispatcher_enabled: bool = Field(
        default=True,
        description="Whether the manage service runs the outbox dispatcher in-process; turn it "
        "off where dedicated `depotgrid manage dispatch` processes deliver instead.",
    )
    dispatcher_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the outbox dispatcher looks for due entries."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="How OSCP partners reach this manage (scheme, host, port); our Flexibility "
        "Provider base URL is this plus /oscp/fp/2.0, announced in Register.",
    )
    oscp_heartbeat_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        le=86_400,
        description="How often manage asks each Capacity Provider for heartbeats (handshake).",
    )
    log_level: str = "INFO"
    log_json: bool = False
    session_cookie_secure: bool = False
    session_max_age_seconds: int = 12 * 3600

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'manage.sqlite3').resolve()}"
        if not self.sim_database_url:
            self.sim_database_url = f"sqlite:///{(self.data_dir / 'sim.sqlite3').resolve()}"
        return self

    def ensure_data_dir(self) -> None:
        """Create the data directory and, when no secret is configured, a persistent one."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.secret_key:
            key_file = self.data_dir / "secret_key"
            if not key_file.exists():
                key_file.write_text(secrets.token_urlsafe(48))
                key_file.chmod(0o600)
            self.secret_key = key_file.read_text().strip()
