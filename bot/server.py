"""``rally-slack web``: the app over HTTP under gunicorn.

Routes: ``POST /slack/events`` (commands, interactivity and events, all signed) and
``GET /healthz`` (JSON naming each dependency; 503 when Redis or the database does not
answer). ``GET /metrics`` is not among them: with ``--metrics-port`` it is served from
gunicorn's master on its own interface and port (:mod:`core.metrics`), never here.

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
import time
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
from sqlalchemy import text as sql

from bot import envelope
from bot.app import INSTALL_PATH, REDIRECT_PATH, create_app
from core import logging as core_logging
from core import metrics
from core.redis import request_path_redis
from core.settings import Settings, load_settings
from core.wsgi import GunicornServer, gthread_options
from workers.slack import response_url_allowed
from workers.workspace import store_of

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
        started = time.perf_counter()
        kind, response = self._serve()
        status = response[1] if isinstance(response, tuple) else response.status_code
        metrics.ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        metrics.REQUESTS.labels(kind, str(status)).inc()
        return response

    def _serve(self) -> tuple[str, Any]:
        """The request's kind (:func:`request_kind`) and the answer to it."""
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return "unknown", self._refuse(413, "body_too_large", request.content_length or 0, b"")
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            return "unknown", self._refuse(413, "body_too_large", len(raw), b"")
        if not self._signed(raw):
            return "unknown", self._refuse(401, "invalid_signature", len(raw), raw)
        kind = "unknown"
        try:
            text = raw.decode("utf-8")
            headers: dict[str, str | Sequence[str]] = dict(request.headers)
            body = _parse(text, headers)
            kind = request_kind(body)
            envelope.check(body, response_url_allowed=self.response_url_allowed)
            bolt_request = BoltRequest(
                body=text, query=request.query_string.decode("latin-1"), headers=headers
            )
        except Exception as exc:
            # Malformed: our shape check; ValueError/RecursionError: not JSON, or nested too
            # deep; anything else: a shape Bolt's own reader trips on that the check let by.
            reason = str(exc) if isinstance(exc, envelope.Malformed) else type(exc).__name__
            log.warning("event=request_malformed length=%d reason=%s", len(raw), reason)
            return kind, _answer(400, "malformed_request")
        team, user = _who(body)
        with core_logging.bind(team=team, user=user):
            return kind, to_flask_response(self.bolt.dispatch(bolt_request))

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


_KINDS = {
    "block_actions": "action",
    "interactive_message": "action",
    "view_submission": "view",
    "view_closed": "view",
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "block_suggestion": "options",
    "dialog_suggestion": "options",
    "event_callback": "event",
    "url_verification": "event",
    "app_rate_limited": "event",
}


def request_kind(body: Any) -> str:
    """What Slack sent, for the metrics: one of :data:`core.metrics.KINDS`."""
    if not isinstance(body, dict):
        return "unknown"
    if "command" in body and body.get("type") is None:
        return "command"
    kind = body.get("type")
    return _KINDS.get(kind, "unknown") if isinstance(kind, str) else "unknown"


def _who(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The team and user ids of a payload that passed :func:`envelope.check` (for logs)."""
    team, user = body.get("team_id"), body.get("user_id")
    if isinstance(body.get("team"), dict):
        team = body["team"].get("id")
    if isinstance(body.get("user"), dict):
        user = body["user"].get("id")
    elif isinstance(body.get("event"), dict) and isinstance(body["event"].get("user"), str):
        user = body["event"]["user"]
    return (
        team if isinstance(team, str) else None,
        user if isinstance(user, str) else None,
    )


def _parse(text: str, headers: dict[str, str | Sequence[str]]) -> Any:
    """The payload exactly as Bolt will read it (its own parser, so the two cannot differ)."""
    content_type = extract_content_type(build_normalized_headers(headers))
    return parse_body(text, content_type)


def create_flask_app(
    settings: Settings,
    *,
    redis_conn: redis.Redis | None = None,
    process_before_response: bool = False,
) -> Flask:
    """The WSGI app: Bolt at ``POST /slack/events`` and a health check at ``GET /healthz``.

    ``process_before_response`` is Bolt's (see :func:`bot.app.create_app`); only the ack
    benchmark turns it on.

    Raises:
        VerificationRequired: ``SLACK_SIGNING_SECRET`` is not set.
    """
    conn = redis_conn if redis_conn is not None else request_path_redis(settings.redis_url)
    bolt = create_app(settings, redis=conn, process_before_response=process_before_response)
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
        checks = {"redis": _redis_up(conn), "database": _database_up(settings)}
        up = all(state == "ok" for state in checks.values())
        return jsonify({"status": "ok" if up else "degraded", **checks}), 200 if up else 503

    return flask_app


def _redis_up(conn: redis.Redis) -> str:
    try:
        conn.ping()
        return "ok"
    except redis.RedisError as exc:
        log.warning("event=healthz_down dependency=redis error=%s", type(exc).__name__)
        return "down"


def _database_up(settings: Settings) -> str:
    try:
        with store_of(settings).engine.connect() as connection:
            connection.execute(sql("SELECT 1"))
        return "ok"
    except Exception as exc:  # any failure to answer is "down", never a 500
        log.warning("event=healthz_down dependency=database error=%s", type(exc).__name__)
        return "down"


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
    metrics.add_arguments(parser, "Slack requests and ack latency, of every gunicorn worker")


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
    if args.metrics_port is not None:
        if str(args.metrics_port) == options["bind"].rsplit(":", 1)[1]:
            raise SystemExit("--metrics-port must differ from the public port")
        metrics.enable()
        # From gunicorn's master, which outlives its workers: each worker writes its own
        # file, the master's endpoint adds them up, and a dead worker's live gauges go.
        metrics.serve(args.metrics_port, args.metrics_host)
        options["child_exit"] = lambda _server, worker: metrics.mark_process_dead(worker.pid)
    # Built in each worker after fork: sockets (Redis, Slack) are never shared.
    try:
        GunicornServer(lambda: create_flask_app(settings), options).run()
    finally:
        metrics.disable()
    return 0
