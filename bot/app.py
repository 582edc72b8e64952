"""The Bolt app, built from settings: one app for HTTP (``bot.server``) and Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from slack_bolt import App, BoltContext

from bot.listeners import register_all
from bot.services import CONTEXT_KEY, Services
from core.settings import Settings
from workers.slack import web_client

log = logging.getLogger(__name__)


class VerificationRequired(ValueError):
    """``create_app`` was asked to serve HTTP without a signing secret."""


def create_app(
    settings: Settings, *, redis: redis.Redis | None = None, verify_requests: bool = True
) -> App:
    """Build the app: signature checks, Web API client on ``SLACK_API_URL`` with retries.

    Args:
        settings: Configuration (SPEC §2).
        redis: Redis for state and queues; by default a fail-fast client on ``REDIS_URL``
            (answers within Slack's 3 seconds even when Redis is down).
        verify_requests: Check every request's Slack signature (``SLACK_SIGNING_SECRET``
            must be set). Only Socket Mode, where Slack's requests arrive over the app's
            own authenticated WebSocket, may pass ``False``; it is logged.

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
    app = App(
        signing_secret=secret or None,
        client=web_client(settings),
        # auth.test runs on the first request instead of at import: a worker booting
        # while Slack is unreachable still starts and serves /healthz.
        token_verification_enabled=False,
        request_verification_enabled=verify_requests,
        logger=logging.getLogger("bot.bolt"),
    )
    services = Services.from_settings(settings, conn=redis)

    @app.middleware
    def inject_services(context: BoltContext, next: Callable[[], Any]) -> Any:
        context[CONTEXT_KEY] = services
        return next()

    register_all(app)
    return app
