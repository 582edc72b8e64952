"""From what a person entered in a modal to a valid ``CreateActivityRequest``, and back.

``read_values`` reads a submitted view's inputs (block_id → value), ``to_request`` turns
them into the wire JSON of a create request; both raise :class:`FormErrors` keyed by the
block to show each message on, so the modal stays open with everything typed.
``values_from_request`` goes the other way, so a quick-create that Rally refused can
reopen as a modal with everything kept.

A submission is read as untrusted: a value of the wrong type (a subject that is a number,
a date that is ``true``), longer than its input allows, or with no visible character is
an error on its block, never coerced into something Rally would store.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pydantic

from api_client.models import GUID_RE, CreateActivityRequest, format_utc, is_http_url
from bot.parsing import ParseError, parse_minutes, parse_record_ref
from slack_ui import ids
from slack_ui.modals import DATETIMES, INPUT_MAX, RECORDS, SELECTS, WIRE_TO_BLOCK

# A date picked in a modal must fall in this range (Slack's picker offers 1970..2099;
# anything outside is a forged or broken submission, not a plan).
EARLIEST = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
LATEST = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
UNREADABLE = "This value couldn't be read. Please enter it again."

ASSOCIATIONS = (
    (ids.DEAL, "deal", "dealId"),
    (ids.COMPANY, "company", "companyId"),
    (ids.CONTACT, "contact", "contactId"),
)


class FormErrors(Exception):
    """Input that cannot become a request; ``errors`` maps block_id → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def read_values(view: dict[str, Any]) -> dict[str, Any]:
    """The submitted field values of a log modal, keyed by field (block_id).

    Text comes back as typed (``None`` when empty), selects as their value, date-times as
    Unix seconds.

    Raises:
        FormErrors: a value of the wrong type or shape, on its block.
    """
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        action = actions.get(ids.input_action(block_id))
        if not isinstance(action, dict):
            continue
        try:
            out[block_id] = _element_value(block_id, action)
        except ValueError:
            errors[block_id] = (
                f"Choose a {RECORDS[block_id]} from the list (type its name, or paste its "
                "Rally id or link)."
                if block_id in RECORDS
                else UNREADABLE
            )
    if errors:
        raise FormErrors(errors)
    return out


def _element_value(block_id: str, action: dict[str, Any]) -> Any:
    kind = action.get("type")
    if block_id in RECORDS:
        if kind == "plain_text_input":  # a form opened before the menus existed
            return _text_value(block_id, action)
        # The option's value is what counts (never its text), and it is always a bare id.
        selected = action.get("selected_option")
        if selected is None:
            return None
        value = selected.get("value") if isinstance(selected, dict) else None
        if not isinstance(value, str) or not GUID_RE.fullmatch(value):
            raise ValueError("record")
        return value.lower()
    if block_id in SELECTS or kind == "static_select":
        selected = action.get("selected_option")
        if selected is None:
            return None
        value = selected.get("value") if isinstance(selected, dict) else None
        if not isinstance(value, str) or len(value) > 100:
            raise ValueError("option")
        return value
    if block_id in DATETIMES or kind == "datetimepicker":
        value = action.get("selected_date_time")
        if value is None:
            return None
        # bool is an int in Python; ``true`` must not become 1970-01-01T00:00:01Z.
        if type(value) is not int:
            raise ValueError("date")
        return value
    return _text_value(block_id, action)


def _text_value(block_id: str, action: dict[str, Any]) -> Any:
    value = action.get("value")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > INPUT_MAX.get(block_id, 3000):
        raise ValueError("text")
    return value


def _clean(text: str, *, multiline: bool) -> str:
    """Drop control characters (a subject is one line; a body keeps its line breaks)."""
    keep = "\n\t" if multiline else ""
    return "".join(
        " " if ch == "\t" and not multiline else ch
        for ch in text
        if ch in keep or unicodedata.category(ch) != "Cc"
    )


def visible(text: str) -> bool:
    """Whether ``text`` has a character a reader can see (not only spaces, controls or
    zero-width marks)."""
    return any(unicodedata.category(ch)[0] in "LNPS" for ch in text)


def _text(value: Any, *, multiline: bool = False) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("not text")  # read_values lets only strings through
    text = _clean(value, multiline=multiline).strip()
    return text if visible(text) else None


def _iso(block: str, unix_seconds: Any, errors: dict[str, str]) -> str | None:
    if type(unix_seconds) is not int or not EARLIEST <= unix_seconds < LATEST:
        errors[block] = "Pick a date and time between 2000 and 2099."
        return None
    return format_utc(datetime.fromtimestamp(unix_seconds, UTC))


def _record(block: str, kind: str, text: str, errors: dict[str, str]) -> str | None:
    try:
        return parse_record_ref(kind, text).id
    except ParseError as exc:
        errors[block] = _sentence(str(exc))
        return None


def _minutes(block: str, text: str, errors: dict[str, str]) -> int | None:
    try:
        return parse_minutes(text)
    except ParseError as exc:
        errors[block] = _sentence(str(exc))
        return None


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] if message else message


def to_request(
    activity_type: str, values: dict[str, Any], *, owner_id: str | None = None
) -> dict[str, Any]:
    """Validate modal values into ``CreateActivityRequest`` wire JSON.

    Args:
        activity_type: The modal's type.
        values: block_id → value as read from the view.
        owner_id: The user's Rally owner id from ``/rally me``, if set.

    Raises:
        FormErrors: one message per offending block.
    """
    errors: dict[str, str] = {}
    wire: dict[str, Any] = {"activityType": activity_type}
    subject = _text(values.get(ids.SUBJECT))
    if subject is None:
        errors[ids.SUBJECT] = "Enter a subject."
    else:
        wire["subject"] = subject
    if body := _text(values.get(ids.BODY), multiline=True):
        wire["body"] = body
    for block, kind, name in ASSOCIATIONS:
        if text := _text(values.get(block)):
            record_id = _record(block, kind, text, errors)
            if record_id:
                wire[name] = record_id
    if status := _text(values.get(ids.STATUS)):
        wire["status"] = status

    if activity_type == "task":
        if values.get(ids.DUE) not in (None, "") and (
            due := _iso(ids.DUE, values[ids.DUE], errors)
        ):
            wire["dueDate"] = due
        if priority := _text(values.get(ids.PRIORITY)):
            wire["priority"] = priority
    elif activity_type == "call":
        if direction := _text(values.get(ids.DIRECTION)):
            wire["callDirection"] = direction
        if outcome := _text(values.get(ids.OUTCOME)):
            wire["callOutcome"] = outcome
        if (text := _text(values.get(ids.DURATION))) and (
            minutes := _minutes(ids.DURATION, text, errors)
        ) is not None:
            wire["callDurationSeconds"] = minutes * 60
    elif activity_type == "meeting":
        if values.get(ids.START) not in (None, "") and (
            start := _iso(ids.START, values[ids.START], errors)
        ):
            wire["scheduledAt"] = start
        if (text := _text(values.get(ids.DURATION))) and (
            minutes := _minutes(ids.DURATION, text, errors)
        ) is not None:
            wire["durationMinutes"] = minutes
        if location := _text(values.get(ids.LOCATION)):
            wire["location"] = location
        if url := _text(values.get(ids.MEETING_URL)):
            if is_http_url(url):
                wire["meetingUrl"] = url
            else:
                errors[ids.MEETING_URL] = "Enter a full link starting with https://"
    if owner_id:
        wire["ownerId"] = owner_id
    if errors:
        raise FormErrors(errors)
    return validate_wire(wire)


def validate_wire(wire: dict[str, Any]) -> dict[str, Any]:
    """Check wire JSON against ``CreateActivityRequest``; errors keyed by modal block.

    Returns:
        The request as the API will receive it (normalised, unset fields left out).
    """
    try:
        request = CreateActivityRequest.model_validate(wire)
    except pydantic.ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "subject"
            block = WIRE_TO_BLOCK.get(name, ids.SUBJECT)
            errors.setdefault(block, str(error["msg"]).removeprefix("Value error, "))
        raise FormErrors(errors) from None
    return request.model_dump(by_alias=True, exclude_none=True, mode="json")
