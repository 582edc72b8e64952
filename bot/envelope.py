"""The shape every request must have before Bolt or a listener reads it.

Bolt's own request handling (its context builder, matchers and argument helpers) and
our listeners index into payloads as Slack documents them: ``body["actions"][0]``,
``body["user"]["id"]``. A payload that is signed (so it came through Slack, or from
someone holding the signing secret) but malformed would raise inside them and answer
500 with a traceback, or raise after ``ack()`` and answer nothing. :func:`check` runs
first, over HTTP and Socket Mode alike, and turns any such payload into a plain 400.

Only the fields someone reads are described; everything else passes untouched. Ids
are Slack's (upper-case letters and digits), texts and values are strings within
Slack's own limits, and containers are objects. Strict types: ``"1"`` is not 1, and
``true`` is not a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError

# Slack's ids: T…, U…, W…, C…, G…, D…, B…, V…, E… followed by upper-case letters/digits.
SLACK_ID_PATTERN: Final = r"^[A-Z0-9]{1,40}$"
SlackId = Annotated[StrictStr, Field(pattern=SLACK_ID_PATTERN)]
Short = Annotated[StrictStr, Field(max_length=255)]
"""action_id, block_id, callback_id, trigger_id, type names: Slack caps these at 255."""
Value = Annotated[StrictStr, Field(max_length=2000)]
"""A button's or option's value: Slack caps it at 2,000 characters."""
Url = Annotated[StrictStr, Field(max_length=2048, pattern=r"^https?://[^\s]+$")]
Text = Annotated[StrictStr, Field(max_length=40_000)]
"""Message text: Slack truncates longer messages."""
Metadata = Annotated[StrictStr, Field(max_length=3000)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Team(_Part):
    id: SlackId
    domain: Short | None = None
    enterprise_id: SlackId | None = None


class _User(_Part):
    id: SlackId
    team_id: SlackId | None = None


class _Channel(_Part):
    id: SlackId
    name: Short | None = None


class _Enterprise(_Part):
    id: SlackId
    name: Short | None = None


class _Authorization(_Part):
    team_id: SlackId | None = None
    user_id: SlackId | None = None
    enterprise_id: SlackId | None = None
    is_enterprise_install: StrictBool | None = None
    is_bot: StrictBool | None = None


class _Option(_Part):
    value: Value


class _Action(_Part):
    action_id: Short
    block_id: Short | None = None
    type: Short | None = None
    value: Value | None = None
    selected_option: _Option | None = None
    action_ts: Short | None = None


class _Container(_Part):
    type: Short | None = None
    channel_id: SlackId | None = None
    message_ts: Short | None = None
    thread_ts: Short | None = None
    view_id: Short | None = None
    is_ephemeral: StrictBool | None = None
    is_app_unfurl: StrictBool | None = None
    app_unfurl_url: Annotated[StrictStr, Field(max_length=4096)] | None = None


class _Message(_Part):
    ts: Short | None = None
    thread_ts: Short | None = None
    text: Text | None = None
    user: SlackId | None = None
    user_id: SlackId | None = None
    bot_id: SlackId | None = None
    blocks: list[dict[str, Any]] | None = None


class _State(_Part):
    values: dict[Short, dict[Short, dict[str, Any]]] = Field(default_factory=dict)


class _View(_Part):
    id: Short
    type: Short | None = None
    callback_id: Short | None = None
    hash: Short | None = None
    team_id: SlackId | None = None
    app_installed_team_id: SlackId | None = None
    app_id: SlackId | None = None
    bot_id: SlackId | None = None
    private_metadata: Metadata | None = None
    root_view_id: Short | None = None
    previous_view_id: Short | None = None
    external_id: Short | None = None
    state: _State | None = None
    blocks: list[dict[str, Any]] | None = None


class _ResponseUrl(_Part):
    response_url: Url | None = None
    channel_id: SlackId | None = None
    block_id: Short | None = None
    action_id: Short | None = None


class _Item(_Part):
    channel: SlackId | None = None
    ts: Short | None = None


class _SubmittedView(_View):
    type: Short
    callback_id: Short


class _Envelope(_Part):
    """What every payload may carry at its top level."""

    type: Short | None = None
    token: Short | None = None
    api_app_id: SlackId | None = None
    team_id: SlackId | None = None
    enterprise_id: SlackId | None = None
    context_team_id: SlackId | None = None
    context_enterprise_id: SlackId | None = None
    is_ext_shared_channel: StrictBool | None = None
    user_id: SlackId | None = None
    channel_id: SlackId | None = None
    thread_ts: Short | None = None
    function_execution_id: Short | None = None
    trigger_id: Short | None = None
    response_url: Url | None = None
    callback_id: Short | None = None
    team: _Team | None = None
    user: _User | None = None
    channel: _Channel | None = None
    enterprise: _Enterprise | SlackId | None = None
    is_enterprise_install: StrictBool | Literal["true", "false"] | None = None
    authorizations: list[_Authorization] | None = None
    container: _Container | None = None
    message: _Message | None = None
    view: _View | None = None
    actions: list[dict[str, Any]] | None = None
    # Bolt takes len() of it whenever the key is there, so it may be missing, never null.
    response_urls: list[_ResponseUrl] = Field(default_factory=list)
    previous_message: _Message | None = None
    item: _Item | None = None
    function_data: dict[str, Any] | None = None


class _SlashCommand(_Envelope):
    command: Short
    text: Text = ""
    team_id: SlackId
    user_id: SlackId
    channel_id: SlackId
    trigger_id: Short


class _BlockActions(_Envelope):
    user: _User
    actions: Annotated[list[_Action], Field(min_length=1, max_length=25)]  # type: ignore[assignment]


class _ViewSubmission(_Envelope):
    user: _User
    view: _SubmittedView


class _BlockSuggestion(_Envelope):
    """What someone typed into an ``external_select`` (its ``value``)."""

    user: _User
    action_id: Short
    block_id: Short
    value: Value


class _Shortcut(_Envelope):
    callback_id: Short
    trigger_id: Short
    user: _User


class _MessageAction(_Shortcut):
    channel: _Channel
    message: _Message


class _Function(_Part):
    callback_id: Short
    id: Short | None = None


class _Link(_Part):
    url: Annotated[StrictStr, Field(max_length=4096)]
    domain: Short | None = None


class _Event(_Part):
    type: Short
    user: SlackId | _User | None = None
    user_id: SlackId | None = None
    user_team: SlackId | None = None
    channel: SlackId | _Channel | None = None
    channel_id: SlackId | None = None
    team: SlackId | None = None
    team_id: SlackId | None = None
    enterprise_id: SlackId | None = None
    tab: Short | None = None
    ts: Short | None = None
    thread_ts: Short | None = None
    event_ts: Short | None = None
    subtype: Short | None = None
    bot_id: SlackId | None = None
    message: _Message | None = None
    previous_message: _Message | None = None
    item: _Item | None = None
    authorizations: list[_Authorization] | None = None
    # function_executed (Workflow Builder steps)
    function_execution_id: Short | None = None
    workflow_execution_id: Short | None = None
    bot_access_token: Short | None = None
    function: _Function | None = None
    inputs: dict[str, Any] | None = None
    # link_shared (unfurls); a message still in the composer has channel "COMPOSER"
    message_ts: Short | None = None
    unfurl_id: Short | None = None
    source: Short | None = None
    links: Annotated[list[_Link], Field(max_length=100)] | None = None


class _EventCallback(_Envelope):
    event: _Event


class _UrlVerification(_Part):
    challenge: Short


MODELS: Final[dict[str, type[_Part]]] = {
    "block_actions": _BlockActions,
    "block_suggestion": _BlockSuggestion,
    "view_submission": _ViewSubmission,
    "view_closed": _ViewSubmission,
    "shortcut": _Shortcut,
    "message_action": _MessageAction,
    "event_callback": _EventCallback,
    "url_verification": _UrlVerification,
}


class Malformed(ValueError):
    """A request whose shape no listener can act on; ``str()`` says what, never the values."""


def check(body: Any, *, response_url_allowed: Callable[[str], bool] | None = None) -> None:
    """Raise :class:`Malformed` unless ``body`` has the shape its kind must have.

    Args:
        body: The parsed payload: a slash command's form fields, an interactive
            ``payload``, or an Events API body.
        response_url_allowed: Whether a response URL may be posted to (Bolt's
            ``respond`` posts to whatever the payload names); a payload naming any
            other is refused.
    """
    if not isinstance(body, dict):
        raise Malformed("the payload is not an object")
    kind = body.get("type")
    if "command" in body and kind is None:
        model: type[_Part] = _SlashCommand
    elif isinstance(kind, str) and kind in MODELS:
        model = MODELS[kind]
    else:
        model = _Envelope
    try:
        model.model_validate(body)
    except ValidationError as exc:
        raise Malformed(_describe(exc)) from None
    if response_url_allowed is not None:
        urls = [body.get("response_url")]
        urls += [
            item.get("response_url") for item in body.get("response_urls") or []
        ]  # checked above
        if any(url is not None and not response_url_allowed(str(url)) for url in urls):
            raise Malformed("response_url:not_slack")


_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")


def _describe(exc: ValidationError) -> str:
    """Where the payload went wrong, by path and error type only (no values: no log forgery)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:3]:
        path = _UNSAFE.sub("?", ".".join(str(p) for p in error["loc"]))[:80]
        parts.append(f"{path}:{error['type']}")
    return ",".join(parts)
