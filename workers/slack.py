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
from typing import Any, Literal
from urllib.parse import urlsplit

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from core.settings import Settings
from slack_ui.kit import SlackMessage
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


SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com"})
"""Where Slack's response URLs point. The host of ``SLACK_API_URL`` is allowed too (the
console and the tests' fake Slack serve response URLs beside their Web API)."""


def response_url_allowed(url: str, api_url: str) -> bool:
    """Whether ``url`` is a response URL we may post to (https on Slack's hooks host, or
    on the configured Web API's own scheme and host): never an address someone typed."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
    except ValueError:
        return False
    if target.scheme == "https" and target.hostname in SLACK_HOOK_HOSTS:
        return True
    return bool(api.netloc) and (target.scheme, target.netloc) == (api.scheme, api.netloc)


Retries = Literal["all", "rate_limits", "none"]


def retry_handlers(retries: Retries = "all") -> list[Any]:
    """slack_sdk's built-in retries: 429 (honouring Retry-After), connection errors, 5xx.

    ``"rate_limits"`` keeps only the 429 handler, for jobs whose own retries (RQ's, with
    a longer backoff) are the better answer to an outage than seconds of sleeping here.
    """
    if retries == "none":
        return []
    handlers: list[Any] = [RateLimitErrorRetryHandler(max_retry_count=2)]
    if retries == "all":
        handlers += [
            ConnectionErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ]
    return handlers


WEB_API_LOG = logging.getLogger("workers.slack.web_api")
"""The logger of every WebClient built here, at INFO whatever the process's level.

slack_sdk logs each request's parameters and each response's body at DEBUG whenever its
logger's *own* level is unset or DEBUG; ``oauth.v2.access`` answers with bot and refresh
tokens, and a refresh sends the refresh token, so those lines would hold secrets."""
WEB_API_LOG.setLevel(logging.INFO)


def web_client(settings: Settings, *, timeout: int = 10, retries: Retries = "all") -> WebClient:
    """A WebClient on ``SLACK_API_URL`` with the bot token and the retry handlers."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = WebClient(
        token=token, base_url=settings.slack_api_url, timeout=timeout, logger=WEB_API_LOG
    )
    client.retry_handlers.extend(retry_handlers(retries))
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


def is_admin(client: WebClient, state: State, team: str, user: str) -> bool:
    """Whether the user is a workspace admin or owner (``users.info``), cached an hour.

    When Slack can't say, the answer is no: a permission is never granted on a timeout.
    """
    with contextlib.suppress(redis.RedisError):
        cached = state.get_role(team, user)
        if cached is not None:
            return cached == "admin"
    try:
        info = client.users_info(user=user)["user"]
    except Exception as exc:  # slow or failing Slack: no admin rights today
        log.info("event=role_lookup_failed user=%s error=%s", user, type(exc).__name__)
        return False
    admin = bool(info.get("is_admin") or info.get("is_owner") or info.get("is_primary_owner"))
    with contextlib.suppress(redis.RedisError):
        state.set_role(team, user, "admin" if admin else "member")
    if info.get("tz"):
        with contextlib.suppress(redis.RedisError):
            state.set_user_tz(team, user, str(info["tz"]))
    return admin


@dataclass(frozen=True)
class Delivered:
    """How a message reached the user; ``channel``/``ts`` only for a real message."""

    route: str
    channel: str | None = None
    ts: str | None = None


def _via_response_url(url: str, message: dict[str, Any], handlers: list[Any]) -> bool:
    client = WebhookClient(url, timeout=10, retry_handlers=handlers)
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
    message: SlackMessage,
    response_url: str | None = None,
) -> Delivered:
    """Show ``message`` to ``user`` where they started; see the module docstring.

    Raises:
        SlackApiError: when even the direct message fails for a reason other than the
            fallbacks above (the caller's job is retried).
        SlackObjectFormationError: when ``message`` is not one Slack would take.
    """
    payload = message.to_dict()
    if response_url and not response_url_allowed(response_url, client.base_url):
        log.warning("event=response_url_refused user=%s", user)
        response_url = None
    if response_url:
        try:
            # The response URL gets the same retries as the Web API client.
            if _via_response_url(response_url, payload, list(client.retry_handlers)):
                return Delivered("response_url")
        except Exception as exc:  # a dead URL must not stop the fallbacks
            log.info("event=response_url_error error=%s", type(exc).__name__)
    if channel:
        try:
            client.chat_postEphemeral(
                channel=channel, user=user, text=payload["text"], blocks=payload.get("blocks")
            )
            return Delivered("ephemeral")
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error not in FALLBACK_ERRORS:
                raise
            log.info("event=ephemeral_fallback channel=%s user=%s error=%s", channel, user, error)
    opened = client.conversations_open(users=[user])
    dm = opened["channel"]["id"]
    posted = client.chat_postMessage(channel=dm, text=payload["text"], blocks=payload.get("blocks"))
    return Delivered("dm", channel=dm, ts=posted.get("ts"))


def _who_and_where(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(user, channel, response URL) of a Slack request, whatever its kind."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    channel = (
        body.get("channel_id")
        or (body.get("channel") or {}).get("id")
        or (body.get("container") or {}).get("channel_id")
    )
    response_url = body.get("response_url")
    urls = body.get("response_urls") or []
    if not response_url and urls and isinstance(urls[0], dict):
        response_url = urls[0].get("response_url")
    as_text = [v if isinstance(v, str) else None for v in (user, channel, response_url)]
    return as_text[0], as_text[1], as_text[2]


def tell_user(client: WebClient, body: dict[str, Any], text: str) -> bool:
    """Tell whoever made a Slack request something, only them, where they are.

    For failures after a request was acknowledged (an expired trigger, a forged button):
    the request's response URL, else an ephemeral in its channel, else a DM. Never raises.

    Returns:
        Whether it reached them.
    """
    user, channel, response_url = _who_and_where(body)
    if not user:
        return False
    try:
        deliver(
            client,
            user=user,
            channel=channel,
            message=SlackMessage(text=text),
            response_url=response_url,
        )
    except Exception as exc:
        log.warning("event=tell_user_failed user=%s error=%s", user, type(exc).__name__)
        return False
    return True
