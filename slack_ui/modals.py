"""Modals for logging an activity, built from data; and reading them back.

``build_log_modal`` renders a type's modal from a dict of field values (the same dict
``bot.forms.read_values`` returns from a submitted view), so "Edit and retry" reopens it
with exactly what the user entered. Field names are the ``block_id`` constants of
:mod:`slack_ui.ids`.
"""

from __future__ import annotations

import json
from typing import Any

from api_client.models import SHORT_TEXT_MAX, SUBJECT_MAX
from slack_ui import ids

TITLES = {
    "note": "Log a note",
    "task": "Log a task",
    "call": "Log a call",
    "meeting": "Log a meeting",
}

STATUS_OPTIONS = (("pending", "Pending"), ("completed", "Completed"))
PRIORITY_OPTIONS = (("low", "Low"), ("normal", "Normal"), ("high", "High"), ("urgent", "Urgent"))
DIRECTION_OPTIONS = (("outbound", "Outbound"), ("inbound", "Inbound"))
OUTCOME_OPTIONS = (
    ("connected", "Connected"),
    ("voicemail", "Left voicemail"),
    ("no_answer", "No answer"),
    ("busy", "Busy"),
    ("wrong_number", "Wrong number"),
)

LABELS = {
    ids.SUBJECT: "Subject",
    ids.BODY: "Details",
    ids.DEAL: "Deal",
    ids.COMPANY: "Company",
    ids.CONTACT: "Contact",
    ids.STATUS: "Status",
    ids.DUE: "Due",
    ids.PRIORITY: "Priority",
    ids.DIRECTION: "Direction",
    ids.OUTCOME: "Outcome",
    ids.DURATION: "Duration (minutes)",
    ids.START: "Starts",
    ids.LOCATION: "Location",
    ids.MEETING_URL: "Meeting link",
}
ASSOCIATION_HINT = "A Rally id or a link to the record, e.g. https://app.rallycrm.io/deals/…"

SELECTS: dict[str, tuple[tuple[str, str], ...]] = {
    ids.STATUS: STATUS_OPTIONS,
    ids.PRIORITY: PRIORITY_OPTIONS,
    ids.DIRECTION: DIRECTION_OPTIONS,
    ids.OUTCOME: OUTCOME_OPTIONS,
}
DATETIMES = (ids.DUE, ids.START)

BODY_INPUT_MAX = 3000
"""Slack's own ceiling for a plain_text_input."""
INPUT_MAX: dict[str, int] = {
    ids.SUBJECT: SUBJECT_MAX,
    ids.BODY: BODY_INPUT_MAX,
    ids.DEAL: 300,
    ids.COMPANY: 300,
    ids.CONTACT: 300,
    ids.DURATION: 20,
    ids.LOCATION: SHORT_TEXT_MAX,
    ids.MEETING_URL: 2048,
}
"""The most characters each text input takes (Slack enforces it in the modal; the
submission handler checks it again, since a forged submission is not bound by it)."""


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def _element(field: str, value: Any) -> dict[str, Any]:
    action_id = ids.input_action(field)
    if field in SELECTS:
        options = list(SELECTS[field])
        if value and value not in {v for v, _ in options}:
            # A value typed in a quick-create (e.g. outcome:left_message) stays selectable.
            options.append((str(value), str(value).replace("_", " ")))
        element: dict[str, Any] = {
            "type": "static_select",
            "action_id": action_id,
            "placeholder": _plain("Choose"),
            "options": [_option(v, label) for v, label in options],
        }
        if value:
            label = dict(options)[str(value)]
            element["initial_option"] = _option(str(value), label)
        return element
    if field in DATETIMES:
        element = {"type": "datetimepicker", "action_id": action_id}
        if value not in (None, ""):
            element["initial_date_time"] = int(value)
        return element
    element = {"type": "plain_text_input", "action_id": action_id}
    element["max_length"] = INPUT_MAX[field]
    if field == ids.SUBJECT:
        element["placeholder"] = _plain("What happened, or what needs doing")
    elif field == ids.BODY:
        element["multiline"] = True
    elif field == ids.DURATION:
        element["placeholder"] = _plain("e.g. 30")
    elif field == ids.MEETING_URL:
        element["placeholder"] = _plain("https://meet.example.com/…")
    elif field in (ids.DEAL, ids.COMPANY, ids.CONTACT):
        element["placeholder"] = _plain("Rally id or link")
    if value not in (None, ""):
        element["initial_value"] = str(value)
    return element


def _input(field: str, value: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field,
        "label": _plain(LABELS[field]),
        "element": _element(field, value),
        "optional": field != ids.SUBJECT,
    }
    if field in (ids.DEAL, ids.COMPANY, ids.CONTACT):
        block["hint"] = _plain(ASSOCIATION_HINT)
    return block


def default_values(activity_type: str) -> dict[str, Any]:
    """What a fresh modal starts with: a call is usually logged after it happened."""
    if activity_type == "call":
        return {ids.STATUS: "completed", ids.DIRECTION: "outbound"}
    return {}


def build_log_modal(
    activity_type: str,
    *,
    values: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The modal for logging one activity type.

    Args:
        activity_type: ``note``, ``task``, ``call`` or ``meeting``.
        values: Field values to pre-fill (block_id → value), e.g. the channel's deal.
        metadata: Carried in ``private_metadata`` (channel, response URL, …).
        notice: A line shown above the fields (e.g. why the last attempt failed), mrkdwn.
    """
    values = values or {}
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notice}})
    blocks += [_input(field, values.get(field)) for field in ids.MODAL_FIELDS[activity_type]]
    return {
        "type": "modal",
        "callback_id": ids.LOG_VIEWS[activity_type],
        "title": _plain(TITLES[activity_type]),
        "submit": _plain("Log it"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata or {}, separators=(",", ":")),
        "blocks": blocks,
    }


def build_type_chooser(*, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """The first step of the global shortcut: which kind of activity to log."""
    return {
        "type": "modal",
        "callback_id": ids.CHOOSE_TYPE_VIEW,
        "title": _plain("Log activity"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata or {}, separators=(",", ":")),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "What would you like to log?"}},
            {
                "type": "actions",
                "block_id": "choose_type",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.choose_type_action(kind),
                        "text": _plain(kind.capitalize()),
                        "value": kind,
                    }
                    for kind in ids.ACTIVITY_TYPES
                ],
            },
        ],
    }


def read_metadata(view: dict[str, Any]) -> dict[str, Any]:
    raw = view.get("private_metadata") or ""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


SECRET_HINT = (
    "Stored encrypted and never shown again (only its last four characters). "
    "Find it in Rally under Settings → API keys."
)


def _secret_input(label: str, placeholder: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": ids.API_KEY,
        "label": _plain(label),
        "hint": _plain(SECRET_HINT),
        "element": {
            "type": "plain_text_input",
            "action_id": ids.input_action(ids.API_KEY),
            "max_length": 200,
            "placeholder": _plain(placeholder),
        },
    }


def build_connect_rally(
    *, base_url: str | None = None, metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An admin connects the workspace to its Rally tenant: base URL and API key."""
    url_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.input_action(ids.RALLY_URL),
        "max_length": 2048,
        "placeholder": _plain("https://acme.rallycrm.io"),
    }
    if base_url:
        url_element["initial_value"] = base_url
    return {
        "type": "modal",
        "callback_id": ids.CONNECT_RALLY_VIEW,
        "title": _plain("Connect Rally"),
        "submit": _plain("Connect"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata or {}, separators=(",", ":")),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Everyone in this workspace logs to this Rally tenant. "
                    "The key is checked before it is used.",
                },
            },
            {
                "type": "input",
                "block_id": ids.RALLY_URL,
                "label": _plain("Rally address"),
                "element": url_element,
            },
            _secret_input("Workspace API key", "rk_live_…"),
        ],
    }


def build_connect_personal(*, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """A person stores their own Rally API key, so Rally attributes what they log."""
    return {
        "type": "modal",
        "callback_id": ids.CONNECT_PERSONAL_VIEW,
        "title": _plain("Your Rally key"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata or {}, separators=(",", ":")),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "What you log, complete or snooze from Slack then goes out "
                    "with your own key, so Rally attributes it to you. "
                    "`/rally disconnect` removes it.",
                },
            },
            _secret_input("Your API key", "rk_…"),
        ],
    }
