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
import logging
import os
import sys
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.app import create_app
from workers.settings import Settings
from workers.state import request_path_redis

log = logging.getLogger(__name__)

DEFAULT_THREADS = 8


def create_flask_app(settings: Settings, *, redis_conn: redis.Redis | None = None) -> Flask:
    """The WSGI app: Bolt at ``POST /slack/events`` and a health check at ``GET /healthz``."""
    conn = redis_conn if redis_conn is not None else request_path_redis(settings.redis_url)
    bolt = create_app(settings, redis=conn)
    handler = SlackRequestHandler(bolt)
    flask_app = Flask("rally-slack")

    @flask_app.post("/slack/events")
    def slack_events() -> Any:
        return handler.handle(request)

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


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rally-slack web", description="Serve Slack's requests over HTTP (gunicorn)."
    )
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    parser.add_argument(
        "--port", type=int, default=settings.port, help="port (default $PORT or 3000)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(2, os.cpu_count() or 1),
        help="gunicorn worker processes (default: cores, at least 2)",
    )
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (default 8)"
    )
    parser.add_argument("--log-level", default="info")
    return parser


def web_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rally-slack web``."""
    from gunicorn.app.base import BaseApplication

    settings = Settings()
    args = _parser(settings).parse_args(argv)
    settings.require("slack_signing_secret", "slack_bot_token")
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{args.host}:{args.port}",
                "workers": args.workers,
                "worker_class": "gthread",
                "threads": args.threads,
                "timeout": 30,
                "keepalive": 5,
                "loglevel": args.log_level,
                "accesslog": None,
            }
            for key, value in options.items():
                self.cfg.set(key, value)
            # gunicorn >= 25.1 opens a control socket at one path per user; a second
            # server on the machine (the sandbox in `dev`, a bench's floor) would fight
            # over it, and nothing here uses it.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Flask:
            # Built in each worker after fork: sockets (Redis, Slack) are never shared.
            return create_flask_app(settings)

    _Gunicorn().run()
    return 0


main = web_main
