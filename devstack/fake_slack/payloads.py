"""What Slack sends to the app, built and signed the way Slack does it.

Slash commands arrive form-encoded; interactivity (buttons, modal submissions, shortcuts)
arrives form-encoded with one field ``payload`` holding JSON; events arrive as JSON. Each
request is signed: ``X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>")``
with ``X-Slack-Request-Timestamp``. The shapes below follow what Slack delivers (and what
bolt-python's own tests replay), so Bolt parses them exactly as it parses Slack's.

Typical use::

    body = slash_command("call", user="U0ALICE", channel="C0SALES",
                         response_url=fake.new_response_url(channel="C0SALES", user="U0ALICE"),
                         trigger_id=fake.new_trigger_id("U0ALICE"))
    client.post("/slack/events", data=body, headers=signed_headers(body, SIGNING_SECRET))
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from devstack.fake_slack.world import API_APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

# The deprecated verification token Slack still puts in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "verification-token-not-real"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def signed_headers(
    body: bytes,
    signing_secret: str,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
) -> dict[str, str]:
    """Slack's signature headers for ``body`` (and its Content-Type).

    Args:
        body: the exact bytes that will be sent.
        signing_secret: the app's signing secret.
        timestamp: seconds since the epoch (default now); an old one makes a stale request.
        content_type: default form-encoded, or JSON when ``body`` is a JSON object.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # only None when no timestamp or body is given
    if content_type is None:
        content_type = JSON if body.lstrip().startswith(b"{") else FORM
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (digits, digits, hex)."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user: str, team: str) -> dict[str, Any]:
    name = user[2:].lower() if user.startswith("U0") else user.lower()
    return {"id": user, "username": name, "name": name, "team_id": team}


def _team(team: str) -> dict[str, Any]:
    return {"id": team, "domain": TEAM_DOMAIN}


def _channel_name(channel: str) -> str:
    names = {"C0SALES": "sales", "C0ACME": "deal-acme", "C0GENERAL": "general"}
    if channel.startswith("D"):
        return "directmessage"
    return names.get(channel, channel.lower())


def interactive_body(payload: dict[str, Any]) -> bytes:
    """The form body Slack posts for interactivity: ``payload=<json>``."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def slash_command(
    text: str,
    *,
    user: str = "U0ALICE",
    channel: str = "C0SALES",
    team: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/commands/T0RALLY001/1/none",
    trigger_id: str | None = None,
    command: str = "/rally",
    channel_name: str | None = None,
) -> bytes:
    """The form body of a slash command, as Slack posts it."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": channel_name or _channel_name(channel),
        "user_id": user,
        "user_name": _user(user, team)["username"],
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields).encode()


def block_actions(
    action: dict[str, Any],
    *,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    trigger_id: str | None = None,
    channel: str | None = None,
    message: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    response_url: str | None = None,
    view: dict[str, Any] | None = None,
    state_values: dict[str, Any] | None = None,
    unfurl_url: str | None = None,
) -> dict[str, Any]:
    """A ``block_actions`` payload: a button (or select...) pressed in a message or a view.

    Args:
        action: the element acted on, e.g. ``{"type": "button", "action_id": "complete",
            "block_id": "b1", "value": "...", "text": {...}}`` (``action_ts`` is added).
        message: the message the element is in (with its ``ts`` and ``blocks``), for
            message actions; ``channel`` and ``response_url`` go with it.
        is_ephemeral: the message is ephemeral (Slack then sends no ``message`` body).
        view: the view the element is in, for actions inside modals and App Home.
        state_values: ``view.state.values`` (views) or ``state.values`` (messages).
        unfurl_url: the element is in the app's unfurl of this link, attached to
            ``message`` (Slack marks the container ``is_app_unfurl``).
    """
    action = {"action_ts": _action_ts(), **action}
    if "text" not in action and action.get("type") == "button":
        action["text"] = {"type": "plain_text", "text": "Button", "emoji": True}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user, team),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": _team(team),
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        view = _with_state(view, state_values or {})
        payload["container"] = {
            "type": "view",
            "view_id": view["id"],
        }
        payload["view"] = view
        if view.get("type") == "home":
            payload["container"] = {"type": "view", "view_id": view["id"]}
    else:
        ts = (message or {}).get("ts") or _action_ts()
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        }
        if unfurl_url is not None:
            payload["container"].update(
                type="message_attachment",
                attachment_id=1,
                is_app_unfurl=True,
                app_unfurl_url=unfurl_url,
            )
        if channel is not None:
            payload["channel"] = {"id": channel, "name": _channel_name(channel)}
        if message is not None and not is_ephemeral:
            payload["message"] = {k: v for k, v in message.items() if k != "channel"}
        payload["state"] = {"values": state_values or {}}
        if response_url is not None:
            payload["response_url"] = response_url
    return payload


def block_suggestion(
    view: dict[str, Any],
    *,
    block_id: str,
    action_id: str,
    value: str,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    state_values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``block_suggestion`` payload: someone typed ``value`` into an ``external_select``
    of ``view`` (Slack asks the options load URL, and shows the ``options`` answered)."""
    return {
        "type": "block_suggestion",
        "user": _user(user, team),
        "container": {"type": "view", "view_id": view.get("id") or "V0"},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": _team(team),
        "enterprise": None,
        "is_enterprise_install": False,
        "view": _with_state(view, state_values or {}),
    }


def _with_state(view: dict[str, Any], state_values: dict[str, Any]) -> dict[str, Any]:
    view = dict(view)
    view.setdefault("id", "V" + secrets.token_hex(5).upper())
    view.setdefault("team_id", TEAM_ID)
    view.setdefault("type", "modal")
    view.setdefault("private_metadata", "")
    view.setdefault("callback_id", "")
    view.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
    view.setdefault("clear_on_close", False)
    view.setdefault("notify_on_close", False)
    view.setdefault("previous_view_id", None)
    view.setdefault("root_view_id", view["id"])
    view.setdefault("app_id", API_APP_ID)
    view.setdefault("external_id", "")
    view.setdefault("app_installed_team_id", TEAM_ID)
    view.setdefault("bot_id", "B0RALLYBOT")
    view["state"] = {"values": state_values}
    return view


def view_submission(
    view: dict[str, Any],
    state_values: dict[str, Any] | None = None,
    *,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    trigger_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``view_submission`` payload: the person pressed the modal's submit button.

    Args:
        view: the view as Slack holds it (what ``views.open`` returned, or the view the
            bot sent; missing ``id``/``hash``/... are filled in).
        state_values: ``view.state.values``; build it with :func:`state_values_for`.
    """
    return {
        "type": "view_submission",
        "team": _team(team),
        "user": _user(user, team),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _with_state(view, state_values or {}),
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(
    view: dict[str, Any],
    *,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    is_cleared: bool = False,
) -> dict[str, Any]:
    """A ``view_closed`` payload (sent only when the view has ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": _team(team),
        "user": _user(user, team),
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "view": _with_state(view, {}),
        "is_cleared": is_cleared,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def global_shortcut(
    callback_id: str,
    *,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A global shortcut (the lightning-bolt menu) payload."""
    return {
        "type": "shortcut",
        "token": VERIFICATION_TOKEN,
        "action_ts": _action_ts(),
        "team": _team(team),
        "user": _user(user, team),
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def message_shortcut(
    callback_id: str,
    message: dict[str, Any],
    channel: str,
    *,
    user: str = "U0ALICE",
    team: str = TEAM_ID,
    trigger_id: str | None = None,
    response_url: str = "https://hooks.slack.com/app/T0RALLY001/1/none",
) -> dict[str, Any]:
    """A message shortcut (a message's "More actions" menu) payload.

    Args:
        message: the message acted on, at least ``ts`` and ``text`` (and ``user``).
    """
    msg = {"type": "message", **{k: v for k, v in message.items() if k != "channel"}}
    return {
        "type": "message_action",
        "token": VERIFICATION_TOKEN,
        "action_ts": _action_ts(),
        "team": _team(team),
        "user": _user(user, team),
        "channel": {"id": channel, "name": _channel_name(channel)},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "response_url": response_url,
        "message_ts": msg["ts"],
        "message": msg,
    }


def event_callback(
    event: dict[str, Any],
    *,
    team: str = TEAM_ID,
    event_id: str | None = None,
    event_time: int | None = None,
) -> bytes:
    """An Events API delivery (JSON body) wrapping ``event``."""
    event = {"event_ts": _action_ts(), **event}
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": event_time or int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(16),
    }
    return json.dumps(body).encode()


def link_shared(
    links: list[str],
    *,
    user: str = "U0ALICE",
    channel: str = "C0SALES",
    message_ts: str | None = None,
    source: str = "conversations_history",
) -> dict[str, Any]:
    """The ``link_shared`` event for a message with ``links`` (wrap it with
    :func:`event_callback`). ``source="composer"``: still being typed, so Slack sends the
    channel ``COMPOSER`` and an ``unfurl_id`` to answer by."""
    ts = message_ts or _action_ts()
    event: dict[str, Any] = {
        "type": "link_shared",
        "user": user,
        "channel": "COMPOSER" if source == "composer" else channel,
        "message_ts": ts,
        "unfurl_id": f"{channel}.{ts}.{secrets.token_hex(4)}".replace(".", "_"),
        "source": source,
        "is_bot_user_member": True,
        "links": [{"domain": urlsplit(url).hostname or "", "url": url} for url in links],
    }
    return event


def file_share(message: dict[str, Any], *, channel_type: str = "im") -> dict[str, Any]:
    """The ``message`` event (subtype ``file_share``) Slack sends when a person shares a
    file where the app listens (``message.im``: their DM with the app); ``message`` is
    what :meth:`FakeSlack.share_file` returned. Wrap it with :func:`event_callback`."""
    return {
        "type": "message",
        "subtype": "file_share",
        "text": message.get("text", ""),
        "files": message.get("files", []),
        "upload": True,
        "user": message["user"],
        "display_as_bot": False,
        "ts": message["ts"],
        "channel": message["channel"],
        "channel_type": channel_type,
        "event_ts": message["ts"],
    }


def function_executed(
    callback_id: str,
    inputs: dict[str, Any],
    *,
    bot_access_token: str,
    function_execution_id: str | None = None,
    workflow_execution_id: str | None = None,
    title: str = "",
    input_parameters: list[dict[str, Any]] | None = None,
    output_parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``function_executed`` event for one step of a workflow run (wrap it with
    :func:`event_callback`): the app's function ``callback_id`` with the step's ``inputs``,
    a fresh ``Fx...`` execution id unless given, and the step's own short-lived token."""
    return {
        "type": "function_executed",
        "function": {
            "id": "Fn" + secrets.token_hex(5).upper(),
            "callback_id": callback_id,
            "title": title or callback_id,
            "type": "app",
            "input_parameters": input_parameters or [],
            "output_parameters": output_parameters or [],
            "app_id": API_APP_ID,
            "date_created": 1700000000,
            "date_updated": 1700000000,
            "date_deleted": 0,
        },
        "inputs": inputs,
        "function_execution_id": function_execution_id or "Fx" + secrets.token_hex(5).upper(),
        "workflow_execution_id": workflow_execution_id or "Wx" + secrets.token_hex(5).upper(),
        "event_ts": _action_ts(),
        "bot_access_token": bot_access_token,
    }


def app_home_opened(user: str = "U0ALICE", *, channel: str | None = None) -> dict[str, Any]:
    """The ``app_home_opened`` event for the Home tab (wrap it with :func:`event_callback`)."""
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": channel or "D" + user[1:],
        "tab": "home",
    }


# --------------------------------------------------------------------------- view state


def _option_state(option: dict[str, Any]) -> dict[str, Any]:
    text = dict(option.get("text") or {})
    text.setdefault("emoji", True)
    return {"text": text, "value": option.get("value")}


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    flat = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        flat.extend(group.get("options") or [])
    return flat


def _find_option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return _option_state(option)
    raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}")


def _external_option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return _option_state(value)
    initial = element.get("initial_option") or {}
    if initial.get("value") == value:
        return _option_state(initial)
    return _option_state({"text": {"type": "plain_text", "text": str(value)}, "value": value})


def element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """The ``state.values`` entry Slack reports for ``element`` holding ``value``.

    ``value`` is what a person chose, in plain Python: a string for text inputs, an
    option's ``value`` for selects and radios, a list of values for checkboxes and
    multi-selects, ``date``/``"YYYY-MM-DD"`` for dates, ``"HH:MM"`` for times, a
    ``datetime`` or epoch seconds for datetime pickers; ``None`` means left empty.
    """
    kind = element.get("type")
    state: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "url_text_input", "email_text_input", "number_input"):
        state["value"] = None if value in (None, "") else str(value)
    elif kind == "external_select":
        # Its options came from block_suggestion: ``value`` is the option chosen (a dict
        # with ``text`` and ``value``), or the value of the initial option or of a new one.
        state["selected_option"] = None if value is None else _external_option(element, value)
    elif kind in ("static_select", "radio_buttons"):
        state["selected_option"] = None if value is None else _find_option(element, value)
    elif kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        state["selected_options"] = [_find_option(element, v) for v in value or []]
    elif kind == "datepicker":
        state["selected_date"] = value.isoformat() if isinstance(value, date) else value
    elif kind == "timepicker":
        state["selected_time"] = value
        if element.get("timezone"):
            state["timezone"] = element["timezone"]
    elif kind == "datetimepicker":
        state["selected_date_time"] = (
            int(value.timestamp()) if isinstance(value, datetime) else value
        )
    elif kind == "users_select":
        state["selected_user"] = value
    elif kind == "multi_users_select":
        state["selected_users"] = list(value or [])
    elif kind in ("conversations_select", "channels_select"):
        key = "selected_conversation" if kind == "conversations_select" else "selected_channel"
        state[key] = value
    elif kind in ("multi_conversations_select", "multi_channels_select"):
        key = "selected_conversations" if kind.startswith("multi_conv") else "selected_channels"
        state[key] = list(value or [])
    else:
        state["value"] = value
    return state


def _initial(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind in ("plain_text_input", "url_text_input", "email_text_input", "number_input"):
        return element.get("initial_value")
    if kind in ("static_select", "radio_buttons", "external_select"):
        initial = element.get("initial_option")
        return initial.get("value") if initial else None
    if kind in ("checkboxes", "multi_static_select"):
        return [o.get("value") for o in element.get("initial_options") or []]
    if kind == "datepicker":
        return element.get("initial_date")
    if kind == "timepicker":
        return element.get("initial_time")
    if kind == "datetimepicker":
        return element.get("initial_date_time")
    if kind in ("users_select",):
        return element.get("initial_user")
    if kind in ("conversations_select",):
        return element.get("initial_conversation")
    return None


def state_values_for(view: dict[str, Any], values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``view.state.values`` for a person who filled ``view`` with ``values``.

    Every input block's element appears, as in Slack: with its initial value unless
    ``values`` gives one (keyed by ``action_id``, or by ``block_id``), empty otherwise.

    Raises:
        KeyError: a key of ``values`` names no input of the view (a typo in a test).
    """
    values = dict(values or {})
    state: dict[str, Any] = {}
    used: set[str] = set()
    for block in view.get("blocks") or []:
        if block.get("type") == "input":
            elements = [block.get("element") or {}]
        elif block.get("type") == "actions":
            elements = [e for e in block.get("elements") or [] if e.get("type") != "button"]
        else:
            continue
        block_id = block.get("block_id")
        for element in elements:
            action_id = element.get("action_id")
            if action_id in values:
                value, key = values[action_id], action_id
            elif block_id in values:
                value, key = values[block_id], block_id
            else:
                value, key = _initial(element), None
            if key is not None:
                used.add(key)
            if block_id is None or action_id is None:
                raise KeyError(f"block {block_id!r} element {action_id!r}: view has no ids yet")
            state.setdefault(block_id, {})[action_id] = element_state(element, value)
    unknown = set(values) - used
    if unknown:
        raise KeyError(f"no input named {sorted(unknown)} in view {view.get('callback_id')!r}")
    return state
