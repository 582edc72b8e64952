"""Logging, configured once per process by the CLI.

One event per line: ``event=<name> key=value ...`` after the time, level and logger.
Values that come from people are logged with ``%r`` or not at all, so a newline in them
can never forge a line; secrets are never logged.

``LOG_FORMAT=json`` (production) writes one JSON object per line instead: ``time``,
``level``, ``logger``, ``message``, the ids of what the line is about (``team``,
``user``, ``job``, ``activity``, ...) and ``exception`` when there is one. The ids come
from two places: what the request or job being served bound (:func:`bind`: Slack's team
and user at the edge and in every listener, the job and its arguments in a work horse),
and the message's own ``key=%s`` pairs, whose keys are the code's (never the values',
so a value cannot make up a field). As a last guard, anything shaped like a Slack token
is replaced by ``[redacted]`` in both formats.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_CONTEXT: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("log_context")
# Slack's token shapes (bot, user, app-level, refresh, configuration, workflow).
_TOKEN = re.compile(r"\bx(?:ox[abeoprs]|app|oxe\.xox[bp])-[A-Za-z0-9.\-]+")
_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")
_KEY_BEFORE = re.compile(r"([a-z][a-z0-9_]*)=$")
_RESERVED = frozenset({"time", "level", "logger", "message", "exception"})


def redact(text: str) -> str:
    """``text`` with every Slack-token-shaped word replaced."""
    return _TOKEN.sub("[redacted]", text)


def context() -> dict[str, str]:
    """The ids bound for what this thread is serving now."""
    return _CONTEXT.get({})


@contextmanager
def bind(**ids: object) -> Iterator[None]:
    """Add ``ids`` (those not ``None``) to every line logged inside the block."""
    fresh = {key: str(value) for key, value in ids.items() if value not in (None, "")}
    token = _CONTEXT.set({**_CONTEXT.get({}), **fresh})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def bind_here(**ids: object) -> None:
    """Add ``ids`` for the rest of this context (a work horse: one job, then it exits)."""
    fresh = {key: str(value) for key, value in ids.items() if value not in (None, "")}
    _CONTEXT.set({**_CONTEXT.get({}), **fresh})


@functools.lru_cache(maxsize=2048)
def _keys_of(fmt: str) -> tuple[str | None, ...]:
    """For each ``%`` placeholder of ``fmt`` in order, the ``key=`` written before it."""
    keys: list[str | None] = []
    for match in _SPEC.finditer(fmt):
        if match.group() == "%%":
            continue
        before = _KEY_BEFORE.search(fmt, 0, match.start())
        keys.append(before.group(1) if before else None)
    return tuple(keys)


def _fields_of(record: logging.LogRecord) -> dict[str, str]:
    args = record.args
    if not isinstance(record.msg, str) or not isinstance(args, tuple) or not args:
        return {}
    fields: dict[str, str] = {}
    for key, value in zip(_keys_of(record.msg), args, strict=False):
        if key and key not in _RESERVED:
            fields[key] = str(value)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(context())
        line.update(_fields_of(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return redact(json.dumps(line, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """The readable default, with the same last guard against tokens."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def formatter(fmt: str = "text") -> logging.Formatter:
    """The formatter of ``LOG_FORMAT`` ``fmt``."""
    return JsonFormatter() if fmt == "json" else TextFormatter(FORMAT)


_configured = {"fmt": "text"}


def current_format() -> str:
    """The ``LOG_FORMAT`` :func:`configure` set up (``text`` before it ran)."""
    return _configured["fmt"]


def configure(level: str = "info", fmt: str = "text") -> None:
    """Send every logger's records at ``level`` and above to stderr, one line each."""
    _configured["fmt"] = fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # httpx logs every request at INFO: the workers' own events say what matters.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
