"""gunicorn, embedded: every HTTP process (``web``, ``sandbox``) is one command, one tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from core import logging as core_logging


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's own lines (booting, worker timeouts) in the process's ``LOG_FORMAT``."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if core_logging.current_format() == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(core_logging.formatter("json"))


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """Serve the WSGI app ``factory`` builds, once in each worker after the fork (so no
    socket, to Redis, SQLite or Slack, is ever shared between processes)."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        # gunicorn >= 25.1 opens a control socket at one path per user by default, which
        # two servers on one machine (sandbox and web, or parallel tests) would fight over.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return self._factory()


def gthread_options(
    *, host: str, port: int, workers: int, threads: int, log_level: str, **extra: Any
) -> dict[str, Any]:
    """gunicorn settings for a thread-per-request server (the handlers mostly wait on I/O)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "keepalive": 5,
        "loglevel": log_level.lower(),
        "errorlog": "-",
        "accesslog": None,
        "logger_class": GunicornLogger,
        **extra,
    }
