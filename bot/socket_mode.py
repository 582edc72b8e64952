"""``rally-slack socket``: the same app over Socket Mode (no public URL needed)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot import envelope
from bot.app import create_app
from bot.listeners.guard import IN_FLIGHT
from core.settings import load_settings
from workers.slack import response_url_allowed

log = logging.getLogger(__name__)


class CheckedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, with the same shape check as the HTTP edge.

    A malformed envelope is acknowledged (so Slack does not redeliver it) and dropped
    with one log line, before Bolt builds a request from it.
    """

    def __init__(self, app: Any, app_token: str, *, api_url: str) -> None:
        super().__init__(app, app_token)
        self.api_url = api_url

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        try:
            envelope.check(
                req.payload,
                response_url_allowed=lambda url: response_url_allowed(url, self.api_url),
            )
        except envelope.Malformed as exc:
            log.warning("event=request_malformed transport=socket_mode reason=%s", exc)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        super().handle(client, req)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack socket`` takes no options of its own."""


def run(args: argparse.Namespace) -> int:
    """``rally-slack socket`` (needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN).

    Runs until SIGTERM or SIGINT, then closes the connection (letting acks in flight
    finish) and exits 0, so a supervisor's stop is an orderly one.
    """
    settings = load_settings()
    settings.require("slack_app_token")
    if not settings.distributed:
        settings.require("slack_bot_token")
    assert settings.slack_app_token is not None
    app = create_app(settings, verify_requests=False)
    handler = CheckedSocketModeHandler(
        app, settings.slack_app_token.get_secret_value(), api_url=settings.slack_api_url
    )

    # Bolt's handler.start() blocks on an Event nothing sets: SIGTERM would kill the
    # process mid-ack and SIGINT would end it with a traceback. Wait on our own instead.
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        handler.connect()  # type: ignore[no-untyped-call]
    except SlackApiError as exc:
        # apps.connections.open refused the app-level token (invalid_auth, not_allowed_token_type, ...).
        raise SystemExit(
            f"Socket Mode connection failed: {exc.response.get('error')} (check SLACK_APP_TOKEN)"
        ) from None
    except OSError as exc:
        # Slack's Web API unreachable even after the client's connection-error retries.
        raise SystemExit(
            f"Socket Mode connection failed: cannot reach {settings.slack_api_url} ({exc})"
        ) from None
    log.info("event=socket_mode_started")
    stop.wait()
    IN_FLIGHT.wait_idle(timeout=10)  # listeners already acknowledged finish their work
    handler.close()  # type: ignore[no-untyped-call]
    log.info("event=socket_mode_stopped signal=%s", received[0] if received else None)
    return 0
