"""The Bolt app, built from settings: one app for HTTP (``bot.server``) and Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import redis
from slack_bolt import App, BoltContext

from bot.listeners import register_all
from bot.services import CONTEXT_KEY, Services
from core.settings import Settings
from workers.slack import web_client

log = logging.getLogger(__name__)

_REGISTERED: WeakKeyDictionary[App, list[tuple[str, Any]]] = WeakKeyDictionary()
_RECORDED_METHODS = ("command", "shortcut", "view", "action", "event", "options", "message")


class _RecordingApp:
    """Passes registrations through to the app and notes each (kind, constraint)."""

    def __init__(self, app: App) -> None:
        self._app = app
        self.registered: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._app, name)
        if name not in _RECORDED_METHODS:
            return attr

        def record(constraint: Any, *args: Any, **kwargs: Any) -> Any:
            self.registered.append((name, constraint))
            return attr(constraint, *args, **kwargs)

        return record


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

    recorder = _RecordingApp(app)
    register_all(recorder)  # type: ignore[arg-type]
    _REGISTERED[app] = recorder.registered
    return app


def registered_listeners(app: App) -> list[tuple[str, Any]]:
    """(kind, constraint) of every listener ``create_app`` registered, e.g. ("command", "/rally")."""
    return list(_REGISTERED.get(app, []))
