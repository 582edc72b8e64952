"""A workspace, whichever the mode (SPEC §6): its Slack bot token and its Rally tenant.

One code path for both modes. With ``SLACK_BOT_TOKEN`` there is one workspace and every
team gets that token; with ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` each team's token
comes from its installation (rotated here when it is about to expire, as Bolt does for
requests). A team's Rally tenant is ``RALLY_BASE_URL``/``RALLY_API_KEY`` in single-
workspace mode when they are set, else the connection stored for the team; a person's
own key, when they connected one, is used for what they do.

Nothing here holds a secret longer than the call that needs it; jobs pass team and user
ids only.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.oauth.token_rotation import TokenRotator

from core.secrets import last4
from core.settings import Settings
from core.store import Store, open_store
from workers.reminders.index import namespace_for
from workers.slack import WEB_API_LOG, Retries, web_client

log = logging.getLogger(__name__)

TOKEN_ROTATION_MINUTES = 120
"""Rotate a bot token this long before it expires (Bolt's default for requests)."""


class NotInstalled(Exception):
    """The team has no installation (never installed, or uninstalled since)."""


class NotConnected(Exception):
    """The team has no working Rally connection."""


def store_of(settings: Settings) -> Store:
    """This process's durable store (``DATABASE_URL``)."""
    return open_store(settings.database_url, settings.encryption_keys())


# -- Slack -------------------------------------------------------------------------------


def bot_token(settings: Settings, team: str | None) -> str:
    """The bot token to call Slack with for ``team``.

    Raises:
        NotInstalled: distributed mode, and the team has no installation.
    """
    if not settings.distributed:
        if settings.slack_bot_token is None:
            raise NotInstalled("SLACK_BOT_TOKEN is not set")
        return settings.slack_bot_token.get_secret_value()
    assert settings.slack_client_id and settings.slack_client_secret
    installations = store_of(settings).installation_store(settings.slack_client_id)
    bot = installations.find_bot(enterprise_id=None, team_id=team)
    if bot is None or not bot.bot_token:
        raise NotInstalled(f"team {team} has no installation")
    if bot.bot_refresh_token:
        rotator = TokenRotator(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            client=WebClient(base_url=settings.slack_api_url, timeout=10, logger=WEB_API_LOG),
        )
        refreshed = rotator.perform_bot_token_rotation(
            bot=bot, minutes_before_expiration=TOKEN_ROTATION_MINUTES
        )
        if refreshed is not None:
            installations.save_bot(refreshed)
            log.info("event=bot_token_rotated team=%s", team)
            bot = refreshed
    return str(bot.bot_token)


def slack_client(
    settings: Settings, team: str | None, *, timeout: int = 10, retries: Retries = "all"
) -> WebClient:
    """A Web API client with ``team``'s bot token (see :func:`bot_token`)."""
    client = web_client(settings, timeout=timeout, retries=retries)
    client.token = bot_token(settings, team)
    return client


# -- Rally -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """Where and as whom to call Rally. ``api_key`` is a secret: never log or pass it on."""

    base_url: str
    api_key: str
    personal: bool = False

    @property
    def namespace(self) -> str:
        """The reminder index of this tenant (and key)."""
        return namespace_for(self.base_url, self.api_key)


def host_allowed(settings: Settings, base_url: str) -> bool:
    """Whether a Rally base URL may be called: http(s), a host matching
    ``RALLY_ALLOWED_HOSTS`` (or ``RALLY_BASE_URL``'s own), no credentials in the URL."""
    try:
        parts = urlsplit(base_url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in settings.allowed_hosts())


def workspace_credential(settings: Settings, team: str | None) -> Credential | None:
    """The team's tenant: ``RALLY_BASE_URL``/``RALLY_API_KEY`` in single-workspace mode
    when set, else the team's checked connection; ``None`` when it has none."""
    if not settings.distributed and settings.rally_base_url and settings.rally_api_key:
        return Credential(settings.rally_base_url, settings.rally_api_key.get_secret_value())
    if team is None or not settings.encryption_keys():
        return None  # no key ring: nothing can have been stored
    connection = store_of(settings).connection(team)
    if connection is None or connection.status != "ok":
        return None
    if not host_allowed(settings, connection.base_url):
        # Allowed when it was saved; RALLY_ALLOWED_HOSTS has narrowed since.
        log.warning("event=rally_host_refused team=%s", team)
        return None
    return Credential(connection.base_url, connection.api_key)


@dataclass(frozen=True)
class ConnectionState:
    """What may be shown of a workspace's Rally connection (never the key)."""

    status: str  # "ok" | "checking" | "failed" | "none"
    host: str | None = None
    key_hint: str | None = None
    from_environment: bool = False

    @property
    def connected(self) -> bool:
        return self.status == "ok"


def connection_state(settings: Settings, team: str | None) -> ConnectionState:
    """The workspace's connection as Home and ``/rally`` show it (reads no key)."""
    if not settings.distributed and settings.rally_base_url and settings.rally_api_key:
        key = settings.rally_api_key.get_secret_value()
        return ConnectionState(
            "ok", urlsplit(settings.rally_base_url).hostname, last4(key), from_environment=True
        )
    if team is None:
        return ConnectionState("none")
    found = store_of(settings).connection_status(team)
    if found is None:
        return ConnectionState("none")
    status, host, hint = found
    return ConnectionState(status, host, hint)


def credential(settings: Settings, team: str | None, user: str | None = None) -> Credential:
    """Whom to call Rally as for ``user`` in ``team``: their own key when they connected
    one (and it checked out), else the workspace's.

    Raises:
        NotConnected: the workspace has no Rally connection.
    """
    workspace = workspace_credential(settings, team)
    if workspace is None:
        raise NotConnected(f"team {team} is not connected to Rally")
    if team and user and settings.encryption_keys():
        key = store_of(settings).personal_key(team, user)
        if key is not None and key.status == "ok":
            return Credential(workspace.base_url, key.api_key, personal=True)
    return workspace


def reminder_credentials(settings: Settings) -> list[tuple[str | None, Credential]]:
    """(team, tenant) of every workspace whose due tasks are reminded, one per tenant.

    Single-workspace mode with ``RALLY_BASE_URL`` is one (team ``None``: the one
    workspace); every workspace with a checked connection is another.
    """
    found: dict[str, tuple[str | None, Credential]] = {}
    env = workspace_credential(settings, None) if not settings.distributed else None
    if env is not None:
        found[env.namespace] = (None, env)
    if settings.encryption_keys():
        for team in store_of(settings).connected_teams():
            cred = workspace_credential(settings, team)
            if cred is not None:
                found.setdefault(cred.namespace, (team, cred))
    return list(found.values())
