"""The one settings object, read once at the edge (environment and ``.env``).

Every value is checked when the object is built, so a process with a bad value stops
at start-up with the variable's name rather than failing inside a Slack request. A
variable set to nothing (``SLACK_SIGNING_SECRET=``, a blank line in a ``.env``) counts
as not set: an empty secret must never pass for a configured one.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _intervals(raw: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values):
        raise ValueError(f"{name} must be comma-separated whole seconds, e.g. 10,30,120")
    return values


class Settings(BaseSettings):
    """Configuration of every process: see SPEC §2 and the README."""

    # A variable set to nothing is not set: its default applies (None for secrets).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    rally_base_url: str | None = None
    rally_api_key: SecretStr | None = None
    rally_app_url: str | None = None
    redis_url: str = "redis://localhost:6379/0"
    database_url: str = "sqlite:///.data/rally-slack.db"
    # Comma-separated Fernet keys: the first encrypts, all decrypt (rotation).
    rally_slack_encryption_keys: SecretStr | None = None
    # Host patterns (fnmatch, host only) a workspace's Rally base URL may point at.
    rally_allowed_hosts: str = "*.rallycrm.io"
    reminder_lead_minutes: int = Field(default=15, ge=0)
    port: int = 3000
    # Seconds between RQ retries of a create whose API call failed transiently; the
    # number of entries is the number of retries. Tests and the console use "0,0".
    job_retry_intervals: str = "10,30,120,600"
    # Seconds between retries of telling a user an outcome when Slack fails; the last
    # one repeats for as long as a submission is kept. All zeros (tests) means one
    # immediate retry per entry.
    notify_retry_intervals: str = "5,30,120,300,900,1800,3600"
    # One JSON object per log line (production), or readable text (dev); core/logging.py.
    log_format: Literal["text", "json"] = "text"
    # Least time between two progress updates of a CSV import's message (chat.update is
    # rate limited by Slack); 0 updates after every chunk (tests).
    import_progress_interval_ms: int = Field(default=1000, ge=0)

    @field_validator(
        "slack_signing_secret",
        "slack_bot_token",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "rally_slack_encryption_keys",
        "rally_base_url",
        "rally_api_key",
        "rally_app_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # White space only ("SLACK_SIGNING_SECRET= " in a .env) is not a secret either.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("job_retry_intervals", "notify_retry_intervals", mode="after")
    @classmethod
    def _check_intervals(cls, value: str, info: Any) -> str:
        _intervals(value, str(info.field_name).upper())
        return value

    def retry_intervals(self) -> list[int]:
        """``JOB_RETRY_INTERVALS`` as a list of non-negative seconds (at least one)."""
        return list(_intervals(self.job_retry_intervals, "JOB_RETRY_INTERVALS"))

    def notify_intervals(self) -> list[int]:
        """``NOTIFY_RETRY_INTERVALS`` as a list of non-negative seconds (at least one)."""
        return list(_intervals(self.notify_retry_intervals, "NOTIFY_RETRY_INTERVALS"))

    @model_validator(mode="after")
    def _one_mode(self) -> Settings:
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET go together (OAuth distribution)"
            )
        if self.slack_client_id and self.slack_bot_token:
            raise ValueError(
                "set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
                "SLACK_CLIENT_SECRET (OAuth distribution), not both"
            )
        if self.rally_slack_encryption_keys is not None:
            from core.secrets import Cipher

            Cipher(self.encryption_keys())  # a key that is not a Fernet key fails here
        return self

    @property
    def distributed(self) -> bool:
        """OAuth distribution to many workspaces (else one workspace, ``SLACK_BOT_TOKEN``)."""
        return bool(self.slack_client_id)

    def encryption_keys(self) -> list[str]:
        """``RALLY_SLACK_ENCRYPTION_KEYS`` as a list (first encrypts), empty when unset."""
        raw = self.rally_slack_encryption_keys
        text = raw.get_secret_value() if raw else ""
        return [key.strip() for key in text.split(",") if key.strip()]

    def allowed_hosts(self) -> list[str]:
        """``RALLY_ALLOWED_HOSTS`` patterns, plus ``RALLY_BASE_URL``'s own host."""
        from urllib.parse import urlsplit

        patterns = [p.strip().lower() for p in self.rally_allowed_hosts.split(",") if p.strip()]
        if self.rally_base_url and (host := urlsplit(self.rally_base_url).hostname):
            patterns.append(host.lower())
        return patterns

    def require(self, *names: str) -> None:
        """Fail with one clear message naming every missing required variable."""
        missing = [name.upper() for name in names if _unset(getattr(self, name))]
        if missing:
            raise SystemExit(
                f"missing configuration: {', '.join(missing)} (see README, Configuration)"
            )


def _unset(value: Any) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value is None or (isinstance(value, str) and not value.strip())


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or exit naming each variable that is wrong.

    For a process's start-up: pydantic's error lists field names; a person editing a
    ``.env`` wants the variable's.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
            lines.append(f"{name}: {str(error['msg']).removeprefix('Value error, ')}")
        raise SystemExit("invalid configuration:\n  " + "\n  ".join(lines)) from None


_BY_ENVIRONMENT: dict[frozenset[tuple[str, str]], Settings] = {}


def job_settings() -> Settings:
    """Settings for a job, built once per environment.

    Building :class:`Settings` reads the environment and ``.env`` (about 4 ms); a drainer
    runs many small jobs. The worker builds them before it forks (``workers.runner.
    preload``), so each work horse inherits them; a changed environment (a test's) gets
    its own. A ``.env`` edited while a worker runs is read at the worker's next start.
    """
    key = frozenset(os.environ.items())
    found = _BY_ENVIRONMENT.get(key)
    if found is None:
        found = _BY_ENVIRONMENT[key] = Settings()
        while len(_BY_ENVIRONMENT) > 8:  # tests change the environment; keep a few
            del _BY_ENVIRONMENT[next(iter(_BY_ENVIRONMENT))]
    return found
