"""A faithful fake of Slack's Web API for one workspace, served over real HTTP.

The bot and the workers talk to it exactly as to Slack: ``slack_sdk.WebClient`` with
``base_url`` (``SLACK_API_URL``) pointed at ``<base>/api/``, a bearer token, form or JSON
bodies. It answers in Slack's shapes (``{"ok": true, ...}``), fails the way Slack fails
(``not_in_channel``, ``channel_not_found``, ``invalid_auth``, ``ratelimited`` with HTTP 429
and ``Retry-After``, ``invalid_blocks``/``invalid_arguments`` for bad Block Kit), and keeps
what a person would see: channel messages and threads, ephemeral messages, modal stacks,
home tabs. Response URLs it hands out (:meth:`FakeSlack.new_response_url`) accept POSTs
and apply them as Slack does (replace or delete the original, ephemeral or in-channel).

Everything is recorded (:meth:`FakeSlack.calls`) and can be awaited with a deadline
(:meth:`FakeSlack.wait_for`), so tests never sleep to wait for the workers.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, request

from devstack.fake_slack.blockkit import normalize_blocks, validate_message_blocks, validate_view
from devstack.fake_slack.failures import Failures, SlackError
from devstack.fake_slack.messages import MessageStore
from devstack.fake_slack.socket_mode import DEFAULT_APP_TOKEN, SocketMode, add_socket_mode_route
from devstack.fake_slack.views import ViewStore
from devstack.fake_slack.world import (
    API_APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Channel,
    Person,
    Workspace,
    default_channels,
    default_people,
)

__all__ = [
    "API_APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "Call",
    "Channel",
    "FakeSlack",
    "Person",
    "ResponsePost",
    "SlackError",
    "SocketMode",
    "add_socket_mode_route",
    "create_app",
    "create_blueprint",
    "default_channels",
    "default_people",
    "normalize_blocks",
    "validate_message_blocks",
    "validate_view",
]

DEFAULT_BOT_TOKEN = "xoxb-test-not-a-real-token"
# Methods Slack only accepts with the app-level token (xapp-...), not the bot token.
_APP_LEVEL_METHODS = frozenset({"apps.connections.open"})


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake received and answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float

    @property
    def ok(self) -> bool:
        """Whether Slack answered ``ok: true``."""
        return bool(self.response.get("ok"))


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response URL."""

    url_id: str
    body: dict[str, Any]
    status: int
    at: float


@dataclass
class _ResponseUrl:
    id: str
    channel: str | None
    user: str | None
    message_ts: str | None
    ephemeral: bool
    uses: int = 0


_JSON_PARAMS = ("blocks", "attachments", "view", "metadata")


def _json_param(value: Any) -> Any:
    """Slack accepts blocks/view/metadata as JSON strings in form bodies."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeSlack:
    """One workspace's Slack, in memory and thread-safe.

    Args:
        bot_token: the only token the Web API accepts (anything else is ``invalid_auth``).
        base_url: where the fake is served (``http://127.0.0.1:PORT``), for response URLs;
            set it later with :attr:`base_url` when the port is known.
        people: the workspace's members (default: :func:`default_people`).
        channels: its channels (default: :func:`default_channels`).
        permalink_base: the origin of permalinks ``chat.getPermalink`` hands out.
        app_token: the app-level token ``apps.connections.open`` accepts (Socket Mode,
            served by :attr:`socket_mode`).
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        base_url: str = "",
        people: list[Person] | None = None,
        channels: list[Channel] | None = None,
        permalink_base: str = f"https://{TEAM_DOMAIN}.slack.com",
        app_token: str = DEFAULT_APP_TOKEN,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode = SocketMode(app_id=API_APP_ID)
        self.base_url = base_url.rstrip("/")
        self.permalink_base = permalink_base.rstrip("/")
        self._workspace = Workspace(people, channels)
        self._failures = Failures()
        self._chat = MessageStore()
        self._view_store = ViewStore()
        self._cond = threading.Condition(threading.RLock())
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "api.test": self._api_test,
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "bots.info": self._bots_info,
            "team.info": self._team_info,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_push,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
        }
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget every call, message, view and scripted failure; restore the workspace."""
        with self._cond:
            self._workspace.reset()
            self._calls: list[Call] = []
            self._chat.reset()
            self._response_urls: dict[str, _ResponseUrl] = {}
            self._response_posts: list[ResponsePost] = []
            self._failures.reset()
            self._view_store.reset()
            self._version = 0
            self.socket_mode.reset()
            self._cond.notify_all()

    @property
    def api_url(self) -> str:
        """The ``SLACK_API_URL`` to give the bot: ``<base>/api/``."""
        return f"{self.base_url}/api/"

    @property
    def version(self) -> int:
        """A counter bumped on every change, so a page can poll cheaply for news."""
        return self._version

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()

    @property
    def people(self) -> dict[str, Person]:
        """The workspace's members by id."""
        return self._workspace.people

    @property
    def channels(self) -> dict[str, Channel]:
        """The workspace's channels (DMs opened so far included) by id."""
        return self._workspace.channels

    @property
    def _views(self) -> dict[str, dict[str, Any]]:
        # The console reads and edits modals in place (state, errors), under _cond.
        return self._view_store.by_id

    @property
    def _view_owner(self) -> dict[str, str | None]:
        return self._view_store.owner

    def _dm_channel_id(self, user: str) -> str:
        return self._workspace.dm_channel_id(user)

    def _channel(self, channel_id: str | None) -> Channel:
        return self._workspace.channel(channel_id)

    def _open_dm(self, user: str) -> Channel:
        return self._workspace.open_dm(user)

    def _bot_can_post(self, channel: Channel) -> None:
        self._workspace.bot_can_post(channel)

    # ------------------------------------------------------------------ scripting

    def remove_bot_from(self, channel: str) -> None:
        """Take the bot out of ``channel`` (posting there then fails as in Slack)."""
        with self._cond:
            self._workspace.remove_bot_from(channel)
            self._changed()

    def add_bot_to(self, channel: str) -> None:
        """Put the bot (back) into ``channel``."""
        with self._cond:
            self._workspace.add_bot_to(channel)
            self._changed()

    def fail_next(
        self, method: str, error: str, *, status: int = 200, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``error``.

        Args:
            method: a Web API method, e.g. ``chat.postMessage``.
            error: Slack's error code, e.g. ``ratelimited`` or ``internal_error``.
            status: the HTTP status (429 for rate limits, with ``Retry-After``).
            retry_after: seconds in ``Retry-After`` when ``status`` is 429.
            times: how many calls fail before the method answers normally again.
        """
        with self._cond:
            self._failures.fail_next(
                method, error, status=status, retry_after=retry_after, times=times
            )

    def new_response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """A response URL on this server, as Slack puts in commands and interactions.

        Args:
            channel: where the interaction happened (where ephemeral replies appear).
            user: who interacted (who sees ephemeral replies).
            message_ts: the message the interaction came from (``replace_original`` target).
            ephemeral: whether that message is an ephemeral one.
        """
        url_id = secrets.token_hex(12)
        with self._cond:
            self._response_urls[url_id] = _ResponseUrl(url_id, channel, user, message_ts, ephemeral)
        return f"{self.base_url}/response/{url_id}"

    def new_trigger_id(self, user: str | None = None) -> str:
        """A trigger id as Slack puts in interactions; a modal opened with it is ``user``'s."""
        with self._cond:
            return self._view_store.new_trigger_id(user)

    # ------------------------------------------------------------------ queries

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (of ``method`` only, when given), oldest first."""
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
    ) -> Call:
        """The first call of ``method`` matching ``predicate``, waiting up to ``timeout`` s.

        Raises:
            TimeoutError: with the calls received so far, when none matches in time.
        """

        def match() -> Call | None:
            return next(
                (c for c in self.calls(method) if predicate is None or predicate(c)),
                None,
            )

        try:
            return self.wait_until(match, timeout=timeout)  # type: ignore[no-any-return]
        except TimeoutError:
            seen = [(c.method, c.response.get("error")) for c in self.calls()]
            raise TimeoutError(f"no matching {method} call within {timeout}s; saw {seen}") from None

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``condition()`` is truthy (re-checked on every change); return it.

        The condition runs without the fake's lock held, so it may itself call the
        server (e.g. fetch a page) without deadlocking.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                seen = self._version
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            with self._cond:
                if self._version == seen:
                    # Short waits: a condition may depend on more than this fake.
                    self._cond.wait(min(remaining, 0.05))

    def messages(self, channel: str, *, include_replies: bool = True) -> list[dict[str, Any]]:
        """The channel's messages as people see them (thread replies too, by default)."""
        with self._cond:
            return self._chat.in_channel(channel, include_replies=include_replies)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The replies in one thread, oldest first (the parent excluded)."""
        with self._cond:
            return self._chat.thread(channel, thread_ts)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages shown (in ``channel``, to ``user``), oldest first."""
        with self._cond:
            return self._chat.ephemerals(channel, user)

    def response_posts(self, url_or_id: str | None = None) -> list[ResponsePost]:
        """POSTs received on response URLs (on one URL, given its URL or id)."""
        url_id = url_or_id.rstrip("/").rsplit("/", 1)[-1] if url_or_id else None
        with self._cond:
            return [p for p in self._response_posts if url_id is None or p.url_id == url_id]

    def views_opened(self) -> list[dict[str, Any]]:
        """Every view opened or pushed, as Slack returned it, oldest first."""
        with self._cond:
            return self._view_store.opened()

    def view(self, view_id: str) -> dict[str, Any]:
        """The current state of a view by id."""
        with self._cond:
            return self._view_store.get(view_id)

    def view_stack(self, user: str | None) -> list[dict[str, Any]]:
        """The modals open for ``user``, bottom first (``None``: opened with unknown triggers)."""
        with self._cond:
            return self._view_store.stack(user)

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view published for ``user``, if any."""
        with self._cond:
            return self._view_store.home(user)

    def post_as_user(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person's own message in a channel (what a message shortcut acts on)."""
        with self._cond:
            ch = self._channel(channel)
            message = self._chat.user_message(ch.id, user, text, thread_ts)
            self._chat.store(ch.id, message)
            self._changed()
            return copy.deepcopy(message)

    def show_from_app(
        self,
        channel: str,
        user: str | None,
        text: str,
        blocks: Any = None,
        *,
        in_channel: bool = False,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """Show what the app answered an interaction with (e.g. a slash command's ack body).

        Slack shows it to ``user`` alone unless ``in_channel`` (``response_type: in_channel``).
        """
        with self._cond:
            if in_channel:
                message = self._chat.bot_message(channel, text, blocks, thread_ts)
                self._chat.store(channel, message)
            else:
                message = self._chat.store_ephemeral(channel, user, text, blocks, thread_ts)
            self._changed()
            return copy.deepcopy(message)

    def touch(self) -> None:
        """Wake whoever waits for a change (a page polling for news)."""
        with self._cond:
            self._changed()

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until :attr:`version` passes ``since`` or ``timeout`` s pass; the version."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._version <= since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._version

    # ------------------------------------------------------------------ view stacks

    def close_views(self, user: str | None) -> None:
        """Close every modal of ``user`` (the person pressed Cancel, or ``clear``)."""
        with self._cond:
            self._view_store.close_all(user)
            self._changed()

    def pop_view(self, user: str | None) -> None:
        """Close the top modal of ``user`` (Back, or a submission with no response action)."""
        with self._cond:
            self._view_store.pop(user)
            self._changed()

    def apply_response_action(
        self, user: str | None, view_id: str, answer: dict[str, Any] | None
    ) -> list[str]:
        """Apply the bot's answer to a ``view_submission`` as Slack would.

        Returns:
            The Slack error messages when the answer was invalid (the modal then stays).
        """
        with self._cond:
            problems = self._view_store.apply_response_action(user, view_id, answer)
            if not problems:
                self._changed()
            return problems

    # ------------------------------------------------------------------ HTTP edge

    def outage(self, calls: int) -> None:
        """Slack is down for the next ``calls`` requests of any kind: every Web API method
        and every response URL answers 503 until then (``outage(0)`` ends it)."""
        with self._cond:
            self._failures.outage(calls)

    def _in_outage(self) -> bool:
        return self._failures.in_outage()

    def handle(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one Web API call: ``(HTTP status, JSON body, extra headers)``."""
        for key in _JSON_PARAMS:
            if key in params:
                params[key] = _json_param(params[key])
        with self._cond:
            status, body, headers = self._answer(method, params, token)
            self._calls.append(Call(method, params, token, status, body, time.time()))
            self._changed()
            return status, body, headers

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._in_outage():
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        failure = self._failures.next_failure(method)
        if failure is not None:
            return failure
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token is None and method != "api.test":
            return 200, {"ok": False, "error": "not_authed"}, {}
        expected = self.app_token if method in _APP_LEVEL_METHODS else self.bot_token
        if method in _APP_LEVEL_METHODS and token and not token.startswith("xapp-"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        if token != expected and method != "api.test":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        try:
            body = handler(params)
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
            return exc.status, body, {}
        return 200, {"ok": True, **body}, {}

    def handle_response_url(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """Accept one POST to a response URL and apply it as Slack does."""
        with self._cond:
            target = self._response_urls.get(url_id)
            if self._in_outage():
                status, text = 503, "service_unavailable"
            elif target is None:
                status, text = 404, "expired_url"
            elif target.uses >= 5:
                # Slack honours a response URL five times (within 30 minutes).
                status, text = 404, "used_url"
            else:
                target.uses += 1
                status, text = self._apply_response(target, body)
            self._response_posts.append(ResponsePost(url_id, body, status, time.time()))
            self._changed()
            return status, text

    def _apply_response(self, target: _ResponseUrl, body: dict[str, Any]) -> tuple[int, str]:
        blocks = _json_param(body.get("blocks"))
        if blocks is not None and validate_message_blocks(blocks):
            return 400, "invalid_blocks"
        if not body.get("text") and not blocks and not body.get("delete_original"):
            return 400, "no_text"
        if body.get("delete_original") and target.message_ts:
            self._chat.delete(target.channel, target.message_ts, target.ephemeral)
            return 200, "ok"
        if body.get("replace_original") and target.message_ts:
            self._chat.update(
                target.channel, target.message_ts, target.ephemeral, body.get("text"), blocks
            )
            return 200, "ok"
        if target.channel is None:
            return 200, "ok"
        if body.get("response_type") == "in_channel":
            message = self._chat.bot_message(
                target.channel, body.get("text", ""), blocks, body.get("thread_ts")
            )
            self._chat.store(target.channel, message)
        else:
            self._chat.store_ephemeral(
                target.channel, target.user, body.get("text", ""), blocks, body.get("thread_ts")
            )
        return 200, "ok"

    # ------------------------------------------------------------------ messages

    def _require_text(self, params: dict[str, Any]) -> None:
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            raise SlackError("no_text")
        blocks = params.get("blocks")
        if blocks is not None:
            problems = validate_message_blocks(blocks)
            if problems:
                raise SlackError("invalid_blocks", response_metadata={"messages": problems})

    # ------------------------------------------------------------------ methods

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket_mode.issue_url(self.base_url)}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": "rally",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _bots_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "bot": {
                "id": BOT_ID,
                "deleted": False,
                "name": "Rally",
                "updated": 1700000000,
                "app_id": API_APP_ID,
                "user_id": BOT_USER_ID,
                "icons": {},
            }
        }

    def _team_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "team": {
                "id": TEAM_ID,
                "name": TEAM_NAME,
                "domain": TEAM_DOMAIN,
                "email_domain": "example.com",
                "icon": {},
            }
        }

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        self._bot_can_post(channel)
        self._require_text(params)
        thread_ts = params.get("thread_ts") or None
        message = self._chat.bot_message(
            channel.id, params.get("text", ""), params.get("blocks"), thread_ts
        )
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        self._chat.store(channel.id, message)
        return {"channel": channel.id, "ts": message["ts"], "message": self._chat.public(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        user = params.get("user")
        if user not in self.people:
            raise SlackError("user_not_found")
        self._bot_can_post(channel)
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        self._require_text(params)
        message = self._chat.store_ephemeral(
            channel.id, user, params.get("text", ""), params.get("blocks"), params.get("thread_ts")
        )
        return {"message_ts": message["ts"]}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        if not ts:
            raise SlackError("message_not_found")
        self._require_text(params)
        message = self._chat.update(channel.id, ts, False, params.get("text"), params.get("blocks"))
        return {
            "channel": channel.id,
            "ts": ts,
            "text": message["text"],
            "message": self._chat.public(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        self._chat.delete(channel.id, ts, False)
        return {"channel": channel.id, "ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        ts = str(params.get("message_ts") or "")
        if not ts:
            raise SlackError("message_not_found")
        link = f"{self.permalink_base}/archives/{channel.id}/p{ts.replace('.', '')}"
        message = self._chat.find(channel.id, ts, False)
        if message and message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _check_view(self, view: Any) -> dict[str, Any]:
        problems = validate_view(view)
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        return view  # type: ignore[no-any-return]

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._view_store.take_trigger(params.get("trigger_id"))
        view = self._check_view(params.get("view"))
        if view.get("type") != "modal":
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] must be modal [json-pointer:/view/type]"]},
            )
        return {"view": copy.deepcopy(self._view_store.open(view, user))}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._view_store.take_trigger(params.get("trigger_id"))
        view = self._check_view(params.get("view"))
        return {"view": copy.deepcopy(self._view_store.push(view, user))}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        full = self._view_store.update(
            view,
            view_id=params.get("view_id"),
            external_id=params.get("external_id"),
            hash=params.get("hash"),
        )
        return {"view": copy.deepcopy(full)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user_id")
        if user not in self.people:
            raise SlackError("user_not_found")
        view = self._check_view(params.get("view"))
        if view.get("type") != "home":
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] must be home [json-pointer:/view/type]"]},
            )
        full = self._view_store.publish_home(user, view, hash=params.get("hash"))
        return {"view": copy.deepcopy(full)}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        person = self.people.get(params.get("user") or "")
        if person is None:
            raise SlackError("user_not_found")
        return {"user": person.as_slack_user()}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "members": [p.as_slack_user() for p in self.people.values()],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {"channel": self._channel(params["channel"]).as_slack_channel()}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackError("users_list_not_supplied" if not users else "not_enough_users")
        if users[0] not in self.people:
            raise SlackError("user_not_found")
        existed = self._dm_channel_id(users[0]) in self.channels
        channel = self._open_dm(users[0])
        body: dict[str, Any] = {"channel": {"id": channel.id}}
        if existed:
            body.update(no_op=True, already_open=True)
        return body

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = params.get("channel")
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        return {"channel": self.channels[channel_id].as_slack_channel()}

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = params.get("channel")
        if channel_id not in self.channels:
            raise SlackError("channel_not_found")
        members = sorted(self.channels[channel_id].members)
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        channel.members.add(BOT_USER_ID)
        return {"channel": channel.as_slack_channel()}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        self._bot_can_post(channel)
        return {"messages": self._chat.history(channel.id), "has_more": False}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params.get("channel"))
        self._bot_can_post(channel)
        ts = str(params.get("ts") or "")
        msgs = self._chat.replies(channel.id, ts)
        if not msgs:
            raise SlackError("thread_not_found")
        return {"messages": msgs, "has_more": False}


def _request_params() -> dict[str, Any]:
    params: dict[str, Any] = dict(request.args.items())
    content_type = request.mimetype or ""
    raw = request.get_data()
    if content_type == "application/json" and raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    elif raw:
        params.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
    return params


def _bearer_token(params: dict[str, Any]) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    token = params.pop("token", None)
    return str(token) if token else None


def create_blueprint(fake: FakeSlack, name: str = "fake_slack") -> Blueprint:
    """The Web API (``/api/<method>``), response URLs (``/response/<id>``) and Socket Mode
    WebSocket (``/link/``, see :mod:`devstack.fake_slack.socket_mode`) of ``fake``."""
    bp = Blueprint(name, __name__)

    @bp.route("/api/<method>", methods=["GET", "POST"])
    def api(method: str) -> Response:
        params = _request_params()
        token = _bearer_token(params)
        status, body, headers = fake.handle(method, params, token)
        response = Response(json.dumps(body), status=status, mimetype="application/json")
        response.headers.update(headers)
        return response

    @bp.route("/response/<url_id>", methods=["POST"])
    def response_url(url_id: str) -> Response:
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = dict(parse_qsl(raw.decode("utf-8")))
        status, text = fake.handle_response_url(url_id, body if isinstance(body, dict) else {})
        return Response(text, status=status, mimetype="text/plain")

    add_socket_mode_route(bp, fake.socket_mode)
    return bp


def create_app(fake: FakeSlack) -> Flask:
    """A WSGI app serving ``fake`` at its root (``/api/...``, ``/response/...``)."""
    app = Flask(__name__)
    app.register_blueprint(create_blueprint(fake))
    return app
