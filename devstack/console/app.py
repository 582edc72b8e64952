"""The Slack console: a page that plays Slack for one workspace, in front of the real bot.

The page (``static/``) only shows state and forwards what a person does. This module
turns each gesture into exactly what Slack would send (a signed slash command, a
``block_actions``/``view_submission``/shortcut payload, an ``app_home_opened`` event, a
``link_shared`` event for a message with links to the app's unfurl domains, a
``function_executed`` event per step of a workflow run from the Workflow Builder panel),
POSTs it to the bot's ``/slack/events`` over HTTP, and applies the answer as Slack does:
a slash command's acknowledgement body is shown to the person, a view submission's
``response_action`` updates, pushes, clears or marks errors on the modal, an answer
slower than Slack's three seconds is reported the way Slack reports it. The bot's own Web
API calls land in the same :class:`~devstack.fake_slack.server.FakeSlack`, served by this app
at ``api/`` (point ``SLACK_API_URL`` there), so the page sees them.

Served only by ``rally-slack dev`` (mounted at ``/console``) and by the browser tests.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
from flask import Blueprint, Flask, Response, abort, jsonify, redirect, request

from devstack.fake_slack import payloads
from devstack.fake_slack.server import (
    BOT_USER_ID,
    TEAM_ID,
    Channel,
    FakeSlack,
    Person,
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


@dataclass(frozen=True)
class StepParam:
    """One input or output parameter of a Workflow Builder step (``manifest.yml``)."""

    name: str
    type: str
    title: str
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] = ()

    def as_slack(self) -> dict[str, Any]:
        """The parameter as ``function_executed`` describes it (the flat form)."""
        return {
            "type": self.type,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "is_required": self.required,
        }


@dataclass(frozen=True)
class Step:
    """A custom step the app declares (``functions`` in ``manifest.yml``)."""

    callback_id: str
    title: str
    description: str
    inputs: tuple[StepParam, ...]
    outputs: tuple[StepParam, ...]

    def input(self, name: str) -> StepParam | None:
        """The input parameter ``name``, if the step has one."""
        return next((p for p in self.inputs if p.name == name), None)


def _step_params(declared: Any) -> tuple[StepParam, ...]:
    """Parameters in Slack's documented form (``{properties, required}``) or the
    schema's flat one (``{name: {..., is_required}}``)."""
    if not isinstance(declared, dict):
        return ()
    if isinstance(declared.get("properties"), dict):
        properties, required = declared["properties"], set(declared.get("required") or [])
    else:
        properties = declared
        required = {n for n, p in declared.items() if isinstance(p, dict) and p.get("is_required")}
    return tuple(
        StepParam(
            name=str(name),
            type=str(spec.get("type", "string")),
            title=str(spec.get("title") or name),
            description=str(spec.get("description") or ""),
            required=name in required,
            enum=tuple(str(v) for v in spec.get("enum") or ()),
        )
        for name, spec in properties.items()
        if isinstance(spec, dict)
    )


def steps_from_manifest(manifest: dict[str, Any]) -> tuple[Step, ...]:
    """The Workflow Builder steps ``manifest.yml`` declares (``functions``)."""
    functions = manifest.get("functions") or {}
    if not isinstance(functions, dict):
        return ()
    return tuple(
        Step(
            callback_id=str(callback_id),
            title=str(spec.get("title") or callback_id),
            description=str(spec.get("description") or ""),
            inputs=_step_params(spec.get("input_parameters")),
            outputs=_step_params(spec.get("output_parameters")),
        )
        for callback_id, spec in functions.items()
        if isinstance(spec, dict)
    )


def unfurl_domains(manifest: dict[str, Any], rally_app_url: str | None = None) -> tuple[str, ...]:
    """Where Slack sends ``link_shared`` for: ``features.unfurl_domains``, and the host of
    ``RALLY_APP_URL`` when it is set (the domain an admin would list there)."""
    declared = (manifest.get("features") or {}).get("unfurl_domains") or []
    domains = [str(d).lower() for d in declared if isinstance(d, str) and d]
    host = urlsplit(rally_app_url).hostname if rally_app_url else None
    if host and host.lower() not in domains:
        domains.append(host.lower())
    return tuple(domains)


# Slack finds links in what a person types: bare URLs, or <url> / <url|label> markup.
_LINK_RE = re.compile(r"https?://[^\s<>|]+")
_TRAILING = ".,;:!?)]}'\""


def links_in(text: str) -> list[str]:
    """The URLs in a message, each once, in order (trailing punctuation left out)."""
    found: list[str] = []
    for match in _LINK_RE.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url not in found:
            found.append(url)
    return found


def in_domains(url: str, domains: Sequence[str]) -> bool:
    """Whether ``url``'s host is one of ``domains`` or under one (Slack counts subdomains)."""
    host = (urlsplit(url).hostname or "").lower()
    return bool(host) and any(host == d or host.endswith("." + d) for d in domains)


class WorkflowError(ValueError):
    """A workflow the console cannot run as given (Workflow Builder would not publish it)."""


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
        steps: the app's Workflow Builder steps, for the Workflow Builder panel.
        unfurl_domains: hosts whose links Slack tells the app about (``link_shared``).
    """

    fake: FakeSlack
    events_url: str
    signing_secret: str
    shortcuts: Sequence[Shortcut] = DEFAULT_SHORTCUTS
    command: str = "/rally"
    messages_tab_read_only: bool = False
    ack_deadline_s: float = ACK_DEADLINE_S
    timeout_s: float = 10.0
    steps: Sequence[Step] = ()
    unfurl_domains: Sequence[str] = ()
    # How long a run waits for the app to end a step, and how long its token lives.
    step_timeout_s: float = 300.0
    step_token_ttl_s: float = 15 * 60
    notices: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    team: str = TEAM_ID
    """The workspace this console plays (``fake`` is that workspace's Slack)."""
    oauth: bool = False
    """Whether the bot is distributed with OAuth (then more workspaces can install it)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _others: dict[str, Console] = field(default_factory=dict)

    # ---------------------------------------------------------------- workspaces

    def for_team(self, team: str | None) -> Console:
        """The console of workspace ``team`` (this one when ``None`` or its own).

        Raises:
            KeyError: no such workspace.
        """
        if not team or team == self.team:
            return self
        with self._lock:
            if team not in self._others:
                self._others[team] = replace(
                    self,
                    fake=self.fake.team(team),
                    team=team,
                    notices=[],
                    runs=[],
                    _lock=threading.Lock(),
                    _others={},
                )
            return self._others[team]

    def add_workspace(self, name: str) -> Console:
        """Another workspace (Slack's "create a workspace"): two people, Erin an admin,
        and a #sales channel. The app is not in it until someone installs it."""
        taken = {t.team_id for t in self.fake.teams()}
        number = len(taken) + 1
        while f"T0TEAM{number:04d}" in taken:
            number += 1
        team = f"T0TEAM{number:04d}"
        suffix = f"{number}"
        people = [
            Person(
                f"U{suffix}ERIN",
                "erin",
                "Erin Vance",
                "Europe/Berlin",
                "Head of Sales",
                is_admin=True,
            ),
            Person(
                f"U{suffix}FRANK", "frank", "Frank Osei", "America/Chicago", "Account Executive"
            ),
            Person(BOT_USER_ID, "rally", "Rally", "America/Los_Angeles", is_bot=True),
        ]
        everyone = {p.id for p in people}
        channels = [
            Channel(f"C{suffix}SALES", "sales", members=set(everyone)),
            Channel(f"C{suffix}GENERAL", "general", members=set(everyone)),
        ]
        self.fake.add_team(
            team, name.strip() or f"Workspace {number}", people=people, channels=channels
        )
        return self.for_team(team)

    def workspaces(self) -> list[dict[str, Any]]:
        """Every workspace of the fake, and whether the app has a token in it."""
        installed = {t.team for t in self.fake.tokens() if not t.revoked}
        return [
            {
                "id": t.team_id,
                "name": t.team_name,
                "installed": (not self.oauth and t.team_id == self.team) or t.team_id in installed,
            }
            for t in self.fake.teams()
        ]

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
        self.notice(user, f"{what} failed: {_why(answer)}", channel=channel)

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
        self._share_links(user, channel, message["ts"], text, thread_ts)
        return {"ok": True, "ts": message["ts"]}

    def share_file(self, user: str, name: str, content: bytes) -> dict[str, Any]:
        """The person shares a file in their DM with the app: the message Slack keeps, and
        the ``message`` event (``file_share``, ``message.im``) Slack sends the app."""
        message = self.fake.share_file(None, user, name, content)
        answer = self.send(payloads.event_callback(payloads.file_share(message), team=self.team))
        if not answer.ok:
            self._failed(user, f"Sharing {name}", answer, message["channel"])
        return {"ok": answer.ok, "status": answer.status, "ts": message["ts"]}

    def _share_links(
        self, user: str, channel: str, ts: str, text: str, thread_ts: str | None
    ) -> None:
        """Slack tells the app about links to its unfurl domains in a posted message."""
        links = [url for url in links_in(text) if in_domains(url, self.unfurl_domains)]
        if not links:
            return
        event = payloads.link_shared(links, user=user, channel=channel, message_ts=ts)
        if thread_ts:
            event["thread_ts"] = thread_ts
        answer = self.send(payloads.event_callback(event, team=self.team))
        if not answer.ok:
            # Slack says nothing to the person: the link just stays a plain link.
            log.warning("console.link_shared_failed why=%s", _why(answer))

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
            team=self.team,
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
        unfurl_url: str | None = None,
    ) -> dict[str, Any]:
        """The person uses an interactive element in a message, a modal, the Home tab, or
        the app's unfurl of ``unfurl_url`` under a message."""
        view = self._lookup_view(user, view_id) if view_id else None
        blocks = (view or {}).get("blocks") or []
        message = None
        if view is None:
            message = self._lookup_message(user, channel, message_ts, ephemeral)
            if message is None:
                abort(404, "no such message")
            blocks = message.get("blocks") or []
            if unfurl_url is not None:
                assert channel is not None and message_ts is not None
                unfurl = self.fake.unfurls(channel, message_ts).get(unfurl_url)
                if not isinstance(unfurl, dict):
                    abort(404, "no such unfurl")
                blocks = unfurl.get("blocks") or []
        element = _find_element(blocks, block_id, action_id)
        if element is None:
            abort(404, "no such element")
        action = _action_from_element(element, block_id, value, self._tz(user))
        trigger = self.fake.new_trigger_id(user)
        if view is not None:
            state = state_from_form(view, form or {}, self._tz(user))
            payload = payloads.block_actions(
                action, user=user, trigger_id=trigger, view=view, state_values=state, team=self.team
            )
        else:
            assert message is not None
            payload = payloads.block_actions(
                action,
                user=user,
                team=self.team,
                trigger_id=trigger,
                channel=channel,
                message=None if ephemeral else message,
                is_ephemeral=ephemeral,
                response_url=self.fake.new_response_url(
                    channel=channel,
                    user=user,
                    # An unfurl's response URL never replaces the person's own message.
                    message_ts=None if unfurl_url else message_ts,
                    ephemeral=ephemeral,
                ),
                state_values=state_from_form({"blocks": blocks}, form or {}, self._tz(user)),
                unfurl_url=unfurl_url,
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
            view, state, user=user, trigger_id=self.fake.new_trigger_id(user), team=self.team
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
            view, block_id=block_id, action_id=action_id, value=value, user=user, team=self.team
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
            answer = self.send(
                payloads.interactive_body(payloads.view_closed(view, user=user, team=self.team))
            )
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
                team=self.team,
                trigger_id=trigger,
                response_url=self.fake.new_response_url(channel=channel, user=user),
            )
        else:
            payload = payloads.global_shortcut(
                callback_id, user=user, trigger_id=trigger, team=self.team
            )
        answer = self.send(payloads.interactive_body(payload))
        if not answer.ok:
            self._failed(user, "The shortcut", answer, channel)
        return {"ok": answer.ok, "status": answer.status}

    def open_home(self, user: str) -> dict[str, Any]:
        """The person opens the app's Home tab (Slack sends ``app_home_opened`` each time)."""
        event = payloads.app_home_opened(user)
        if self.fake.home(user):
            event["view"] = self.fake.home(user)
        answer = self.send(payloads.event_callback(event, team=self.team))
        if not answer.ok:
            self._failed(user, "Opening the Home tab", answer, None)
        return {"ok": answer.ok, "status": answer.status}

    # ---------------------------------------------------------------- workflows

    def run_workflow(self, user: str, spec: Any) -> dict[str, Any]:
        """Run a workflow of the app's steps, as Workflow Builder would once published.

        ``spec`` is ``[{"callback_id", "inputs": {name: {"value": v} | {"from_step": i,
        "output": name}}}]``: each input a value typed in, or a variable (an output of an
        earlier step). Each step gets a fresh ``function_execution_id`` and its own
        short-lived token; the next starts once the app ended it with ``completeSuccess``.

        Raises:
            WorkflowError: what Workflow Builder would not publish, with a sentence.
        """
        plan = self._plan(user, spec)
        run: dict[str, Any] = {
            "id": "Wx" + secrets.token_hex(5).upper(),
            "user": user,
            "status": "running",
            "started": time.time(),
            "steps": [
                {
                    "callback_id": step.callback_id,
                    "title": step.title,
                    "status": "waiting",
                    "execution_id": None,
                    "inputs": {},
                    "outputs": None,
                    "error": None,
                }
                for step, _ in plan
            ],
        }
        with self._lock:
            self.runs.append(run)
            del self.runs[:-20]
        self.fake.touch()
        threading.Thread(
            target=self._drive, args=(run, plan), name=f"workflow-{run['id']}", daemon=True
        ).start()
        return {"ok": True, "run_id": run["id"]}

    def _plan(self, user: str, spec: Any) -> list[tuple[Step, dict[str, tuple[str, Any]]]]:
        if not isinstance(spec, list) or not 1 <= len(spec) <= 10:
            raise WorkflowError("A workflow has between 1 and 10 steps.")
        known = {step.callback_id: step for step in self.steps}
        plan: list[tuple[Step, dict[str, tuple[str, Any]]]] = []
        for n, item in enumerate(spec, start=1):
            callback_id = item.get("callback_id") if isinstance(item, dict) else None
            step = known.get(callback_id) if isinstance(callback_id, str) else None
            if step is None:
                raise WorkflowError(f"Step {n}: the app has no step {callback_id!r}.")
            given = item.get("inputs") or {}
            if not isinstance(given, dict):
                raise WorkflowError(f"Step {n}: inputs must be an object.")
            inputs: dict[str, tuple[str, Any]] = {}
            for name, entry in given.items():
                param = step.input(str(name))
                if param is None:
                    raise WorkflowError(f"Step {n} ({step.title}) has no input {name!r}.")
                bound = self._bind(user, n, plan, param, entry)
                if bound is not None:
                    inputs[param.name] = bound
            missing = [p.title for p in step.inputs if p.required and p.name not in inputs]
            if missing:
                raise WorkflowError(f"Step {n} ({step.title}): {missing[0]} is required.")
            plan.append((step, inputs))
        return plan

    def _bind(
        self,
        user: str,
        n: int,
        plan: list[tuple[Step, dict[str, tuple[str, Any]]]],
        param: StepParam,
        entry: Any,
    ) -> tuple[str, Any] | None:
        """One input as typed in (``("value", v)``) or fed by a variable (``("from", ...)``)."""
        where = f"Step {n}, {param.title}"
        if not isinstance(entry, dict):
            raise WorkflowError(f"{where}: expected a value or a variable.")
        if entry.get("from_step") is not None:
            source = entry["from_step"]
            if type(source) is not int or not 0 <= source < len(plan):
                raise WorkflowError(f"{where}: a variable can only come from an earlier step.")
            earlier = plan[source][0]
            output = entry.get("output")
            if output not in {p.name for p in earlier.outputs}:
                raise WorkflowError(f"{where}: step {source + 1} has no output {output!r}.")
            return ("from", (source, output))
        value = entry.get("value")
        if value is None or value == "":
            return None
        if param.type == "slack#/types/timestamp":
            try:
                value = _to_epoch(value, self._tz(user))
            except ValueError:
                value = None
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if type(value) is not int:
                raise WorkflowError(f"{where}: pick a date and time.")
        elif param.type == "slack#/types/user_id":
            if not isinstance(value, str) or value not in self.fake.people:
                raise WorkflowError(f"{where}: pick someone in the workspace.")
        elif not isinstance(value, str):
            raise WorkflowError(f"{where}: expected text.")
        elif param.enum and value not in param.enum:
            raise WorkflowError(f"{where}: one of {', '.join(param.enum)}.")
        return ("value", value)

    def _drive(self, run: dict[str, Any], plan: list[tuple[Step, dict[str, Any]]]) -> None:
        """Run each step in turn; a step that fails ends the run, as in Slack."""
        outputs: list[dict[str, Any]] = []
        for i, (step, inputs) in enumerate(plan):
            values: dict[str, Any] = {}
            for name, (kind, bound) in inputs.items():
                if kind == "value":
                    values[name] = bound
                elif bound[1] in outputs[bound[0]]:
                    values[name] = outputs[bound[0]][bound[1]]
            execution = "Fx" + secrets.token_hex(5).upper()
            self._step_changed(run, i, status="running", execution_id=execution, inputs=values)
            event = payloads.function_executed(
                step.callback_id,
                values,
                bot_access_token=self.fake.issue_step_token(execution, self.step_token_ttl_s),
                function_execution_id=execution,
                workflow_execution_id=run["id"],
                title=step.title,
                input_parameters=[p.as_slack() for p in step.inputs],
                output_parameters=[p.as_slack() for p in step.outputs],
            )
            answer = self.send(payloads.event_callback(event, team=self.team))
            ended = self._wait_for_step(execution) if answer.ok else None
            if not answer.ok:
                error = f"The app did not take the step: {_why(answer)}."
            elif ended is None:
                error = (
                    f"The step did not finish within {self.step_timeout_s:.0f}s (the app "
                    "called neither functions.completeSuccess nor functions.completeError)."
                )
            elif "error" in ended:
                error = str(ended["error"])
            else:
                outputs.append(dict(ended.get("outputs") or {}))
                self._step_changed(run, i, status="completed", outputs=outputs[-1])
                continue
            self._step_changed(run, i, status="failed", error=error)
            self._run_ended(run, "failed")
            return
        self._run_ended(run, "completed")

    def _wait_for_step(self, execution: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            seen = self.fake.version
            ended = self.fake.ended_step(execution)
            if ended is not None:
                return ended
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.fake.wait_for_change(seen, min(remaining, 5.0))

    def _step_changed(self, run: dict[str, Any], index: int, **changes: Any) -> None:
        with self._lock:
            run["steps"][index].update(changes)
        self.fake.touch()

    def _run_ended(self, run: dict[str, Any], status: str) -> None:
        with self._lock:
            run["status"] = status
        log.info("console.workflow_ended run=%s status=%s", run["id"], status)
        self.fake.touch()

    # ---------------------------------------------------------------- state

    def snapshot(self, user: str) -> dict[str, Any]:
        """Everything the page shows ``user`` (or this workspace's first person, when
        ``user`` is not in it), as one JSON-able object."""
        fake = self.fake
        if user not in fake.people:
            user = next((p.id for p in fake.people.values() if not p.is_bot), user)
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
                for m in mine:
                    attached = {} if m.get("is_ephemeral") else fake.unfurls(c["id"], m["ts"])
                    if attached:
                        m["unfurls"] = [{"url": url, **u} for url, u in attached.items()]
                messages[c["id"]] = sorted(mine, key=lambda m: float(m["ts"]))
            modals = [
                {**v, "errors": v.pop("_errors", {}), "problem": v.pop("_problem", None)}
                for v in fake.view_stack(user)
            ]
            return {
                "version": fake.version,
                "team": {"id": fake.team_id, "name": fake.team_name},
                "user": user,
                "workspaces": self.workspaces(),
                "oauth": self.oauth,
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
                "steps": [asdict(step) for step in self.steps],
                "workflow_runs": self._runs_of(user),
            }

    def _runs_of(self, user: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy([r for r in self.runs if r["user"] == user])

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


def _why(answer: BotAnswer) -> str:
    """What Slack would say of an answer it did not take."""
    if answer.error:
        return f"the app could not be reached ({answer.error})"
    if answer.status != 200:
        return f"the app answered HTTP {answer.status} (http_service_error)"
    return f"the app took {answer.elapsed_s:.1f}s to answer (operation_timeout)"


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


MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_SAMPLE_THREAD = 10_000
"""The longest sample thread the console makes (``POST /thread``)."""


def create_console_blueprint(console: Console) -> Blueprint:
    """The page, its JSON endpoints, and the fake Slack it plays (``api/``, ``response/``)."""
    bp = Blueprint("console", __name__)

    root = console

    def team_console(team: Any) -> Console:
        try:
            return root.for_team(str(team) if team else None)
        except KeyError:
            abort(404, "no such workspace")

    def body() -> tuple[Console, dict[str, Any]]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not data.get("user"):
            abort(400, "a JSON object with 'user' is required")
        here = team_console(data.get("team"))
        if data["user"] not in here.fake.people:
            abort(400, "unknown user")
        return here, data

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
        here = team_console(request.args.get("team"))
        user = request.args.get("user") or "U0ALICE"
        since = int(request.args.get("since") or -1)
        wait = min(float(request.args.get("wait") or 0), 25.0)
        if wait > 0:
            here.fake.wait_for_change(since, wait)
        return jsonify(here.snapshot(user))

    @bp.post("/send")
    def send() -> Response:
        console, data = body()
        return jsonify(
            console.type_message(
                data["user"], data["channel"], data.get("text", ""), data.get("thread_ts")
            )
        )

    @bp.post("/upload")
    def upload() -> Response:
        # The page's file picker: a file shared in the person's DM with the app.
        console, data = body()
        name = str(data.get("name") or "").strip()[:255]
        try:
            content = base64.b64decode(str(data.get("content_b64") or ""), validate=True)
        except ValueError:
            abort(400, "content_b64 must be base64")
        if not name:
            abort(400, "a file name is required")
        if len(content) > MAX_UPLOAD_BYTES:
            abort(413, "Slack takes files up to 1 GB; the console up to 20 MB")
        return jsonify(console.share_file(data["user"], name, content))

    @bp.get("/files/<file_id>")
    def file(file_id: str) -> Response:
        # What clicking a file in Slack shows: its bytes (the app's failed-rows CSV).
        found = (team.file_content(file_id) for team in root.fake.teams())
        content = next((c for c in found if c is not None), None)
        if content is None:
            abort(404)
        return Response(content, mimetype="text/csv")

    @bp.post("/action")
    def action() -> Response:
        console, data = body()
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
                unfurl_url=data.get("unfurl_url") or None,
            )
        )

    @bp.post("/workflow")
    def workflow() -> Response:
        console, data = body()
        try:
            return jsonify(console.run_workflow(data["user"], data.get("steps")))
        except WorkflowError as exc:
            response = jsonify({"ok": False, "error": str(exc)})
            response.status_code = 400
            return response

    @bp.post("/submit")
    def submit() -> Response:
        console, data = body()
        return jsonify(console.submit(data["user"], data["view_id"], data.get("form") or {}))

    @bp.post("/suggest")
    def suggest() -> Response:
        console, data = body()
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
        console, data = body()
        return jsonify(console.close(data["user"], data["view_id"]))

    @bp.post("/shortcut")
    def shortcut() -> Response:
        console, data = body()
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
        console, data = body()
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
        console, data = body()
        if data.get("channel") not in console.fake.channels:
            abort(404, "no such channel")
        if data.get("member"):
            console.fake.add_bot_to(data["channel"])
        else:
            console.fake.remove_bot_from(data["channel"])
        return jsonify({"ok": True})

    @bp.post("/home")
    def home() -> Response:
        console, data = body()
        return jsonify(console.open_home(data["user"]))

    @bp.post("/workspaces")
    def add_workspace() -> Response:
        # Slack's "create a workspace": the page then sends the browser to the bot's
        # /slack/install?team=..., which leads to the consent page this fake plays.
        data = request.get_json(silent=True)
        name = str(data.get("name") or "") if isinstance(data, dict) else ""
        if not root.oauth:
            abort(409, "the bot runs with one workspace's token (SLACK_BOT_TOKEN)")
        added = root.add_workspace(name[:60])
        return jsonify(
            {"ok": True, "team": added.team, "install": f"/slack/install?team={added.team}"}
        )

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
