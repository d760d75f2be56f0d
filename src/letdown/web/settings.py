"""The web app's settings, from ``LETDOWN_*`` environment variables or arguments."""

from __future__ import annotations

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
    device: str = Field(default="sim", description="pump backend: sim")
    sim_speed: float = Field(
        default=1.0, gt=0, le=100, description="simulated time per real second"
    )
    sim_seed: int = Field(default=0, ge=0)
    login_attempts: int = Field(default=5, ge=1, description="failed logins allowed per window")
    login_window_s: float = Field(default=300.0, gt=0)
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
