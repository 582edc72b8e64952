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

:class:`FakeSlack` is the one object tests, benchmarks and the console hold; it is a thin
front over the parts, each readable on its own:

=============================================  ==========================================
:mod:`~devstack.fake_slack.world`              ids, people, channels, DMs, membership
:mod:`~devstack.fake_slack.messages`           messages, threads, ephemerals, edits
:mod:`~devstack.fake_slack.views`              modal stacks, Home tabs, trigger ids
:mod:`~devstack.fake_slack.response_urls`      response URLs and what they were sent
:mod:`~devstack.fake_slack.failures`           ``SlackError``, ``fail_next``, ``outage``
:mod:`~devstack.fake_slack.web_api`            the method table, auth, the call log
:mod:`~devstack.fake_slack.routes`             the Flask blueprint serving all of it
=============================================  ==========================================

Thread safety is this module's job alone: the parts never lock. Every method here that
reads or changes state holds the one condition variable ``_cond`` (a re-entrant lock)
while it does, and, when state changed, bumps :attr:`FakeSlack.version` and wakes
:meth:`FakeSlack.wait_until` and :meth:`FakeSlack.wait_for_change`. Every name tests and
tools import from here (constants, ``Person``, ``Call``, ``create_app``...) is still
importable from here.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from devstack.fake_slack.blockkit import normalize_blocks, validate_message_blocks, validate_view
from devstack.fake_slack.failures import Failures, SlackError
from devstack.fake_slack.messages import MessageStore
from devstack.fake_slack.response_urls import ResponsePost, ResponseUrls
from devstack.fake_slack.routes import create_app, create_blueprint
from devstack.fake_slack.socket_mode import DEFAULT_APP_TOKEN, SocketMode, add_socket_mode_route
from devstack.fake_slack.views import ViewStore
from devstack.fake_slack.web_api import Call, WebApi, decode_json_params
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
        self._cond = threading.Condition(threading.RLock())
        self._version = 0
        self._workspace = Workspace(people, channels)
        self._failures = Failures()
        self._messages = MessageStore()
        self._view_store = ViewStore()
        self._response_urls = ResponseUrls(self._messages, self._failures)
        self._web_api = WebApi(
            self,
            self._workspace,
            self._messages,
            self._view_store,
            self._failures,
            self.socket_mode,
        )
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget every call, message, view and scripted failure; restore the workspace."""
        with self._cond:
            self._workspace.reset()
            self._web_api.reset()
            self._messages.reset()
            self._response_urls.reset()
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

    @property
    def people(self) -> dict[str, Person]:
        """The workspace's members by id."""
        return self._workspace.people

    @property
    def channels(self) -> dict[str, Channel]:
        """The workspace's channels by id (DMs opened so far included)."""
        return self._workspace.channels

    def _changed(self) -> None:
        self._version += 1
        self._cond.notify_all()

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

    def outage(self, calls: int) -> None:
        """Slack is down for the next ``calls`` requests of any kind: every Web API method
        and every response URL answers 503 until then (``outage(0)`` ends it)."""
        with self._cond:
            self._failures.outage(calls)

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
        with self._cond:
            return self._response_urls.new(
                self.base_url,
                channel=channel,
                user=user,
                message_ts=message_ts,
                ephemeral=ephemeral,
            )

    def new_trigger_id(self, user: str | None = None) -> str:
        """A trigger id as Slack puts in interactions; a modal opened with it is ``user``'s."""
        with self._cond:
            return self._view_store.new_trigger_id(user)

    # ------------------------------------------------------------------ queries

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (of ``method`` only, when given), oldest first."""
        with self._cond:
            return self._web_api.calls(method)

    def unfurls(self, channel: str, ts: str) -> dict[str, Any]:
        """url -> unfurl the app attached to one message (``chat.unfurl``)."""
        with self._cond:
            return dict(self._web_api.unfurls.get((channel, ts), {}))

    def issue_step_token(self, execution_id: str, ttl_s: float = 15 * 60) -> str:
        """A short-lived workflow token, as Slack puts in ``function_executed``: it ends
        only the step ``execution_id`` with ``functions.complete*``, for ``ttl_s`` s."""
        with self._cond:
            return self._web_api.issue_step_token(execution_id, ttl_s)

    def ended_step(self, execution_id: str) -> dict[str, Any] | None:
        """How a workflow step ended: ``{"outputs": ...}`` or ``{"error": ...}``, or None."""
        with self._cond:
            return self._web_api.ended_steps.get(execution_id)

    def messages(self, channel: str, *, include_replies: bool = True) -> list[dict[str, Any]]:
        """The channel's messages as people see them (thread replies too, by default)."""
        with self._cond:
            return self._messages.in_channel(channel, include_replies=include_replies)

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The replies in one thread, oldest first (the parent excluded)."""
        with self._cond:
            return self._messages.thread(channel, thread_ts)

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages shown (in ``channel``, to ``user``), oldest first."""
        with self._cond:
            return self._messages.ephemerals(channel, user)

    def response_posts(self, url_or_id: str | None = None) -> list[ResponsePost]:
        """POSTs received on response URLs (on one URL, given its URL or id)."""
        with self._cond:
            return self._response_urls.posts(url_or_id)

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

    # ------------------------------------------------------------------ what people do

    def post_as_user(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person's own message in a channel (what a message shortcut acts on)."""
        with self._cond:
            ch = self._workspace.channel(channel)
            message = self._messages.user_message(ch.id, user, text, thread_ts)
            self._messages.store(ch.id, message)
            self._changed()
            return copy.deepcopy(message)

    def post_thread(
        self,
        channel: str,
        count: int,
        *,
        users: list[str] | None = None,
        text: Callable[[int], str] | None = None,
    ) -> dict[str, Any]:
        """A thread of ``count`` messages typed by people (the parent and ``count - 1``
        replies), for a test, a benchmark or the console to log.

        Args:
            users: who types each message, in turn (default: the workspace's people).
            text: message ``i`` (0 is the parent) → its text (default ``"Message i"``).

        Returns:
            The parent, with its ``reply_count``.
        """
        if count < 1:
            raise ValueError("a thread has at least one message")
        with self._cond:
            ch = self._workspace.channel(channel)
            authors = users or [p.id for p in self._workspace.people.values() if not p.is_bot]
            messages: list[dict[str, Any]] = []
            for i in range(count):
                body = text(i) if text else f"Message {i}"
                thread_ts = messages[0]["ts"] if messages else None
                messages.append(
                    self._messages.user_message(ch.id, authors[i % len(authors)], body, thread_ts)
                )
            self._messages.store_thread(ch.id, messages)
            self._changed()
            return copy.deepcopy(messages[0])

    def set_replies_page_max(self, size: int) -> None:
        """Cap ``conversations.replies`` pages at ``size`` messages (Slack's cap is 1,000)."""
        with self._cond:
            self._web_api.replies_page_max = max(2, size)

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
                message = self._messages.bot_message(channel, text, blocks, thread_ts)
                self._messages.store(channel, message)
            else:
                message = self._messages.store_ephemeral(channel, user, text, blocks, thread_ts)
            self._changed()
            return copy.deepcopy(message)

    def share_file(
        self, channel: str | None, user: str, name: str, content: bytes, *, text: str = ""
    ) -> dict[str, Any]:
        """A person shares a file in a channel, or with ``channel=None`` in their DM with
        the app: the message, with its ``files`` as Slack describes them (what a
        ``file_share`` event carries)."""
        with self._cond:
            ch = (
                self._workspace.open_dm(user)
                if channel is None
                else self._workspace.channel(channel)
            )
            info = self._web_api.files.share(self.base_url, user, name, content)
            self._web_api.files.by_id[info["id"]].channels.append(ch.id)
            message = self._messages.user_message(ch.id, user, text, None)
            message["subtype"] = "file_share"
            message["upload"] = True
            message["files"] = [info]
            self._messages.store(ch.id, message)
            self._changed()
            return copy.deepcopy(message)

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes of a shared or uploaded file, if any."""
        with self._cond:
            return self._web_api.files.content_at(file_id)

    def download(self, path: str, token: str | None) -> bytes | None:
        """``url_private`` / ``url_private_download`` (``T-F/name`` or ``T-F/download/name``):
        the bytes, to the bot token only."""
        with self._cond:
            if token != self.bot_token:
                return None
            file_id = path.split("/", 1)[0].rsplit("-", 1)[-1]
            return self._web_api.files.content_at(file_id)

    def receive_upload(self, upload_id: str, data: bytes) -> bool:
        """The bytes POSTed to an upload URL from ``files.getUploadURLExternal``."""
        with self._cond:
            received = self._web_api.files.receive(upload_id, data)
            self._changed()
            return received

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

    # ------------------------------------------------------------------ waiting

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

    # ------------------------------------------------------------------ HTTP edge

    def handle(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one Web API call: ``(HTTP status, JSON body, extra headers)``."""
        decode_json_params(params)
        with self._cond:
            answer = self._web_api.handle(method, params, token)
            self._changed()
            return answer

    def handle_response_url(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """Accept one POST to a response URL and apply it as Slack does."""
        with self._cond:
            answer = self._response_urls.post(url_id, body)
            self._changed()
            return answer

    # ------------------------------------------------------------------ for the console
    # The console (devstack/console/app.py) reads and edits views and DMs in place, while
    # holding _cond; these keep the names it uses.

    @property
    def _views(self) -> dict[str, dict[str, Any]]:
        return self._view_store.by_id

    @property
    def _view_owner(self) -> dict[str, str | None]:
        return self._view_store.owner

    def _open_dm(self, user: str) -> Channel:
        return self._workspace.open_dm(user)

    def _dm_channel_id(self, user: str) -> str:
        return self._workspace.dm_channel_id(user)
