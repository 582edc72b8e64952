"""The Slack Web API as the workers (and the bot) use it.

``deliver`` puts a message in front of one user where they started, in this order of
preference: the interaction's response URL (works even where the bot is not a member),
an ephemeral message in the channel, a direct message. Each step falls back to the next
when Slack says it cannot (expired URL, bot not in channel, channel gone).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from workers.settings import Settings
from workers.state import State

log = logging.getLogger(__name__)

# Slack errors that mean "this route cannot reach the user; try the next one".
FALLBACK_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "user_not_in_channel",
        "cannot_dm_bot",
        "no_permission",
        "missing_scope",
        "method_not_supported_for_channel_type",
    }
)


def retry_handlers() -> list[Any]:
    """slack_sdk's built-in retries: 429 (honouring Retry-After), connection errors, 5xx."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=2),
        ConnectionErrorRetryHandler(max_retry_count=2),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def web_client(settings: Settings, *, timeout: int = 10, retries: bool = True) -> WebClient:
    """A WebClient on ``SLACK_API_URL`` with the bot token and the retry handlers."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = WebClient(token=token, base_url=settings.slack_api_url, timeout=timeout)
    if retries:
        client.retry_handlers.extend(retry_handlers())
    return client


def user_tz(client: WebClient, state: State, team: str, user: str) -> str | None:
    """The user's IANA time zone, or ``None`` when Slack can't say.

    Cached in State for a day; on a miss, ``users.info`` is asked (with ``client``'s own
    timeout). Redis trouble only costs the cache, and Slack trouble is logged, not raised:
    the caller falls back to UTC.
    """
    with contextlib.suppress(redis.RedisError):
        if cached := state.get_user_tz(team, user):
            return cached
    try:
        tz = str(client.users_info(user=user)["user"].get("tz") or "")
    except Exception as exc:  # slow or failing Slack must not fail what asked
        log.info("event=tz_lookup_failed user=%s error=%s", user, type(exc).__name__)
        return None
    if not tz:
        return None
    with contextlib.suppress(redis.RedisError):
        state.set_user_tz(team, user, tz)
    return tz


@dataclass(frozen=True)
class Delivered:
    """How a message reached the user; ``channel``/``ts`` only for a real message."""

    route: str
    channel: str | None = None
    ts: str | None = None


def _via_response_url(url: str, message: dict[str, Any]) -> bool:
    client = WebhookClient(url, timeout=10, retry_handlers=retry_handlers())
    response = client.send(
        text=message["text"],
        blocks=message.get("blocks"),
        response_type="ephemeral",
        replace_original=False,
    )
    if response.status_code == 200:
        return True
    log.info(
        "event=response_url_failed status=%s body=%s", response.status_code, response.body[:100]
    )
    return False


def deliver(
    client: WebClient,
    *,
    user: str,
    channel: str | None,
    message: dict[str, Any],
    response_url: str | None = None,
) -> Delivered:
    """Show ``message`` to ``user`` where they started; see the module docstring.

    Raises:
        SlackApiError: when even the direct message fails for a reason other than the
            fallbacks above (the caller's job is retried).
    """
    if response_url:
        try:
            if _via_response_url(response_url, message):
                return Delivered("response_url")
        except Exception as exc:  # a dead URL must not stop the fallbacks
            log.info("event=response_url_error error=%s", type(exc).__name__)
    if channel:
        try:
            client.chat_postEphemeral(
                channel=channel, user=user, text=message["text"], blocks=message.get("blocks")
            )
            return Delivered("ephemeral")
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in FALLBACK_ERRORS:
                raise
            log.info("event=ephemeral_fallback channel=%s user=%s error=%s", channel, user, error)
    opened = client.conversations_open(users=[user])
    dm = opened["channel"]["id"]
    posted = client.chat_postMessage(channel=dm, text=message["text"], blocks=message.get("blocks"))
    return Delivered("dm", channel=dm, ts=posted.get("ts"))
