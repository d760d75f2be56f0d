"""The web app's settings, from ``LETDOWN_*`` environment variables or arguments."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """What ``letdown serve`` needs to know; nothing secret has a default.

    There is no signing key to configure: sessions, invitations and API tokens are random
    values checked against the database, so no shared secret can be left at a default.
    """

    model_config = SettingsConfigDict(env_prefix="LETDOWN_", extra="ignore")

    db: str | None = Field(default=None, description="database URL (default: the user's SQLite)")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secure_cookies: bool = Field(
        default=False, description="mark cookies Secure (set when served over HTTPS)"
    )
    device: str = Field(default="sim", description="pump backend: sim, or serial:///dev/ttyACM0")
    sim_speed: float = Field(
        default=1.0, gt=0, le=100, description="simulated time per real second"
    )
    sim_seed: int = Field(default=0, ge=0)
    login_attempts: int = Field(
        default=5,
        ge=1,
        description="failed logins in a row (per login and address) before each try waits",
    )
    login_window_s: float = Field(
        default=900.0, gt=0, description="failures are forgotten this long after the last one"
    )
    max_body_bytes: int = Field(
        default=512 * 1024, ge=1024, description="requests with a larger body are refused (413)"
    )
    proxy_headers: bool = Field(
        default=False,
        description="trust X-Forwarded-For/-Proto from forwarded_allow_ips (behind a proxy)",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="comma-separated addresses of the reverse proxy whose headers are trusted",
    )
    socket_recheck_s: float = Field(
        default=30.0, gt=0, description="live sockets check their login is still valid this often"
    )
    token_days: int = Field(default=90, ge=1, le=365, description="an API token's default life")
    public_url: str | None = Field(
        default=None, description="the address phones open (linked from Home Assistant)"
    )
    mqtt: str | None = Field(
        default=None,
        description="MQTT broker for Home Assistant, mqtt://user:pass@host:1883 (None: off)",
    )
    mqtt_member: str | None = Field(
        default=None, description="the member Home Assistant's buttons act as (their role)"
    )
    mqtt_prefix: str = Field(default="homeassistant", description="Home Assistant's prefix")
    data_folder: Path | None = Field(
        default=None,
        description="where the Web Push (VAPID) keys are kept (default: the user's data folder)",
    )
