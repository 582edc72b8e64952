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
    # Seconds between RQ retries of a create whose API call failed transiently; the
    # number of entries is the number of retries. Tests and the console use "0,0".
    job_retry_intervals: str = "10,30,120,600"

    def retry_intervals(self) -> list[int]:
        """``JOB_RETRY_INTERVALS`` as a list of non-negative seconds (at least one)."""
        values = [int(part) for part in self.job_retry_intervals.split(",") if part.strip()]
        if not values or any(v < 0 for v in values):
            raise SystemExit("JOB_RETRY_INTERVALS must be comma-separated seconds, e.g. 10,30,120")
        return values

    def require(self, *names: str) -> None:
        """Fail with one clear message naming every missing required variable."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            raise SystemExit(
                f"missing configuration: {', '.join(missing)} (see README, Configuration)"
            )
