"""What the CSV import tests share: a file of N rows with chosen invalid ones, and a
sandbox wrapper that records every Activities API request."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

HEADER = "activityType,subject,body,dueDate,priority,callDirection,callDurationSeconds,dealId"
DEAL = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"

# (row as written, the column the preview must name)
INVALID_ROWS: list[tuple[str, str]] = [
    ("call,,no subject,,,outbound,60,", "subject"),
    ('task,Bad due date,,"next blursday",high,,,', "dueDate"),
    ("call,Priority on a call,,,high,inbound,,", "priority"),
    (f"note,Bad deal,,,,,,{DEAL[:-1]}", "dealId"),
    ("email,Not a type,,,,,,", "activityType"),
]


def valid_row(n: int) -> str:
    match n % 4:
        case 0:
            return f"call,Call {n},Talked about pricing,,,outbound,{60 + n},{DEAL}"
        case 1:
            return f"task,Task {n},,2026-12-{1 + n % 28:02d}T09:00:00Z,normal,,,{DEAL}"
        case 2:
            return f'note,"Note {n}, with a comma","Line one\nline two",,,,,'
        case _:
            return f"meeting,Meeting {n},,,,,,{DEAL}"


def csv_bytes(
    rows: int, *, invalid_every: int = 50, delimiter: str = ","
) -> tuple[bytes, list[int]]:
    """A file of ``rows`` data rows, an invalid one every ``invalid_every`` rows (cycling
    through ``INVALID_ROWS``); returns the bytes and the invalid rows' numbers (header = 1)."""
    lines = [HEADER]
    invalid: list[int] = []
    for n in range(rows):
        if (
            invalid_every
            and n % invalid_every == invalid_every // 2
            and len(invalid) < len(INVALID_ROWS)
        ):
            lines.append(INVALID_ROWS[len(invalid)][0])
            invalid.append(n + 2)
        else:
            lines.append(valid_row(n))
    text = "\r\n".join(lines) + "\r\n"
    if delimiter != ",":
        text = text.replace(",", delimiter)
    return text.encode(), invalid


@dataclass
class Recorded:
    method: str
    path: str
    items: int
    key: str | None
    status: int = 0
    replayed: bool = False


@dataclass
class RecordingApi:
    """The sandbox, recording each request (method, path, items in a bulk body, key)."""

    sandbox: Flask
    requests: list[Recorded] = field(default_factory=list)
    before_answer: Callable[[Recorded], None] | None = None
    outage: bool = False
    """While set, every bulk POST is answered 503 without reaching the sandbox."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        items = 0
        if environ["PATH_INFO"].endswith("/bulk") and body:
            parsed = json.loads(body)
            items = len(parsed if isinstance(parsed, list) else parsed.get("activities", []))
        seen = Recorded(
            environ["REQUEST_METHOD"],
            environ["PATH_INFO"],
            items,
            environ.get("HTTP_IDEMPOTENCY_KEY"),
        )

        def recording(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen.status = int(status.split()[0])
            seen.replayed = dict(headers).get("Idempotent-Replayed") == "true"
            return start_response(status, headers, *exc)

        if self.outage and seen.path.endswith("/bulk"):
            seen.status = 503
            with self._lock:
                self.requests.append(seen)
            start_response(
                "503 Service Unavailable", [("Content-Type", "application/problem+json")]
            )
            return [b'{"title": "Service Unavailable", "status": 503}']
        answer = b"".join(self.sandbox.wsgi_app(environ, recording))
        with self._lock:
            self.requests.append(seen)
        if self.before_answer is not None:
            self.before_answer(seen)
        return [answer]

    def posts(self, kind: str) -> list[Recorded]:
        path = "/api/v1/activities/bulk" if kind == "bulk" else "/api/v1/activities"
        return [r for r in self.requests if r.method == "POST" and r.path == path]
