"""Modals for logging an activity, built from data; and reading them back.

``build_log_modal`` renders a type's modal (a ``slack_sdk`` ``View``) from a dict of field
values (the same dict ``bot.forms.read_values`` returns from a submitted view), so "Edit
and retry" reopens it with exactly what the user entered. Field names are the ``block_id``
constants of :mod:`slack_ui.ids`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic.alias_generators import to_camel
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    DateTimePickerElement,
    ExternalDataSelectElement,
    InputBlock,
    InputInteractiveElement,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from api_client.models import GUID_RE, SHORT_TEXT_MAX, SUBJECT_MAX, TYPE_SPECIFIC_FIELDS
from slack_ui import ids
from slack_ui.kit import button, section
from slack_ui.messages import Names

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
ASSOCIATION_HINT = "Type its name, or paste its Rally id or link"
RECORDS: dict[str, str] = {ids.DEAL: "deal", ids.COMPANY: "company", ids.CONTACT: "contact"}
"""The record menus (``external_select``, answered by the bot's ``block_suggestion``)."""
SUGGEST_MIN_QUERY = 1
OPTION_TEXT_MAX = 75
PLACEHOLDERS = {
    ids.SUBJECT: "What happened, or what needs doing",
    ids.DURATION: "e.g. 30",
    ids.MEETING_URL: "https://meet.example.com/…",
    ids.DEAL: "Type a name or paste an id",
    ids.COMPANY: "Type a name or paste an id",
    ids.CONTACT: "Type a name or paste an id",
}

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


def _options(field: str, value: Any) -> list[Option]:
    options = list(SELECTS[field])
    if value and value not in {v for v, _ in options}:
        # A value typed in a quick-create (e.g. outcome:left_message) stays selectable,
        # its label cut to what Slack shows (the value, up to 150 characters, is kept).
        label = str(value).replace("_", " ")
        if len(label) > Option.label_max_length:
            label = label[: Option.label_max_length - 1] + "…"
        options.append((str(value), label))
    return [Option(value=v, label=label) for v, label in options]


def record_option(record_id: str, name: str | None) -> Option:
    """One record in a Deal / Company / Contact menu: the value is always its id."""
    label = name or record_id
    if len(label) > OPTION_TEXT_MAX:
        label = label[: OPTION_TEXT_MAX - 1] + "…"
    return Option(value=record_id, label=label)


def _element(field: str, value: Any, names: Names | None = None) -> InputInteractiveElement:
    action_id = ids.input_action(field)
    if field in RECORDS:
        initial = None
        if isinstance(value, str) and GUID_RE.match(value):
            initial = record_option(
                value.lower(), (names or {}).get((RECORDS[field], value.lower()))
            )
        return ExternalDataSelectElement(
            action_id=action_id,
            placeholder=PLACEHOLDERS[field],
            min_query_length=SUGGEST_MIN_QUERY,
            initial_option=initial,
        )
    if field in SELECTS:
        options = _options(field, value)
        initial = next((o for o in options if value and o.value == str(value)), None)
        return StaticSelectElement(
            action_id=action_id, placeholder="Choose", options=options, initial_option=initial
        )
    if field in DATETIMES:
        initial_date_time = int(value) if value not in (None, "") else None
        return DateTimePickerElement(action_id=action_id, initial_date_time=initial_date_time)
    return PlainTextInputElement(
        action_id=action_id,
        max_length=INPUT_MAX[field],
        placeholder=PLACEHOLDERS.get(field),
        multiline=True if field == ids.BODY else None,
        initial_value=str(value) if value not in (None, "") else None,
    )


def _input(field: str, value: Any, names: Names | None = None) -> InputBlock:
    return InputBlock(
        block_id=field,
        label=LABELS[field],
        element=_element(field, value, names),
        optional=field != ids.SUBJECT,
        hint=ASSOCIATION_HINT if field in (ids.DEAL, ids.COMPANY, ids.CONTACT) else None,
    )


# Wire field → the modal block that shows it (and its errors).
WIRE_TO_BLOCK: dict[str, str] = {
    "subject": ids.SUBJECT,
    "body": ids.BODY,
    "dealId": ids.DEAL,
    "companyId": ids.COMPANY,
    "contactId": ids.CONTACT,
    "status": ids.STATUS,
    "dueDate": ids.DUE,
    "priority": ids.PRIORITY,
    "callDirection": ids.DIRECTION,
    "callOutcome": ids.OUTCOME,
    "callDurationSeconds": ids.DURATION,
    "durationMinutes": ids.DURATION,
    "scheduledAt": ids.START,
    "location": ids.LOCATION,
    "meetingUrl": ids.MEETING_URL,
}


def values_from_request(wire: dict[str, Any]) -> dict[str, Any]:
    """Modal values (block_id → value) showing ``wire`` (an activity or a request): what
    "Edit and retry" and Edit reopen a form with; the inverse of ``bot.forms.to_request``."""
    values: dict[str, Any] = {}
    for name, block in WIRE_TO_BLOCK.items():
        value = wire.get(name)
        if value is None:
            continue
        if name in ("dueDate", "scheduledAt"):
            value = int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
        elif name == "callDurationSeconds":
            minutes, seconds = divmod(int(value), 60)
            value = str(minutes) if not seconds else f"{minutes}m{seconds}s"
        elif name == "durationMinutes":
            value = str(value)
        values[block] = value
    return values


def form_wire_fields(activity_type: str) -> tuple[str, ...]:
    """The wire fields a type's form shows (besides ``subject``): what an Edit that left one
    empty clears."""
    specific = {to_camel(name): kind.value for name, kind in TYPE_SPECIFIC_FIELDS.items()}
    return tuple(
        wire
        for wire, block in WIRE_TO_BLOCK.items()
        if wire != "subject"
        and block in ids.MODAL_FIELDS[activity_type]
        and specific.get(wire, activity_type) == activity_type
    )


def _metadata(metadata: dict[str, Any] | None) -> str:
    return json.dumps(metadata or {}, separators=(",", ":"))


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
    editing: bool = False,
    names: Names | None = None,
) -> View:
    """The modal for logging one activity type (or, ``editing``, changing a logged one).

    Args:
        activity_type: ``note``, ``task``, ``call`` or ``meeting``.
        values: Field values to pre-fill (block_id → value), e.g. the channel's deal.
        metadata: Carried in ``private_metadata`` (channel, response URL, …).
        notice: A line shown above the fields (e.g. why the last attempt failed), mrkdwn.
        editing: The Edit form of an activity already in Rally (its own callback id).
        names: What the workspace calls its records, for the menus' chosen options.
    """
    values = values or {}
    fields = ids.MODAL_FIELDS[activity_type]
    body = values.get(ids.BODY)
    if editing and isinstance(body, str) and len(body) > BODY_INPUT_MAX:
        # A logged thread's details can be far longer than a Slack input holds: left
        # out of the form, and kept as they are (``metadata["kept"]``) when it is saved.
        fields = tuple(f for f in fields if f != ids.BODY)
        metadata = {**(metadata or {}), "kept": ["body"]}
        kept = (
            f"The details ({len(body):,} characters) are longer than a Slack form holds; "
            "they stay as they are in Rally."
        )
        notice = f"{notice}\n{kept}" if notice else kept
    blocks: list[Block] = [section(notice)] if notice else []
    blocks += [_input(field, values.get(field), names) for field in fields]
    return View(
        type="modal",
        callback_id=ids.EDIT_VIEW if editing else ids.LOG_VIEWS[activity_type],
        title=f"Edit the {activity_type}" if editing else TITLES[activity_type],
        submit="Save" if editing else "Log it",
        close="Cancel",
        private_metadata=_metadata(metadata),
        blocks=blocks,
    )


def thread_notice(message: dict[str, Any]) -> str:
    """What the thread modal says it will capture, from the message the shortcut is on
    (Slack puts ``reply_count`` on a thread's parent: no call needed to count)."""
    replies = message.get("reply_count")
    thread_ts, ts = message.get("thread_ts"), message.get("ts")
    if type(replies) is int and replies > 0:
        noun = "reply" if replies == 1 else "replies"
        return (
            f":thread: The whole thread, {replies + 1:,} messages (this one and its "
            f"{replies:,} {noun}), becomes the note's details, with a link to it."
        )
    if thread_ts and thread_ts != ts:
        return (
            ":thread: The whole thread this reply is in becomes the note's details, "
            "with a link to it."
        )
    return ":thread: This message has no replies yet; the note holds it, with a link to it."


def build_thread_note_modal(
    *,
    values: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    notice: str | None = None,
    names: Names | None = None,
) -> View:
    """ "Log thread as note": subject and record; the job reads the thread for the body.

    Args:
        values: Field values to pre-fill (subject, the channel's deal, ...).
        metadata: ``channel``, ``thread_ts`` and ``response_url``, in ``private_metadata``.
        notice: What will be captured (:func:`thread_notice`), and after a failure why.
    """
    values = values or {}
    blocks: list[Block] = [section(notice)] if notice else []
    blocks += [_input(field, values.get(field), names) for field in ids.THREAD_FIELDS]
    return View(
        type="modal",
        callback_id=ids.LOG_THREAD_VIEW,
        title="Log thread as note",
        submit="Log it",
        close="Cancel",
        private_metadata=_metadata(metadata),
        blocks=blocks,
    )


def build_loading(text: str, *, title: str = "Rally") -> View:
    """A modal that says what is happening while a job fetches what it will show."""
    return View(
        type="modal",
        callback_id=ids.LOADING_VIEW,
        title=title,
        close="Close",
        blocks=[section(text)],
    )


def build_type_chooser(*, metadata: dict[str, Any] | None = None) -> View:
    """The first step of the global shortcut: which kind of activity to log."""
    buttons = [
        button(ids.choose_type_action(kind), kind.capitalize(), kind) for kind in ids.ACTIVITY_TYPES
    ]
    return View(
        type="modal",
        callback_id=ids.CHOOSE_TYPE_VIEW,
        title="Log activity",
        close="Cancel",
        private_metadata=_metadata(metadata),
        blocks=[
            section("What would you like to log?"),
            ActionsBlock(block_id=ids.CHOOSE_TYPE_BLOCK, elements=buttons),
        ],
    )


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


def _secret_input(label: str, placeholder: str) -> InputBlock:
    return InputBlock(
        block_id=ids.API_KEY,
        label=label,
        hint=SECRET_HINT,
        element=PlainTextInputElement(
            action_id=ids.input_action(ids.API_KEY), max_length=200, placeholder=placeholder
        ),
    )


def build_connect_rally(
    *, base_url: str | None = None, metadata: dict[str, Any] | None = None
) -> View:
    """An admin connects the workspace to its Rally tenant: base URL and API key."""
    url_input = PlainTextInputElement(
        action_id=ids.input_action(ids.RALLY_URL),
        max_length=2048,
        placeholder="https://acme.rallycrm.io",
        initial_value=base_url or None,
    )
    return View(
        type="modal",
        callback_id=ids.CONNECT_RALLY_VIEW,
        title="Connect Rally",
        submit="Connect",
        close="Cancel",
        private_metadata=_metadata(metadata),
        blocks=[
            section(
                "Everyone in this workspace logs to this Rally tenant. "
                "The key is checked before it is used."
            ),
            InputBlock(block_id=ids.RALLY_URL, label="Rally address", element=url_input),
            _secret_input("Workspace API key", "rk_live_…"),
        ],
    )


def build_connect_personal(*, metadata: dict[str, Any] | None = None) -> View:
    """A person stores their own Rally API key, so Rally attributes what they log."""
    return View(
        type="modal",
        callback_id=ids.CONNECT_PERSONAL_VIEW,
        title="Your Rally key",
        submit="Save",
        close="Cancel",
        private_metadata=_metadata(metadata),
        blocks=[
            section(
                "What you log, complete or snooze from Slack then goes out "
                "with your own key, so Rally attributes it to you. "
                "`/rally disconnect` removes it."
            ),
            _secret_input("Your API key", "rk_…"),
        ],
    )
