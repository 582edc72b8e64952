"""The Web API: one table of the methods the app calls, and how each call is answered.

:meth:`WebApi.handle` is the whole of Slack's front door, in the order Slack applies it:
an outage answers 503; a scripted failure answers what it was scripted to; an unknown
method is ``unknown_method``; then the token (``not_authed``, ``invalid_auth``, and the
app-level ``xapp-`` token for ``apps.connections.open``); then the method itself, whose
:class:`~devstack.fake_slack.failures.SlackError` becomes ``{"ok": false, ...}``. Every
call is recorded as a :class:`Call`, answered or not, so a test can see the retries too.

The handlers below the table are thin: they read Slack's parameters, check what Slack
checks (text or blocks present, Block Kit valid, the bot a member), and leave the state
to the workspace, the message store and the view store.

No locking here: :class:`~devstack.fake_slack.server.FakeSlack` holds its lock around
every call.
"""

from __future__ import annotations

import base64
import copy
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from devstack.fake_slack.blockkit import validate_message_blocks, validate_view
from devstack.fake_slack.failures import Failures, SlackError
from devstack.fake_slack.files import FileStore
from devstack.fake_slack.messages import MessageStore
from devstack.fake_slack.socket_mode import SocketMode
from devstack.fake_slack.views import ViewStore
from devstack.fake_slack.world import API_APP_ID, BOT_ID, BOT_USER_ID, Workspace

# Methods Slack only accepts with the app-level token (xapp-...), not the bot token.
_APP_LEVEL_METHODS = frozenset({"apps.connections.open"})
# Parameters Slack accepts as JSON strings in form bodies.
_JSON_PARAMS = ("blocks", "attachments", "view", "metadata")


def decode_json_param(value: Any) -> Any:
    """Slack accepts blocks/view/metadata as JSON strings in form bodies."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def decode_json_params(params: dict[str, Any]) -> None:
    """Decode, in place, the parameters Slack accepts as JSON strings."""
    for key in _JSON_PARAMS:
        if key in params:
            params[key] = decode_json_param(params[key])


@dataclass(frozen=True)
class Call:
    """One Web API call as the fake received and answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float
    team: str | None = None
    """The workspace whose Web API answered (the one the token belongs to, or the
    default workspace for a token of none)."""

    @property
    def ok(self) -> bool:
        """Whether Slack answered ``ok: true``."""
        return bool(self.response.get("ok"))


class Site(Protocol):
    """Where the fake is served and which tokens it takes (``FakeSlack`` is one).

    Read on every call, because a test may set them once the port is known.
    """

    base_url: str
    permalink_base: str
    app_token: str

    def token_error(self, token: str | None) -> str | None:
        """Why ``token`` may not call this workspace's Web API (Slack's error), or None."""


class WebApi:
    """Answers Web API calls against the fake's state, and records them."""

    def __init__(
        self,
        site: Site,
        workspace: Workspace,
        messages: MessageStore,
        views: ViewStore,
        failures: Failures,
        socket_mode: SocketMode,
        files: FileStore | None = None,
    ) -> None:
        self._site = site
        self.files = files or FileStore()
        self._workspace = workspace
        self._messages = messages
        self._views = views
        self._failures = failures
        self._socket_mode = socket_mode
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
            "chat.unfurl": self._chat_unfurl,
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        self.reset()

    def reset(self) -> None:
        """Forget every call, unfurl and ended step."""
        self._calls: list[Call] = []
        self.unfurls: dict[tuple[str, str], dict[str, Any]] = {}
        """(channel, ts) or ("unfurl_id", id) -> {url: unfurl}: what each message shows."""
        self.ended_steps: dict[str, dict[str, Any]] = {}
        """function_execution_id -> {"outputs"} or {"error"}: how each step ended."""
        self.files.reset()
        self.replies_page_max = REPLIES_PAGE_MAX
        """The most messages one ``conversations.replies`` page holds (a test may lower it)."""
        self.step_tokens: dict[str, tuple[str, float]] = {}
        """xwfp- token -> (function_execution_id, expires at): tokens issued for steps."""

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received (of ``method`` only, when given), oldest first."""
        return [c for c in self._calls if method is None or c.method == method]

    def handle(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer and record one call (``params`` already decoded): status, body, headers."""
        status, body, headers = self._answer(method, params, token)
        self.record(method, params, token, status, body)
        return status, body, headers

    def record(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        status: int,
        body: dict[str, Any],
    ) -> None:
        """Add one call to the log."""
        call = Call(method, params, token, status, body, time.time(), self._workspace.team_id)
        self._calls.append(call)

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self._failures.in_outage():
            return 503, {"ok": False, "error": "service_unavailable"}, {}
        failure = self._failures.next_failure(method)
        if failure is not None:
            return failure
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token is None and method != "api.test":
            return 200, {"ok": False, "error": "not_authed"}, {}
        app_level = method in _APP_LEVEL_METHODS
        if app_level and token and not token.startswith("xapp-"):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        # A workflow step's own token (xwfp-) may end the step it was issued for.
        step_token = method.startswith("functions.") and bool(token and token.startswith("xwfp-"))
        if method != "api.test" and not step_token:
            if app_level:
                refused = None if token == self._site.app_token else "invalid_auth"
            else:
                refused = self._site.token_error(token)
            if refused:
                return 200, {"ok": False, "error": refused}, {}
        if step_token and (refusal := self._refuse_step_token(str(token), params)):
            return 200, {"ok": False, "error": refusal}, {}
        try:
            body = handler(params)
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
            return exc.status, body, {}
        return 200, {"ok": True, **body}, {}

    # ------------------------------------------------------------------ what Slack checks

    @staticmethod
    def _require_text(params: dict[str, Any]) -> None:
        if not params.get("text") and not params.get("blocks") and not params.get("attachments"):
            raise SlackError("no_text")
        blocks = params.get("blocks")
        if blocks is not None:
            problems = validate_message_blocks(blocks)
            if problems:
                raise SlackError("invalid_blocks", response_metadata={"messages": problems})

    @staticmethod
    def _check_view(view: Any, *, must_be: str | None = None) -> dict[str, Any]:
        problems = validate_view(view)
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        if must_be and view.get("type") != must_be:
            raise SlackError(
                "invalid_arguments",
                response_metadata={
                    "messages": [f"[ERROR] must be {must_be} [json-pointer:/view/type]"]
                },
            )
        return view  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ the app and team

    def _api_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if k != "token"}}

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self._socket_mode.issue_url(self._site.base_url)}

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self._workspace.team_domain}.slack.com/",
            "team": self._workspace.team_name,
            "user": "rally",
            "team_id": self._workspace.team_id,
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
                "id": self._workspace.team_id,
                "name": self._workspace.team_name,
                "domain": self._workspace.team_domain,
                "email_domain": "example.com",
                "icon": {},
            }
        }

    # ------------------------------------------------------------------ chat.*

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        self._workspace.bot_can_post(channel)
        self._require_text(params)
        thread_ts = params.get("thread_ts") or None
        message = self._messages.bot_message(
            channel.id, params.get("text", ""), params.get("blocks"), thread_ts
        )
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        self._messages.store(channel.id, message)
        return {
            "channel": channel.id,
            "ts": message["ts"],
            "message": self._messages.public(message),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        user = params.get("user")
        if user not in self._workspace.people:
            raise SlackError("user_not_found")
        self._workspace.bot_can_post(channel)
        if user not in channel.members:
            raise SlackError("user_not_in_channel")
        self._require_text(params)
        message = self._messages.store_ephemeral(
            channel.id, user, params.get("text", ""), params.get("blocks"), params.get("thread_ts")
        )
        return {"message_ts": message["ts"]}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        if not ts:
            raise SlackError("message_not_found")
        self._require_text(params)
        message = self._messages.update(
            channel.id, ts, False, params.get("text"), params.get("blocks")
        )
        return {
            "channel": channel.id,
            "ts": ts,
            "text": message["text"],
            "message": self._messages.public(message),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        ts = str(params.get("ts") or "")
        self._messages.delete(channel.id, ts, False)
        return {"channel": channel.id, "ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        ts = str(params.get("message_ts") or "")
        if not ts:
            raise SlackError("message_not_found")
        link = f"{self._site.permalink_base}/archives/{channel.id}/p{ts.replace('.', '')}"
        message = self._messages.find(channel.id, ts, False)
        if message and message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _chat_unfurl(self, params: dict[str, Any]) -> dict[str, Any]:
        unfurls = params.get("unfurls")
        if isinstance(unfurls, str):
            unfurls = json.loads(unfurls)
        if not isinstance(unfurls, dict) or not unfurls:
            raise SlackError("invalid_unfurls")
        for unfurl in unfurls.values():
            blocks = unfurl.get("blocks") if isinstance(unfurl, dict) else None
            if blocks is not None and (problems := validate_message_blocks(blocks)):
                raise SlackError("invalid_unfurls", response_metadata={"messages": problems})
        if params.get("unfurl_id"):
            key = ("unfurl_id", str(params["unfurl_id"]))
        else:
            channel, ts = params.get("channel"), params.get("ts")
            if not channel or not ts:
                raise SlackError("invalid_arguments")
            key = (str(channel), str(ts))
        self.unfurls.setdefault(key, {}).update(unfurls)
        return {}

    def issue_step_token(self, execution_id: str, ttl_s: float) -> str:
        """A workflow token (``xwfp-``) for one step run, valid ``ttl_s`` seconds."""
        token = "xwfp-fake-" + secrets.token_hex(12)
        self.step_tokens[token] = (execution_id, time.time() + ttl_s)
        return token

    def _refuse_step_token(self, token: str, params: dict[str, Any]) -> str | None:
        """Why an issued step token may not end this step (None: it may). A token the
        fake did not issue (a test's own ``xwfp-...``) is taken for any step."""
        issued = self.step_tokens.get(token)
        if issued is None:
            return None
        execution, expires = issued
        if time.time() > expires:
            return "token_expired"
        if str(params.get("function_execution_id") or "") != execution:
            return "invalid_auth"  # a step's token ends that step only
        return None

    def _end_step(self, params: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
        execution = str(params.get("function_execution_id") or "")
        if not execution:
            raise SlackError("invalid_arguments")
        if execution in self.ended_steps:
            raise SlackError("execution_not_in_running_state")
        self.ended_steps[execution] = outcome
        return {}

    def _functions_complete_success(self, params: dict[str, Any]) -> dict[str, Any]:
        outputs = params.get("outputs")
        if isinstance(outputs, str):
            outputs = json.loads(outputs)
        return self._end_step(params, {"outputs": outputs or {}})

    def _functions_complete_error(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("error"):
            raise SlackError("invalid_arguments")
        return self._end_step(params, {"error": str(params["error"])})

    # ------------------------------------------------------------------ views.*

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"file": self.files.info(params.get("file")), "comments": []}

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.files.upload_url(self._site.base_url, BOT_USER_ID, params)

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = None
        if params.get("channel_id"):
            channel = self._workspace.channel(params.get("channel_id"))
            self._workspace.bot_can_post(channel)
        files = self.files.complete(params)
        if channel is not None:
            # Slack shares the upload as a message of the bot's, with the comment as text.
            message = self._messages.bot_message(
                channel.id, params.get("initial_comment") or "", None, params.get("thread_ts")
            )
            message["files"] = files
            self._messages.store(channel.id, message)
        return {"files": files}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._views.take_trigger(params.get("trigger_id"))
        view = self._check_view(params.get("view"), must_be="modal")
        return {"view": copy.deepcopy(self._views.open(view, user))}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._views.take_trigger(params.get("trigger_id"))
        view = self._check_view(params.get("view"))
        return {"view": copy.deepcopy(self._views.push(view, user))}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        full = self._views.update(
            view,
            view_id=params.get("view_id"),
            external_id=params.get("external_id"),
            hash=params.get("hash"),
        )
        return {"view": copy.deepcopy(full)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user_id")
        if user not in self._workspace.people:
            raise SlackError("user_not_found")
        view = self._check_view(params.get("view"), must_be="home")
        full = self._views.publish_home(user, view, hash=params.get("hash"))
        return {"view": copy.deepcopy(full)}

    # ------------------------------------------------------------------ users.* and conversations.*

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        person = self._workspace.people.get(params.get("user") or "")
        if person is None:
            raise SlackError("user_not_found")
        return {"user": person.as_slack_user(team_id=self._workspace.team_id)}

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "members": [
                p.as_slack_user(team_id=self._workspace.team_id)
                for p in self._workspace.people.values()
            ],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            return {
                "channel": self._workspace.channel(params["channel"]).as_slack_channel(
                    self._workspace.team_id
                )
            }
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1:
            raise SlackError("users_list_not_supplied" if not users else "not_enough_users")
        if users[0] not in self._workspace.people:
            raise SlackError("user_not_found")
        existed = self._workspace.dm_channel_id(users[0]) in self._workspace.channels
        channel = self._workspace.open_dm(users[0])
        body: dict[str, Any] = {"channel": {"id": channel.id}}
        if existed:
            body.update(no_op=True, already_open=True)
        return body

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = params.get("channel")
        if channel_id not in self._workspace.channels:
            raise SlackError("channel_not_found")
        return {
            "channel": self._workspace.channels[channel_id].as_slack_channel(
                self._workspace.team_id
            )
        }

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel_id = params.get("channel")
        if channel_id not in self._workspace.channels:
            raise SlackError("channel_not_found")
        members = sorted(self._workspace.channels[channel_id].members)
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        channel.members.add(BOT_USER_ID)
        return {"channel": channel.as_slack_channel(self._workspace.team_id)}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._workspace.channel(params.get("channel"))
        self._workspace.bot_can_post(channel)
        return {"messages": self._messages.history(channel.id), "has_more": False}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread, a page at a time, as Slack pages it: at most ``limit`` messages (and
        never more than :attr:`replies_page_max`, 1,000 as in Slack), the parent first on
        every page, and ``response_metadata.next_cursor`` while more remain."""
        channel = self._workspace.channel(params.get("channel"))
        self._workspace.bot_can_post(channel)
        ts = str(params.get("ts") or "")
        msgs = self._messages.replies(channel.id, ts)
        if not msgs:
            raise SlackError("thread_not_found")
        try:
            limit = int(params.get("limit") or REPLIES_PAGE_MAX)
        except (TypeError, ValueError):
            raise SlackError("invalid_limit") from None
        limit = max(2, min(limit, self.replies_page_max))
        start = _read_cursor(params.get("cursor"))
        parent, replies = msgs[0], msgs[1:]
        page = replies[start : start + limit - 1]
        after = start + len(page)
        body: dict[str, Any] = {"messages": [parent, *page], "has_more": after < len(replies)}
        body["response_metadata"] = {"next_cursor": _cursor(after) if body["has_more"] else ""}
        return body


REPLIES_PAGE_MAX = 1000
"""Slack's cap on one page of ``conversations.replies``."""


def _cursor(offset: int) -> str:
    return base64.b64encode(f"next_reply:{offset}".encode()).decode()


def _read_cursor(cursor: Any) -> int:
    """The offset a cursor of :func:`_cursor` names (0 for none).

    Raises:
        SlackError: ``invalid_cursor``, as Slack answers one it did not hand out.
    """
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.b64decode(str(cursor), validate=True).decode().partition(":")
        if kind != "next_reply" or not offset.isdigit():
            raise ValueError(cursor)
        return int(offset)
    except ValueError:
        raise SlackError("invalid_cursor") from None
