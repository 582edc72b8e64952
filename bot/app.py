"""The Bolt app, built from settings: one app for HTTP (``bot.server``) and Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from slack_bolt import App, BoltContext
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from bot.listeners import register_all
from bot.services import CONTEXT_KEY, Services
from core.settings import Settings
from slack_ui import ids
from workers.slack import web_client

log = logging.getLogger(__name__)


class VerificationRequired(ValueError):
    """``create_app`` was asked to serve HTTP without a signing secret."""


def create_app(
    settings: Settings,
    *,
    redis: redis.Redis | None = None,
    verify_requests: bool = True,
    process_before_response: bool = False,
) -> App:
    """Build the app: signature checks, Web API client on ``SLACK_API_URL`` with retries.

    Args:
        settings: Configuration (SPEC §2).
        redis: Redis for state and queues; by default a fail-fast client on ``REDIS_URL``
            (answers within Slack's 3 seconds even when Redis is down).
        verify_requests: Check every request's Slack signature (``SLACK_SIGNING_SECRET``
            must be set). Only Socket Mode, where Slack's requests arrive over the app's
            own authenticated WebSocket, may pass ``False``; it is logged.
        process_before_response: Bolt's setting of that name: answer Slack only when the
            listener returns, instead of polling for ``ack()`` from a listener thread.
            Off in the product (listeners call ``views.open`` and ``chat.*`` after acking,
            which would then delay the answer); ``bench/bench_ack.py`` measures it (README,
            Performance).

    Raises:
        VerificationRequired: ``verify_requests`` without a non-empty signing secret.
    """
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    if verify_requests and not secret.strip():
        raise VerificationRequired(
            "SLACK_SIGNING_SECRET is empty: every HTTP request from Slack must be verified"
        )
    if not verify_requests:
        log.warning("event=request_verification_disabled reason=socket_mode")
    services = Services.from_settings(settings, conn=redis)
    common: dict[str, Any] = {
        "signing_secret": secret or None,
        # auth.test runs on the first request instead of at import: a worker booting
        # while Slack is unreachable still starts and serves /healthz.
        "token_verification_enabled": False,
        "request_verification_enabled": verify_requests,
        "logger": logging.getLogger("bot.bolt"),
        "process_before_response": process_before_response,
    }
    # One client for both modes (SLACK_API_URL, retries, a logger that never logs bodies);
    # in OAuth mode it has no token: Bolt's OAuth flow calls oauth.v2.access and rotates
    # tokens on it, and each request gets its team's token.
    client = web_client(settings)
    if settings.distributed:
        app = App(
            client=client, oauth_settings=oauth_settings(settings, services, client), **common
        )
    else:
        app = App(client=client, **common)

    @app.middleware
    def inject_services(context: BoltContext, next: Callable[[], Any]) -> Any:
        context[CONTEXT_KEY] = services
        return next()

    register_all(app)
    return app


def oauth_settings(settings: Settings, services: Services, client: WebClient) -> OAuthSettings:
    """Bolt's OAuth v2 flow on the durable store (tokens encrypted), state checked.

    ``/slack/install`` sends the person to Slack's consent page (beside ``SLACK_API_URL``:
    ``https://slack.com/oauth/v2/authorize``, or the console's), ``/slack/oauth_redirect``
    finishes it with ``oauth.v2.access``. Bolt rotates expiring tokens itself, on
    ``client`` (``SLACK_API_URL``'s): ``OAuthSettings`` alone would build its authorizer
    with a client of its own, which refreshes tokens at slack.com whatever
    ``SLACK_API_URL`` says, and logs what ``oauth.v2.access`` answers at DEBUG.
    """
    assert settings.slack_client_id and settings.slack_client_secret
    store = services.store
    installations = store.installation_store(settings.slack_client_id)
    secret = settings.slack_client_secret.get_secret_value()
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret,
        scopes=list(ids.BOT_SCOPES),
        installation_store=installations,
        state_store=store.state_store(),
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorize_url(settings.slack_api_url),
        installation_store_bot_only=True,
    )
    oauth.authorize = InstallationStoreAuthorize(
        logger=logging.getLogger("bot.bolt"),
        client_id=settings.slack_client_id,
        client_secret=secret,
        token_rotation_expiration_minutes=oauth.token_rotation_expiration_minutes,
        installation_store=installations,
        bot_only=True,
        client=client,
    )
    return oauth


INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


def authorize_url(api_url: str) -> str:
    """Slack's consent page beside its Web API (``…/api/`` → ``…/oauth/v2/authorize``)."""
    return api_url.rstrip("/").removesuffix("/api") + "/oauth/v2/authorize"
