"""The one settings object, read once at the edge (environment and ``.env``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration of every process: see SPEC §2 and the README."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    rally_base_url: str | None = None
    rally_api_key: SecretStr | None = None
    rally_app_url: str | None = None
    redis_url: str = "redis://localhost:6379/0"
    reminder_lead_minutes: int = Field(default=15, ge=0)
    port: int = 3000

    def require(self, *names: str) -> None:
        """Fail with one clear message naming every missing required variable."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise SystemExit(
                f"missing configuration: {', '.join(missing)} (see README, Configuration)"
            )
