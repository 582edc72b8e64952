"""The Slack console: a page that plays Slack for one workspace, in front of the real bot.

The page (``static/``) only shows state and forwards what a person does. This module
turns each gesture into exactly what Slack would send (a signed slash command, a
``block_actions``/``view_submission``/shortcut payload, an ``app_home_opened`` event),
POSTs it to the bot's ``/slack/events`` over HTTP, and applies the answer as Slack does:
a slash command's acknowledgement body is shown to the person, a view submission's
``response_action`` updates, pushes, clears or marks errors on the modal, an answer
slower than Slack's three seconds is reported the way Slack reports it. The bot's own Web
API calls land in the same :class:`~devstack.fake_slack.server.FakeSlack`, served by this app
at ``api/`` (point ``SLACK_API_URL`` there), so the page sees them.

Served only by ``rally-slack dev`` (mounted at ``/console``) and by the browser tests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from flask import Blueprint, Flask, Response, abort, jsonify, redirect, request

from devstack.fake_slack import payloads
from devstack.fake_slack.server import (
    BOT_USER_ID,
    TEAM_ID,
    TEAM_NAME,
    FakeSlack,
    create_blueprint,
)

log = logging.getLogger("console")

# Slack gives an app three seconds to acknowledge, then shows the person an error.
ACK_DEADLINE_S = 3.0
_STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


@dataclass(frozen=True)
class Shortcut:
    """A shortcut the app declares (``manifest.yml``)."""

    callback_id: str
    name: str
    kind: str  # "global" | "message"


DEFAULT_SHORTCUTS = (
    Shortcut("log_activity", "Log activity", "global"),
    Shortcut("log_as_note", "Log as note", "message"),
)


def read_manifest(path: str = "manifest.yml") -> dict[str, Any]:
    """``manifest.yml`` as a dict (empty when it is missing or unreadable)."""
    try:
        import yaml

        with open(path, encoding="utf-8") as fh:
            manifest = yaml.safe_load(fh) or {}
    except (OSError, ImportError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def messages_tab_read_only(manifest: dict[str, Any]) -> bool:
    """Whether people cannot write in the app's Messages tab (``app_home`` settings)."""
    home = (manifest.get("features") or {}).get("app_home") or {}
    return bool(home.get("messages_tab_read_only_enabled", False))


def shortcuts_from_manifest(path: str = "manifest.yml") -> tuple[Shortcut, ...]:
    """The shortcuts ``manifest.yml`` declares, or :data:`DEFAULT_SHORTCUTS` without one."""
    manifest = read_manifest(path)
    declared = (manifest.get("features") or {}).get("shortcuts") or []
    found = tuple(
        Shortcut(
            str(s["callback_id"]),
            str(s.get("name") or s["callback_id"]),
            str(s.get("type", "global")),
        )
        for s in declared
        if isinstance(s, dict) and s.get("callback_id")
    )
    return found or DEFAULT_SHORTCUTS


@dataclass
class BotAnswer:
    """What the bot's ``/slack/events`` answered one request with."""

    status: int
    body: str
    elapsed_s: float
    error: str | None = None
    deadline_s: float = ACK_DEADLINE_S

    def json(self) -> dict[str, Any]:
        """The body as a JSON object (empty when it is empty or not JSON)."""
        try:
            value = json.loads(self.body) if self.body.strip() else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        """Whether Slack would take this as an acknowledgement."""
        return self.error is None and self.status == 200 and self.elapsed_s <= self.deadline_s


@dataclass
class Console:
    """The state the page adds to Slack's: notices, and the door to the bot.

    Args:
        fake: the workspace (its Web API is what the bot calls).
        events_url: the bot's ``/slack/events``.
        signing_secret: the bot's signing secret, to sign requests as Slack does.
        shortcuts: the app's shortcuts (global and message).
        command: the app's slash command.
    """

    fake: FakeSlack
    events_url: str
    signing_secret: str
    shortcuts: Sequence[Shortcut] = DEFAULT_SHORTCUTS
    command: str = "/rally"
    messages_tab_read_only: bool = False
    ack_deadline_s: float = ACK_DEADLINE_S
    timeout_s: float = 10.0
    notices: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---------------------------------------------------------------- the door

    def send(self, body: bytes, *, headers: dict[str, str] | None = None) -> BotAnswer:
        """POST ``body`` to the bot, signed now, as Slack would."""
        signed = payloads.signed_headers(body, self.signing_secret)
        started = time.monotonic()
        try:
            response = httpx.post(
                self.events_url,
                content=body,
                headers={**signed, **(headers or {})},
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            elapsed = time.monotonic() - started
            log.warning("console.send_failed url=%s error=%s", self.events_url, type(exc).__name__)
            return BotAnswer(0, "", elapsed, error=type(exc).__name__)
        elapsed = time.monotonic() - started
        log.info(
            "console.sent status=%s elapsed_ms=%d bytes=%d",
            response.status_code,
            elapsed * 1000,
            len(body),
        )
        return BotAnswer(
            response.status_code, response.text, elapsed, deadline_s=self.ack_deadline_s
        )

    def notice(self, user: str, text: str, *, channel: str | None = None) -> None:
        """A line Slack itself would show the person (e.g. an app that did not answer)."""
        with self._lock:
            self.notices.append(
                {"user": user, "channel": channel, "text": text, "ts": f"{time.time():.6f}"}
            )
            del self.notices[:-50]
        self.fake.touch()

    def _failed(self, user: str, what: str, answer: BotAnswer, channel: str | None) -> None:
        if answer.error:
            why = f"the app could not be reached ({answer.error})"
        elif answer.status != 200:
            why = f"the app answered HTTP {answer.status} (http_service_error)"
        else:
            why = f"the app took {answer.elapsed_s:.1f}s to answer (operation_timeout)"
        self.notice(user, f"{what} failed: {why}", channel=channel)

    # ---------------------------------------------------------------- gestures

    def type_message(
        self, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """The person sends ``text`` in ``channel``: a slash command or a plain message."""
        text = text.strip()
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command != self.command:
                self.notice(user, f"{command} is not a valid command.", channel=channel)
                return {"ok": False, "error": "unknown_command"}
            return self.slash_command(user, channel, rest.strip())
        message = self.fake.post_as_user(channel, user, text, thread_ts=thread_ts)
        return {"ok": True, "ts": message["ts"]}

    def slash_command(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """``/rally <text>`` from ``user`` in ``channel``."""
        body = payloads.slash_command(
            text,
            user=user,
            channel=channel,
            command=self.command,
            response_url=self.fake.new_response_url(channel=channel, user=user),
            trigger_id=self.fake.new_trigger_id(user),
            channel_name=self._channel_name(channel),
        )
        answer = self.send(body)
        if not answer.ok:
            self._failed(user, f"{self.command} {text}".strip(), answer, channel)
        else:
            # A slash command's acknowledgement may carry a message: Slack shows it.
            reply = answer.json() if answer.body.strip() else {}
            if not reply and answer.body.strip():
                reply = {"text": answer.body}
            if reply.get("text") or reply.get("blocks"):
                self.fake.show_from_app(
                    channel,
                    user,
                    reply.get("text", ""),
                    reply.get("blocks"),
                    in_channel=reply.get("response_type") == "in_channel",
                )
        return {
            "ok": answer.ok,
            "status": answer.status,
            "elapsed_ms": int(answer.elapsed_s * 1000),
        }

    def _channel_name(self, channel: str) -> str:
        known = self.fake.channels.get(channel)
        if known is None or known.is_im:
            return "directmessage"
        return known.name

    def press(
        self,
        user: str,
        *,
        block_id: str,
        action_id: str,
        value: Any = None,
        channel: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
        view_id: str | None = None,
        form: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The person uses an interactive element in a message, a modal or the Home tab."""
        view = self._lookup_view(user, view_id) if view_id else None
        blocks = (view or {}).get("blocks") or []
        message = None
        if view is None:
            message = self._lookup_message(user, channel, message_ts, ephemeral)
            if message is None:
                abort(404, "no such message")
            blocks = message.get("blocks") or []
        element = _find_element(blocks, block_id, action_id)
        if element is None:
            abort(404, "no such element")
        action = _action_from_element(element, block_id, value, self._tz(user))
        trigger = self.fake.new_trigger_id(user)
        if view is not None:
            state = state_from_form(view, form or {}, self._tz(user))
            payload = payloads.block_actions(
                action, user=user, trigger_id=trigger, view=view, state_values=state
            )
        else:
            assert message is not None
            payload = payloads.block_actions(
                action,
                user=user,
                trigger_id=trigger,
                channel=channel,
                message=None if ephemeral else message,
                is_ephemeral=ephemeral,
                response_url=self.fake.new_response_url(
                    channel=channel, user=user, message_ts=message_ts, ephemeral=ephemeral
                ),
                state_values=state_from_form({"blocks": blocks}, form or {}, self._tz(user)),
            )
            payload["container"]["message_ts"] = message_ts
        answer = self.send(payloads.interactive_body(payload))
        if not answer.ok:
            self._failed(user, "That action", answer, channel)
        return {"ok": answer.ok, "status": answer.status}

    def submit(self, user: str, view_id: str, form: dict[str, Any]) -> dict[str, Any]:
        """The person presses the modal's submit button."""
        view = self._lookup_view(user, view_id)
        if view is None:
            abort(404, "no such view")
        state = state_from_form(view, form, self._tz(user))
        with self.fake._cond:
            live = self.fake._views.get(view_id)
            if live is not None:
                live["state"] = {"values": state}
                live.pop("_errors", None)
        payload = payloads.view_submission(
            view, state, user=user, trigger_id=self.fake.new_trigger_id(user)
        )
        answer = self.send(payloads.interactive_body(payload))
        if not answer.ok:
            # Slack keeps the modal open and says it could not reach the app.
            self._set_view_problem(view_id, "We had some trouble connecting. Try again?")
            self._failed(user, "Submitting the form", answer, None)
            return {"ok": False, "status": answer.status}
        reply = answer.json()
        problems = self.fake.apply_response_action(self._owner(user, view_id), view_id, reply)
        if problems:
            self._set_view_problem(
                view_id, "The app answered with an invalid view: " + "; ".join(problems)
            )
        return {
            "ok": True,
            "status": answer.status,
            "response_action": reply.get("response_action"),
        }

    def suggest(
        self, user: str, view_id: str, *, block_id: str, action_id: str, value: str
    ) -> dict[str, Any]:
        """The person types into an ``external_select``: Slack's ``block_suggestion`` to the
        options URL, and the options the app answered."""
        view = self._lookup_view(user, view_id)
        if view is None:
            abort(404, "no such view")
        payload = payloads.block_suggestion(
            view, block_id=block_id, action_id=action_id, value=value, user=user
        )
        answer = self.send(payloads.interactive_body(payload))
        if not answer.ok:
            return {"ok": False, "status": answer.status, "options": []}
        reply = answer.json()
        options = reply.get("options") if isinstance(reply, dict) else None
        return {"ok": True, "options": options if isinstance(options, list) else []}

    def close(self, user: str, view_id: str) -> dict[str, Any]:
        """The person closes the modal (Cancel, or the close button)."""
        view = self._lookup_view(user, view_id)
        if view is None:
            abort(404, "no such view")
        owner = self._owner(user, view_id)
        self.fake.close_views(owner)
        if view.get("notify_on_close"):
            answer = self.send(payloads.interactive_body(payloads.view_closed(view, user=user)))
            if not answer.ok:
                self._failed(user, "Closing the form", answer, None)
        return {"ok": True}

    def shortcut(
        self,
        user: str,
        callback_id: str,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> dict[str, Any]:
        """The person runs a global shortcut, or a message shortcut on a message."""
        trigger = self.fake.new_trigger_id(user)
        if message_ts:
            message = self._lookup_message(user, channel, message_ts, False)
            if message is None or channel is None:
                abort(404, "no such message")
            payload = payloads.message_shortcut(
                callback_id,
                message,
                channel,
                user=user,
                trigger_id=trigger,
                response_url=self.fake.new_response_url(channel=channel, user=user),
            )
        else:
            payload = payloads.global_shortcut(callback_id, user=user, trigger_id=trigger)
        answer = self.send(payloads.interactive_body(payload))
        if not answer.ok:
            self._failed(user, "The shortcut", answer, channel)
        return {"ok": answer.ok, "status": answer.status}

    def open_home(self, user: str) -> dict[str, Any]:
        """The person opens the app's Home tab (Slack sends ``app_home_opened`` each time)."""
        event = payloads.app_home_opened(user)
        if self.fake.home(user):
            event["view"] = self.fake.home(user)
        answer = self.send(payloads.event_callback(event))
        if not answer.ok:
            self._failed(user, "Opening the Home tab", answer, None)
        return {"ok": answer.ok, "status": answer.status}

    # ---------------------------------------------------------------- state

    def snapshot(self, user: str) -> dict[str, Any]:
        """Everything the page shows ``user``, as one JSON-able object."""
        fake = self.fake
        with fake._cond:
            fake._open_dm(user)  # the app's Messages tab is this DM
            channels: list[dict[str, Any]] = [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_private": c.is_private,
                    "is_im": c.is_im,
                    "bot_member": BOT_USER_ID in c.members,
                }
                for c in fake.channels.values()
                if not c.is_im or c.im_user == user
            ]
            messages: dict[str, list[dict[str, Any]]] = {}
            for c in channels:
                mine = fake.messages(c["id"]) + fake.ephemerals(c["id"], user)
                messages[c["id"]] = sorted(mine, key=lambda m: float(m["ts"]))
            modals = [
                {**v, "errors": v.pop("_errors", {}), "problem": v.pop("_problem", None)}
                for v in fake.view_stack(user)
            ]
            return {
                "version": fake.version,
                "team": {"id": TEAM_ID, "name": TEAM_NAME},
                "bot": {"id": BOT_USER_ID, "dm": fake._dm_channel_id(user)},
                "people": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "real_name": p.real_name,
                        "tz": p.tz,
                        "is_bot": p.is_bot,
                    }
                    for p in fake.people.values()
                ],
                "channels": channels,
                "messages": messages,
                "modals": modals,
                "home": fake.home(user),
                "shortcuts": [s.__dict__ for s in self.shortcuts],
                "command": self.command,
                "messages_tab_read_only": self.messages_tab_read_only,
                "notices": [n for n in self.notices if n["user"] == user],
            }

    def _tz(self, user: str) -> str:
        person = self.fake.people.get(user)
        return person.tz if person else "UTC"

    def _owner(self, user: str, view_id: str) -> str | None:
        with self.fake._cond:
            return self.fake._view_owner.get(view_id, user)

    def _lookup_view(self, user: str, view_id: str | None) -> dict[str, Any] | None:
        if not view_id:
            return None
        home = self.fake.home(user)
        if home and home["id"] == view_id:
            return home
        with self.fake._cond:
            view = self.fake._views.get(view_id)
            return {k: v for k, v in view.items() if not k.startswith("_")} if view else None

    def _set_view_problem(self, view_id: str, text: str) -> None:
        with self.fake._cond:
            view = self.fake._views.get(view_id)
            if view is not None:
                view["_problem"] = text
        self.fake.touch()

    def _lookup_message(
        self, user: str, channel: str | None, ts: str | None, ephemeral: bool
    ) -> dict[str, Any] | None:
        if not channel or not ts:
            return None
        pool = self.fake.ephemerals(channel, user) if ephemeral else self.fake.messages(channel)
        return next((m for m in pool if m["ts"] == ts), None)


# ------------------------------------------------------------------------- form → state


def _find_element(
    blocks: list[dict[str, Any]], block_id: str, action_id: str
) -> dict[str, Any] | None:
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or [])
        for key in ("element", "accessory"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if element.get("action_id") == action_id:
                return element  # type: ignore[no-any-return]
    return None


def _to_epoch(value: Any, tz: str) -> Any:
    """A ``datetime-local`` value, read in the person's Slack time zone, as epoch seconds."""
    if isinstance(value, str) and "T" in value:
        local = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz))
        return int(local.timestamp())
    return value


def _plain(value: Any, kind: str | None, tz: str) -> Any:
    if kind == "datetimepicker":
        return _to_epoch(value, tz)
    if kind in ("checkboxes", "multi_static_select") and isinstance(value, str):
        return [value]
    return value


def state_from_form(view: dict[str, Any], form: dict[str, Any], tz: str) -> dict[str, Any]:
    """``state.values`` from what the page's inputs hold (``{block_id: {action_id: raw}}``).

    Raw values are what HTML inputs give: strings, option values, lists of values,
    ``YYYY-MM-DD``, ``HH:MM``, ``YYYY-MM-DDTHH:MM`` (read in the person's time zone).
    """
    state: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        kind = block.get("type")
        if kind == "input":
            elements = [block.get("element") or {}]
        elif kind == "actions":
            elements = [
                e
                for e in block.get("elements") or []
                if e.get("type") not in ("button", "overflow", "workflow_button")
            ]
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            acc = block["accessory"]
            elements = [] if acc.get("type") in ("button", "image", "overflow") else [acc]
        else:
            continue
        block_id = block.get("block_id")
        for element in elements:
            action_id = element.get("action_id")
            if not block_id or not action_id:
                continue
            raw = (form.get(block_id) or {}).get(action_id)
            value = _plain(raw, element.get("type"), tz)
            try:
                entry = payloads.element_state(element, value)
            except ValueError:
                entry = payloads.element_state(element, None)
            state.setdefault(block_id, {})[action_id] = entry
    return state


def _action_from_element(
    element: dict[str, Any], block_id: str, value: Any, tz: str
) -> dict[str, Any]:
    """The ``actions[0]`` Slack reports when ``element`` is used (``value``: what was chosen)."""
    kind = element.get("type")
    action: dict[str, Any] = {"type": kind, "action_id": element["action_id"], "block_id": block_id}
    if kind == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if element.get("style"):
            action["style"] = element["style"]
    elif kind == "overflow":
        action["selected_option"] = next(
            (
                payloads._option_state(o)
                for o in element.get("options") or []
                if o.get("value") == value
            ),
            None,
        )
    else:
        state = payloads.element_state(element, _plain(value, kind, tz))
        state.pop("type", None)
        action.update(state)
        if kind in ("static_select", "radio_buttons", "datepicker", "timepicker", "datetimepicker"):
            for key in ("placeholder",):
                if key in element:
                    action[key] = element[key]
    return action


# ------------------------------------------------------------------------- HTTP


def _static(name: str) -> str:
    return resources.files("devstack.console").joinpath("static", name).read_text(encoding="utf-8")


MAX_SAMPLE_THREAD = 10_000
"""The longest sample thread the console makes (``POST /thread``)."""


def create_console_blueprint(console: Console) -> Blueprint:
    """The page, its JSON endpoints, and the fake Slack it plays (``api/``, ``response/``)."""
    bp = Blueprint("console", __name__)

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not data.get("user"):
            abort(400, "a JSON object with 'user' is required")
        if data["user"] not in console.fake.people:
            abort(400, "unknown user")
        return data

    @bp.get("/")
    def index() -> Response:
        return Response(_static("console.html"), mimetype="text/html")

    @bp.get("/static/<name>")
    def static(name: str) -> Response:
        if name not in _STATIC:
            abort(404)
        response = Response(_static(name), mimetype=_STATIC[name])
        response.headers["Cache-Control"] = "no-cache"
        return response

    @bp.get("/state")
    def state() -> Response:
        user = request.args.get("user") or "U0ALICE"
        since = int(request.args.get("since") or -1)
        wait = min(float(request.args.get("wait") or 0), 25.0)
        if wait > 0:
            console.fake.wait_for_change(since, wait)
        return jsonify(console.snapshot(user))

    @bp.post("/send")
    def send() -> Response:
        data = body()
        return jsonify(
            console.type_message(
                data["user"], data["channel"], data.get("text", ""), data.get("thread_ts")
            )
        )

    @bp.post("/action")
    def action() -> Response:
        data = body()
        return jsonify(
            console.press(
                data["user"],
                block_id=data["block_id"],
                action_id=data["action_id"],
                value=data.get("value"),
                channel=data.get("channel"),
                message_ts=data.get("message_ts"),
                ephemeral=bool(data.get("ephemeral")),
                view_id=data.get("view_id"),
                form=data.get("form") or {},
            )
        )

    @bp.post("/submit")
    def submit() -> Response:
        data = body()
        return jsonify(console.submit(data["user"], data["view_id"], data.get("form") or {}))

    @bp.post("/suggest")
    def suggest() -> Response:
        data = body()
        return jsonify(
            console.suggest(
                data["user"],
                str(data.get("view_id") or ""),
                block_id=str(data.get("block_id") or ""),
                action_id=str(data.get("action_id") or ""),
                value=str(data.get("value") or ""),
            )
        )

    @bp.post("/close")
    def close() -> Response:
        data = body()
        return jsonify(console.close(data["user"], data["view_id"]))

    @bp.post("/shortcut")
    def shortcut() -> Response:
        data = body()
        return jsonify(
            console.shortcut(
                data["user"],
                data["callback_id"],
                channel=data.get("channel"),
                message_ts=data.get("message_ts"),
            )
        )

    @bp.post("/thread")
    def thread() -> Response:
        # A sample thread of N messages (the parent by this person, replies by everyone).
        data = body()
        count = data.get("count")
        if data.get("channel") not in console.fake.channels:
            abort(404, "no such channel")
        if type(count) is not int or not 1 <= count <= MAX_SAMPLE_THREAD:
            abort(400, f"count must be a whole number from 1 to {MAX_SAMPLE_THREAD}")
        people = [data["user"]] + [
            p.id for p in console.fake.people.values() if not p.is_bot and p.id != data["user"]
        ]
        parent = console.fake.post_thread(
            data["channel"],
            count,
            users=people,
            text=lambda i: "Sample thread: where are we with Acme?" if i == 0 else f"Reply {i}",
        )
        return jsonify({"ok": True, "ts": parent["ts"]})

    @bp.get("/archives/<channel>/<message>")
    def archives(channel: str, message: str) -> Any:
        # Permalinks the fake hands out open the channel in the console.
        return redirect(f"../../?channel={channel}")

    @bp.post("/membership")
    def membership() -> Response:
        data = body()
        if data.get("channel") not in console.fake.channels:
            abort(404, "no such channel")
        if data.get("member"):
            console.fake.add_bot_to(data["channel"])
        else:
            console.fake.remove_bot_from(data["channel"])
        return jsonify({"ok": True})

    @bp.post("/home")
    def home() -> Response:
        return jsonify(console.open_home(body()["user"]))

    return bp


def create_console_app(console: Console) -> Flask:
    """The console as a WSGI app: mount it at ``/console`` beside the bot.

    The fake Slack is served under the same prefix, so the bot's ``SLACK_API_URL`` is
    ``<origin>/console/api/`` and response URLs are ``<origin>/console/response/<id>``.
    """
    app = Flask("console")
    app.register_blueprint(create_blueprint(console.fake))
    app.register_blueprint(create_console_blueprint(console))
    return app
