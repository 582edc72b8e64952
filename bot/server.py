"""``rally-slack web``: the app over HTTP under gunicorn.

Routes: ``POST /slack/events`` (commands, interactivity and events, all signed) and
``GET /healthz`` (JSON; 503 when Redis does not answer).

Recommended production settings (the defaults of ``rally-slack web``): gunicorn's
``gthread`` worker class, ``--workers`` = number of cores (2 minimum), 8 threads per
worker, ``timeout`` 30 s, ``keepalive`` 5 s. Slack needs an answer within 3 seconds and a
handler mostly waits on Redis or Slack's Web API, so threads (not processes) give the
concurrency; more processes only help past one core of Python. Put a TLS-terminating
proxy (or the platform's load balancer) in front; Slack only calls HTTPS URLs.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from functools import partial
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.flask.handler import SlackRequestHandler, to_flask_response
from slack_bolt.request.internals import (
    build_normalized_headers,
    extract_content_type,
    parse_body,
)
from slack_sdk.signature import SignatureVerifier

from bot import envelope
from bot.app import INSTALL_PATH, REDIRECT_PATH, create_app
from core.redis import request_path_redis
from core.settings import Settings, load_settings
from core.wsgi import GunicornServer, gthread_options
from workers.slack import response_url_allowed

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}\Z")
MAX_BODY_BYTES = 1024 * 1024
"""Slack's payloads are far smaller; anything over 1 MiB is refused unread (413)."""


def _answer(status: int, error: str) -> tuple[Response, int]:
    return jsonify({"ok": False, "error": error}), status


class SlackEdge:
    """``POST /slack/events``: everything a request must pass before Bolt sees it.

    In this order, so nothing unauthenticated is parsed or logged: the size (413 past
    :data:`MAX_BODY_BYTES`, without reading it whole), the signature on the raw bytes
    (401; the log gets a length and a hash, never the body), then the payload's shape
    (400, see :mod:`bot.envelope`). Only then is a ``BoltRequest`` built and dispatched.
    """

    def __init__(self, bolt: App, signing_secret: str, api_url: str) -> None:
        self.bolt = bolt
        self.verifier = SignatureVerifier(signing_secret)
        self.response_url_allowed = partial(response_url_allowed, api_url=api_url)

    def __call__(self) -> Any:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return self._refuse(413, "body_too_large", request.content_length or 0, b"")
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return self._refuse(413, "body_too_large", len(raw), b"")
        if not self._signed(raw):
            return self._refuse(401, "invalid_signature", len(raw), raw)
        try:
            text = raw.decode("utf-8")
            headers: dict[str, str | Sequence[str]] = dict(request.headers)
            envelope.check(_parse(text, headers), response_url_allowed=self.response_url_allowed)
            bolt_request = BoltRequest(
                body=text, query=request.query_string.decode("latin-1"), headers=headers
            )
        except Exception as exc:
            # Malformed: our shape check; ValueError/RecursionError: not JSON, or nested too
            # deep; anything else: a shape Bolt's own reader trips on that the check let by.
            reason = str(exc) if isinstance(exc, envelope.Malformed) else type(exc).__name__
            log.warning("event=request_malformed length=%d reason=%s", len(raw), reason)
            return _answer(400, "malformed_request")
        return to_flask_response(self.bolt.dispatch(bolt_request))

    def _signed(self, raw: bytes) -> bool:
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not _TIMESTAMP_RE.match(timestamp) or not signature:
            return False
        return self.verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)

    @staticmethod
    def _refuse(status: int, error: str, length: int, raw: bytes) -> tuple[Response, int]:
        digest = hashlib.sha256(raw).hexdigest()[:16] if raw else "-"
        log.info(
            "event=request_refused status=%d error=%s length=%d sha256=%s",
            status,
            error,
            length,
            digest,
        )
        return _answer(status, error)


def _parse(text: str, headers: dict[str, str | Sequence[str]]) -> Any:
    """The payload exactly as Bolt will read it (its own parser, so the two cannot differ)."""
    content_type = extract_content_type(build_normalized_headers(headers))
    return parse_body(text, content_type)


def create_flask_app(settings: Settings, *, redis_conn: redis.Redis | None = None) -> Flask:
    """The WSGI app: Bolt at ``POST /slack/events`` and a health check at ``GET /healthz``.

    Raises:
        VerificationRequired: ``SLACK_SIGNING_SECRET`` is not set.
    """
    conn = redis_conn if redis_conn is not None else request_path_redis(settings.redis_url)
    bolt = create_app(settings, redis=conn)
    assert settings.slack_signing_secret is not None  # create_app refuses to run without it
    edge = SlackEdge(bolt, settings.slack_signing_secret.get_secret_value(), settings.slack_api_url)
    # No static folder: Flask would otherwise serve /static/<path> from the working directory.
    flask_app = Flask("rally-slack", static_folder=None)
    flask_app.add_url_rule("/slack/events", "slack_events", edge, methods=["POST"])
    if bolt.oauth_flow is not None:
        oauth = SlackRequestHandler(bolt)

        def oauth_page() -> Any:
            # Bolt checks the state (cookie and store) and answers any odd query itself;
            # anything it trips on is the caller's fault, never a 500.
            try:
                return oauth.handle(request)
            except Exception as exc:
                log.warning(
                    "event=oauth_page_failed path=%s error=%s", request.path, type(exc).__name__
                )
                return _answer(400, "bad_oauth_request")

        flask_app.add_url_rule(INSTALL_PATH, "slack_install", oauth_page, methods=["GET"])
        flask_app.add_url_rule(REDIRECT_PATH, "slack_oauth_redirect", oauth_page, methods=["GET"])

    @flask_app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            conn.ping()
            status, code = "ok", 200
        except redis.RedisError as exc:
            log.warning("event=healthz_redis_down error=%s", type(exc).__name__)
            status, code = "down", 503
        return jsonify({"status": "ok" if code == 200 else "degraded", "redis": status}), code

    return flask_app


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack web``'s options."""
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default $PORT or 3000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=max(2, os.cpu_count() or 1),
        help="gunicorn worker processes (default: cores, at least 2)",
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (default 8)"
    )


def run(args: argparse.Namespace) -> int:
    """``rally-slack web``: gunicorn (gthread) serving :func:`create_flask_app`."""
    settings = load_settings()
    settings.require("slack_signing_secret")
    if not settings.distributed:
        settings.require("slack_bot_token")
    options = gthread_options(
        host=args.host,
        port=args.port or settings.port,
        workers=args.workers,
        threads=args.threads,
        log_level=args.log_level,
        timeout=30,
    )
    # Built in each worker after fork: sockets (Redis, Slack) are never shared.
    GunicornServer(lambda: create_flask_app(settings), options).run()
    return 0
