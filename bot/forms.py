"""From what a person entered in a modal to a valid ``CreateActivityRequest``, and back.

``to_request`` turns modal values (block_id → value, see ``bot.blocks.modals``) into the
wire JSON of a create request, or raises :class:`FormErrors` keyed by the block to show
each message on. ``values_from_request`` goes the other way, so a quick-create that
Rally refused can reopen as a modal with everything kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pydantic

from api_client.models import CreateActivityRequest, format_utc
from bot import ids
from bot.parsing import ParseError, parse_minutes, parse_record_ref

# Wire field → the modal block that shows its errors.
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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _iso(unix_seconds: Any) -> str:
    return format_utc(datetime.fromtimestamp(int(unix_seconds), UTC))


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


def _url_ok(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text


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
    if body := _text(values.get(ids.BODY)):
        wire["body"] = body
    for block, kind, name in ASSOCIATIONS:
        if text := _text(values.get(block)):
            record_id = _record(block, kind, text, errors)
            if record_id:
                wire[name] = record_id
    if status := _text(values.get(ids.STATUS)):
        wire["status"] = status

    if activity_type == "task":
        if values.get(ids.DUE) not in (None, ""):
            wire["dueDate"] = _iso(values[ids.DUE])
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
        if values.get(ids.START) not in (None, ""):
            wire["scheduledAt"] = _iso(values[ids.START])
        if (text := _text(values.get(ids.DURATION))) and (
            minutes := _minutes(ids.DURATION, text, errors)
        ) is not None:
            wire["durationMinutes"] = minutes
        if location := _text(values.get(ids.LOCATION)):
            wire["location"] = location
        if url := _text(values.get(ids.MEETING_URL)):
            if _url_ok(url):
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


def values_from_request(wire: dict[str, Any]) -> dict[str, Any]:
    """Modal values (block_id → value) that re-enter ``wire``; inverse of ``to_request``."""
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
