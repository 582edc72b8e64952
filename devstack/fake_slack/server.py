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
from devstack.fake_slack.oauth import OAuthApp, TeamCard, Token, Tokens
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
    "OAuthApp",
    "Person",
    "ResponsePost",
    "SlackError",
    "SocketMode",
    "Token",
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
    """One workspace's Slack, in memory and thread-safe; and the others, with OAuth.

    The fake is one workspace (the dev one, unless told otherwise) that answers to
    ``bot_token`` as ``SLACK_BOT_TOKEN``. It also plays Slack for an app distributed with
    OAuth: :meth:`register_app` says what the app's settings hold (client id and secret,
    redirect URL, token rotation), :meth:`add_team` stands up another workspace (its own
    people, channels, messages and views, a :class:`FakeSlack` of its own, reached from
    :meth:`team`), and the consent page and ``oauth.v2.access``
    (:mod:`devstack.fake_slack.oauth`) install the app into any of them. Every Web API
    call is then answered by the workspace its bearer token belongs to, and
    :meth:`all_calls` says which token each call used and which workspace answered.

    Args:
        bot_token: the token the Web API accepts without OAuth (anything not issued is
            ``invalid_auth``).
        base_url: where the fake is served (``http://127.0.0.1:PORT``), for response URLs;
            set it later with :attr:`base_url` when the port is known.
        people: the workspace's members (default: :func:`default_people`).
        channels: its channels (default: :func:`default_channels`).
        permalink_base: the origin of permalinks ``chat.getPermalink`` hands out.
        app_token: the app-level token ``apps.connections.open`` accepts (Socket Mode,
            served by :attr:`socket_mode`).
        team_id, team_name, team_domain: which workspace this is.
    """

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        base_url: str = "",
        people: list[Person] | None = None,
        channels: list[Channel] | None = None,
        permalink_base: str | None = None,
        app_token: str = DEFAULT_APP_TOKEN,
        team_id: str = TEAM_ID,
        team_name: str = TEAM_NAME,
        team_domain: str = TEAM_DOMAIN,
        _root: FakeSlack | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_name = team_name
        self._root = _root
        self.socket_mode = SocketMode(app_id=API_APP_ID)
        self._base_url = base_url.rstrip("/")
        self.permalink_base = (permalink_base or f"https://{team_domain}.slack.com").rstrip("/")
        self._cond = threading.Condition(threading.RLock())
        self._version = 0
        self._workspace = Workspace(
            people, channels, team_id=team_id, team_name=team_name, team_domain=team_domain
        )
        self._failures = Failures()
        self._messages = MessageStore(team_id)
        self._view_store = ViewStore(team_id)
        self._response_urls = ResponseUrls(self._messages, self._failures)
        self._web_api = WebApi(
            self,
            self._workspace,
            self._messages,
            self._view_store,
            self._failures,
            self.socket_mode,
        )
        self._tokens = Tokens()
        self._teams: dict[str, FakeSlack] = {}
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        """Forget every call, message, view and scripted failure; restore the workspace.

        Every workspace added with :meth:`add_team`, app registered and token issued by
        OAuth goes too: the fake is one workspace answering to ``bot_token`` again.
        """
        with self._cond:
            self._workspace.reset()
            self._web_api.reset()
            self._messages.reset()
            self._response_urls.reset()
            self._failures.reset()
            self._view_store.reset()
            self._version = 0
            self.socket_mode.reset()
            self._tokens.reset()
            self._teams.clear()
            self._cond.notify_all()

    @property
    def base_url(self) -> str:
        """Where the fake is served (every workspace of it: one server)."""
        return self._root.base_url if self._root is not None else self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self._base_url = value.rstrip("/")

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
        the bytes, to a bot token of the workspace the file is in only."""
        with self._cond:
            owner = self._tokens.team_of(token) if self._root is None else None
        target = self.team(owner or self.team_id)
        if target.token_error(token) is not None:
            return None
        with target._cond:
            file_id = path.split("/", 1)[0].rsplit("-", 1)[-1]
            return target._web_api.files.content_at(file_id)

    def receive_upload(self, upload_id: str, data: bytes) -> bool:
        """The bytes POSTed to an upload URL from ``files.getUploadURLExternal`` (of
        whichever workspace handed it out)."""
        for team in self.teams():
            with team._cond:
                received = team._web_api.files.receive(upload_id, data)
                if received:
                    team._changed()
                    return True
        return False

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
        """Answer one Web API call: ``(HTTP status, JSON body, extra headers)``.

        The workspace the bearer token belongs to answers it (this one for a token of
        none, which it then refuses as Slack would).
        """
        decode_json_params(params)
        with self._cond:
            owner = self._tokens.team_of(token) if self._root is None else None
        target = self.team(owner or self.team_id)
        with target._cond:
            answer = target._web_api.handle(method, params, token)
            target._changed()
            return answer

    def token_error(self, token: str | None) -> str | None:
        """Why ``token`` may not call this workspace's Web API (Slack's error), or None."""
        root = self._root or self
        if self._root is None and token == self.bot_token:
            return None
        with root._cond:
            return root._tokens.check(token, self.team_id)

    def handle_response_url(self, url_id: str, body: dict[str, Any]) -> tuple[int, str]:
        """Accept one POST to a response URL and apply it as Slack does."""
        target = self
        with self._cond:
            teams = list(self._teams.values())
        if not self._response_urls.knows(url_id):
            target = next((t for t in teams if t._response_urls.knows(url_id)), self)
        with target._cond:
            answer = target._response_urls.post(url_id, body)
            target._changed()
            return answer

    # ------------------------------------------------------------------ workspaces and OAuth

    def add_team(
        self,
        team_id: str,
        name: str,
        *,
        domain: str | None = None,
        people: list[Person] | None = None,
        channels: list[Channel] | None = None,
    ) -> FakeSlack:
        """Stand up another workspace (people and channels default to the dev team's ids);
        the app reaches it only with a token issued for it through OAuth."""
        if self._root is not None:
            return self._root.add_team(
                team_id, name, domain=domain, people=people, channels=channels
            )
        with self._cond:
            if team_id == self.team_id or team_id in self._teams:
                raise ValueError(f"workspace {team_id} exists")
            team = FakeSlack(
                bot_token="",
                people=people,
                channels=channels,
                team_id=team_id,
                team_name=name,
                team_domain=domain or name.lower().replace(" ", "-"),
                _root=self,
            )
            self._teams[team_id] = team
            self._changed()
            return team

    def team(self, team_id: str) -> FakeSlack:
        """The workspace ``team_id`` (this one, or one added with :meth:`add_team`).

        Raises:
            KeyError: no such workspace.
        """
        if self._root is not None:
            return self._root.team(team_id)
        if team_id == self.team_id:
            return self
        with self._cond:
            return self._teams[team_id]

    def teams(self) -> list[FakeSlack]:
        """Every workspace, the first one (the fake's own) first."""
        if self._root is not None:
            return self._root.teams()
        with self._cond:
            return [self, *self._teams.values()]

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        *,
        redirect_uri: str | None = None,
        token_rotation: bool = False,
    ) -> None:
        """What the app's settings at api.slack.com hold: who may ask ``oauth.v2.access``
        for tokens, where the consent page sends the browser back, whether tokens expire."""
        with self._cond:
            self._tokens.register_app(
                OAuthApp(client_id, client_secret, redirect_uri, token_rotation=token_rotation)
            )

    def tokens(self, team: str | None = None) -> list[Token]:
        """Every token OAuth issued (to ``team``), oldest first (copies)."""
        if self._root is not None:
            return self._root.tokens(team)
        with self._cond:
            return [copy.copy(t) for t in self._tokens.issued(team) if t.kind == "bot"]

    def expire_token(self, token: str) -> None:
        """Time passes for ``token``: from now on it is ``token_expired``."""
        with self._cond:
            self._tokens.expire(token)
            self._changed()

    def uninstall(self, team_id: str) -> list[str]:
        """An admin removed the app from ``team_id``: every token of it is revoked (send
        the app the ``app_uninstalled`` event, as Slack does next). Returns the tokens."""
        with self._cond:
            revoked = self._tokens.revoke_team(team_id)
            self._changed()
            return revoked

    def _team_cards(self) -> list[TeamCard]:
        cards = []
        for team in self.teams():
            people = [p for p in team.people.values() if not p.is_bot]
            cards.append(
                TeamCard(
                    team.team_id,
                    team.team_name,
                    people[0].id if people else "",
                    tuple((p.id, p.real_name) for p in people),
                )
            )
        return cards

    def consent_page(self, params: dict[str, str], action: str) -> tuple[int, str]:
        """``GET /oauth/v2/authorize``: the consent page (200), or Slack's error page (400)."""
        cards = self._team_cards()
        with self._cond:
            try:
                return 200, self._tokens.consent(params, cards, action)
            except SlackError as exc:
                return 400, f"<!doctype html><p>Something went wrong: {exc.error}</p>"

    def consent_decision(self, form: dict[str, str]) -> tuple[int, str]:
        """The consent page's Allow or Cancel: ``(302, Location)``, or ``(400, error)``."""
        cards = self._team_cards()
        with self._cond:
            try:
                location = self._tokens.decide(form, cards)
            except SlackError as exc:
                return 400, exc.error
            self._changed()
            return 302, location

    def oauth_access(
        self, params: dict[str, Any], basic: tuple[str, str] | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``oauth.v2.access`` (authenticated by the client id and secret, not a token)."""
        names = {t.team_id: t.team_name for t in self.teams()}
        with self._cond:
            try:
                body = {"ok": True, **self._tokens.access(params, basic, names)}
            except SlackError as exc:
                body = {"ok": False, "error": exc.error}
            recorded = {k: v for k, v in params.items() if k != "client_secret"}
            self._web_api.record("oauth.v2.access", recorded, None, 200, body)
            self._changed()
            return 200, body, {}

    def all_calls(self, method: str | None = None) -> list[Call]:
        """Every call any workspace received (of ``method``), oldest first; each says
        which token it came with and which workspace answered (:attr:`Call.team`)."""
        calls: list[Call] = []
        for team in self.teams():
            with team._cond:
                calls += team._web_api.calls(method)
        return sorted(calls, key=lambda c: c.at)

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
