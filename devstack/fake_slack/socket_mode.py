"""Slack's Socket Mode, faked on the fake Slack's own server.

A Socket Mode app (``rally-slack socket``) calls ``apps.connections.open`` with its
app-level token (``xapp-...``), opens the WebSocket URL it gets back, receives a
``hello``, then receives *envelopes* and answers each with an *ack* on the same socket:

    Slack → app   {"envelope_id": "...", "type": "slash_commands" | "interactive" |
                   "events_api", "payload": {...}, "accepts_response_payload": true}
    app → Slack   {"envelope_id": "...", "payload": {...}}     (payload optional)

:class:`SocketMode` is that server side for one fake workspace: the fake's
``apps.connections.open`` issues URLs through :meth:`SocketMode.issue_url`, the route
added by :func:`add_socket_mode_route` serves them, and a test pushes envelopes with
:meth:`SocketMode.push` and reads the app's acks with :meth:`SocketMode.wait_for_ack`.

The WebSocket server is flask-sock (over simple-websocket), imported only when the route
is registered, so the console runs without it (the route then answers 501).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, request

log = logging.getLogger(__name__)

DEFAULT_APP_TOKEN = "xapp-test-not-a-real-token"
LINK_PATH = "/link/"

# What Slack sets ``accepts_response_payload`` to: only where an ack may carry a body.
_RESPONSE_PAYLOAD_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})
_CLOSE = object()  # outbox sentinel: close this connection


@dataclass(frozen=True)
class Ack:
    """The app's answer to one envelope."""

    envelope_id: str
    payload: dict[str, Any] | None
    """The ack's ``payload`` (``None`` when the app acked with the envelope id alone)."""
    connection_id: str
    at: float


@dataclass
class SocketConnection:
    """One WebSocket an app opened with a ticket from ``apps.connections.open``."""

    id: str
    app_id: str
    opened_at: float
    hello_sent: bool = False
    closed: bool = False
    messages: list[Any] = field(default_factory=list)
    """Every message the app sent that was not an ack (parsed JSON, or the raw text)."""
    outbox: queue.Queue[Any] = field(default_factory=queue.Queue)


def form_payload(body: bytes) -> dict[str, str]:
    """A slash command's form body (see ``payloads.slash_command``) as Socket Mode sends it.

    Over HTTP Slack posts a slash command form-encoded; over Socket Mode the same fields
    arrive as a JSON object in the envelope's ``payload``.
    """
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


def slack_accepts_response_payload(envelope_type: str, payload: dict[str, Any]) -> bool:
    """Whether Slack lets the app answer this envelope with a payload."""
    if envelope_type == "slash_commands":
        return True
    if envelope_type == "interactive":
        return payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
    return False


class SocketMode:
    """The Socket Mode side of one fake workspace; thread-safe.

    Args:
        app_id: the app's id, as Slack puts it in ``hello`` and in the URL.
    """

    def __init__(self, *, app_id: str) -> None:
        self.app_id = app_id
        self._cond = threading.Condition()
        self.reset()

    def reset(self) -> None:
        """Close every connection and forget tickets, envelopes and acks."""
        with self._cond:
            for conn in getattr(self, "_connections", []):
                if not conn.closed:
                    conn.outbox.put(_CLOSE)
            self._tickets: dict[str, float] = {}
            self._connections: list[SocketConnection] = []
            self._envelopes: dict[str, dict[str, Any]] = {}
            self._acks: list[Ack] = []
            self._cond.notify_all()

    # ------------------------------------------------------------------ app side

    def issue_url(self, base_url: str) -> str:
        """A fresh WebSocket URL on ``base_url``'s server (what ``apps.connections.open`` returns)."""
        ticket = secrets.token_hex(16)
        parts = urlsplit(base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        with self._cond:
            self._tickets[ticket] = time.time()
        return f"{scheme}://{parts.netloc}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    def serve(self, ws: Any, ticket: str) -> None:
        """Run one connection until either side closes it (called by the route, per socket).

        Args:
            ws: a ``simple_websocket`` server connection (``send``/``receive``/``close``).
            ticket: the ``ticket`` query parameter of the URL the app opened.
        """
        with self._cond:
            # A URL from apps.connections.open is good for one connection.
            known = self._tickets.pop(ticket, None) is not None
            if known:
                conn = SocketConnection(id=ticket, app_id=self.app_id, opened_at=time.time())
                self._connections.append(conn)
            self._cond.notify_all()
        if not known:
            log.info("event=socket_mode_rejected reason=unknown_ticket")
            ws.close(reason=1008, message="invalid ticket")
            return
        log.info("event=socket_mode_connected connection=%s", conn.id[:8])
        try:
            ws.send(json.dumps(self._hello()))
            with self._cond:
                conn.hello_sent = True
                self._cond.notify_all()
            self._pump(ws, conn)
        finally:
            with self._cond:
                conn.closed = True
                self._cond.notify_all()
            log.info("event=socket_mode_closed connection=%s", conn.id[:8])

    def _hello(self) -> dict[str, Any]:
        with self._cond:
            open_now = sum(1 for c in self._connections if not c.closed)
        return {
            "type": "hello",
            "num_connections": open_now,
            "debug_info": {
                "host": "applink-fake-slack",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _pump(self, ws: Any, conn: SocketConnection) -> None:
        # Only this thread writes to the socket: envelopes wait in the outbox between reads.
        while True:
            while True:
                try:
                    item = conn.outbox.get_nowait()
                except queue.Empty:
                    break
                if item is _CLOSE:
                    ws.close()
                    return
                ws.send(item)
            data = ws.receive(timeout=0.02)
            if data is not None:
                self._received(conn, data)

    def _received(self, conn: SocketConnection, data: str | bytes) -> None:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        with self._cond:
            if isinstance(message, dict) and message.get("envelope_id"):
                payload = message.get("payload")
                self._acks.append(
                    Ack(
                        envelope_id=str(message["envelope_id"]),
                        payload=payload if isinstance(payload, dict) else None,
                        connection_id=conn.id,
                        at=time.time(),
                    )
                )
                log.info(
                    "event=socket_mode_ack envelope_id=%s has_payload=%s",
                    message["envelope_id"],
                    payload is not None,
                )
            else:
                conn.messages.append(message)
            self._cond.notify_all()

    # ------------------------------------------------------------------ test side

    def connections(self) -> list[SocketConnection]:
        """Every connection opened since the last reset, oldest first."""
        with self._cond:
            return list(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> SocketConnection:
        """The newest open connection that has received ``hello``, waiting up to ``timeout`` s."""
        return self._wait(self.live, timeout, "no Socket Mode connection")  # type: ignore[no-any-return]

    def live(self) -> SocketConnection | None:
        """The newest open connection that has received ``hello`` (envelopes go there)."""
        with self._cond:
            return next(
                (c for c in reversed(self._connections) if c.hello_sent and not c.closed), None
            )

    def push(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> str:
        """Send one envelope to the newest live connection; returns its ``envelope_id``.

        Args:
            envelope_type: ``slash_commands``, ``interactive`` or ``events_api``.
            payload: what Slack would POST over HTTP (a slash command as a dict, see
                :func:`form_payload`; an interaction's ``payload`` object; an event callback).
            accepts_response_payload: defaults to what Slack sets for this kind of envelope.
            retry_attempt: for ``events_api`` redeliveries (with ``retry_reason``).

        Raises:
            RuntimeError: when no app is connected.
        """
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": (
                accepts_response_payload
                if accepts_response_payload is not None
                else slack_accepts_response_payload(envelope_type, payload)
            ),
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or "timeout"
        with self._cond:
            conn = self.live()
            if conn is None:
                raise RuntimeError("no Socket Mode connection to push to")
            self._envelopes[envelope_id] = envelope
            conn.outbox.put(json.dumps(envelope))
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the live connection to reconnect, as Slack does before it closes a socket."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        with self._cond:
            conn = self.live()
            if conn is None:
                raise RuntimeError("no Socket Mode connection to disconnect")
            conn.outbox.put(json.dumps(message))

    def acks(self) -> list[Ack]:
        """Every ack received, oldest first."""
        with self._cond:
            return list(self._acks)

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Ack:
        """The app's ack of ``envelope_id``, waiting up to ``timeout`` s."""

        def find() -> Ack | None:
            return next((a for a in self._acks if a.envelope_id == envelope_id), None)

        return self._wait(find, timeout, f"no ack of envelope {envelope_id}")  # type: ignore[no-any-return]

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every change); return it."""
        return self._wait(condition, timeout, "condition not met")

    def _wait(self, condition: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{what} within {timeout}s")
                self._cond.wait(remaining)


def add_socket_mode_route(bp: Blueprint, socket_mode: SocketMode) -> None:
    """Serve ``socket_mode``'s WebSocket URLs (``LINK_PATH``) on ``bp``.

    flask-sock is imported here, not at module level, so the fake Web API and the console
    work without it installed; the route then explains what is missing.
    """
    try:
        from flask_sock import Sock
    except ImportError:

        @bp.route(LINK_PATH)
        def socket_mode_unavailable() -> Response:
            return Response(
                "Socket Mode needs flask-sock (pip install flask-sock)\n",
                status=501,
                mimetype="text/plain",
            )

        return

    @Sock().route(LINK_PATH, bp=bp)  # type: ignore[untyped-decorator]
    def socket_mode_link(ws: Any) -> None:
        socket_mode.serve(ws, request.args.get("ticket", ""))
