"""Block Kit for what the workers tell people: confirmations and failures.

Each builder returns a :class:`~slack_ui.kit.SlackMessage`; the workers post it with
``.to_dict()``. Everything a user typed goes through :func:`escape` so it can neither
ping ``@channel`` nor forge a link.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from slack_sdk.models.blocks import ActionsBlock, Block, ConfirmObject

from slack_ui.ids import (
    ACTIVITY_DELETE_ACTION,
    ACTIVITY_EDIT_ACTION,
    CONFIRMATION_ACTIONS_BLOCK,
    EDIT_AND_RETRY_ACTION,
    FAILURE_ACTIONS_BLOCK,
)
from slack_ui.kit import SlackMessage, button, context, section

FIELD_LABELS: dict[str, str] = {
    "activityType": "Type",
    "subject": "Subject",
    "body": "Details",
    "contactId": "Contact",
    "companyId": "Company",
    "dealId": "Deal",
    "scheduledAt": "Start",
    "dueDate": "Due",
    "priority": "Priority",
    "status": "Status",
    "callDirection": "Direction",
    "callOutcome": "Outcome",
    "callDurationSeconds": "Duration",
    "durationMinutes": "Duration",
    "location": "Location",
    "meetingUrl": "Meeting link",
    "ownerId": "Owner (your `/rally me` id)",
}

TYPE_NOUNS = {"note": "note", "task": "task", "call": "call", "meeting": "meeting"}


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control sequences in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_time(epoch: int, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A ``<!date^…>`` token that Slack renders in the reader's own time zone (UTC fallback)."""
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{fmt}|{fallback}>"


def slack_date(value: str, fmt: str = "{date_short_pretty} at {time}") -> str:
    """:func:`slack_time` of an ISO 8601 time as the API writes it."""
    return slack_time(int(datetime.fromisoformat(value).timestamp()), fmt)


def _minutes(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if rest and not minutes:
        return f"{rest}s"
    return f"{minutes} min" + (f" {rest}s" if rest else "")


def activity_details(activity: dict[str, Any]) -> list[str]:
    """The type-specific facts worth repeating back, as short mrkdwn phrases."""
    kind = activity.get("activityType")
    parts: list[str] = []
    if kind == "call":
        if activity.get("callDirection"):
            parts.append(str(activity["callDirection"]))
        if activity.get("callOutcome"):
            parts.append(escape(str(activity["callOutcome"]).replace("_", " ")))
        if activity.get("callDurationSeconds") is not None:
            parts.append(_minutes(int(activity["callDurationSeconds"])))
    elif kind == "task":
        if activity.get("dueDate"):
            parts.append("due " + slack_date(activity["dueDate"]))
        if activity.get("priority"):
            parts.append(f"priority {activity['priority']}")
    elif kind == "meeting":
        if activity.get("scheduledAt"):
            parts.append(slack_date(activity["scheduledAt"]))
        if activity.get("durationMinutes") is not None:
            parts.append(f"{activity['durationMinutes']} min")
        if activity.get("location"):
            parts.append(escape(str(activity["location"])))
        if activity.get("meetingUrl"):
            parts.append(f"<{escape(str(activity['meetingUrl']))}|meeting link>")
    if activity.get("status") == "completed" and kind != "call":
        parts.append("done")
    return parts


RECORD_PATHS: Final = {"deal": "deals", "company": "companies", "contact": "contacts"}

Names = Mapping[tuple[str, str], str]
"""What a workspace calls its records: (kind, id) -> name (``/rally link``, ``/rally name``);
the bot and the workers look them up and pass them in, so every builder stays pure."""


def record_link(kind: str, record_id: str, app_url: str | None, names: Names | None = None) -> str:
    """A record as people know it: its name when the workspace gave it one (else its id),
    linked to Rally when ``RALLY_APP_URL`` is set."""
    name = (names or {}).get((kind, record_id.lower()))
    if name is not None:
        label = escape(name).replace("|", "¦")
        if app_url:
            return f"{kind} <{app_url.rstrip('/')}/{RECORD_PATHS[kind]}/{record_id}|*{label}*>"
        return f"{kind} *{label}*"
    if app_url:
        return f"<{app_url.rstrip('/')}/{RECORD_PATHS[kind]}/{record_id}|{kind} {record_id}>"
    return f"{kind} `{record_id}`"


def activity_url(app_url: str | None, activity_id: str) -> str | None:
    if not app_url:
        return None
    return f"{app_url.rstrip('/')}/activities/{activity_id}"


def confirmation(
    activity: dict[str, Any],
    *,
    app_url: str | None,
    note: str | None = None,
    editable: bool = True,
    names: Names | None = None,
) -> SlackMessage:
    """The message confirming a logged activity, with **Edit** and **Delete**.

    Args:
        activity: The activity as the API returned it (wire names).
        app_url: ``RALLY_APP_URL`` for links.
        note: A line under it, e.g. ``Edited by <@U…>`` once someone edited it.
        editable: Whether to offer Edit and Delete (not on a deleted one).
        names: What the workspace calls its records ((kind, id) -> name): shown instead
            of the id.
    """
    kind = TYPE_NOUNS.get(str(activity.get("activityType")), "activity")
    subject = escape(str(activity.get("subject", "")))
    url = activity_url(app_url, str(activity["id"]))
    name = f"<{url}|{subject}>" if url else f"*{subject}*"
    details = activity_details(activity)
    line = f":white_check_mark: Logged {kind} {name}"
    if details:
        line += " — " + " · ".join(details)
    associated = [
        record_link(label, str(activity[key]), app_url, names)
        for key, label in (("dealId", "deal"), ("companyId", "company"), ("contactId", "contact"))
        if activity.get(key)
    ]
    blocks: list[Block] = [section(line)]
    if associated:
        blocks.append(context("On " + ", ".join(associated)))
    if note:
        blocks.append(context(note))
    if editable:
        blocks.append(confirmation_buttons(str(activity["id"]), kind))
    return SlackMessage(text=f"Logged {kind}: {subject}", blocks=blocks)


SECTION_TEXT_LIMIT = 2900
"""Under Block Kit's 3,000 characters per section."""


def confirmations(
    activities: list[dict[str, Any]], *, app_url: str | None, names: Names | None = None
) -> SlackMessage:
    """One message confirming several activities logged together (a coalesced batch).

    Each is one line, linked to Rally where ``app_url`` is set; Edit and Delete live on
    each activity's own page (and on its unfurl), so the message stays small.
    """
    lines = []
    for activity in activities:
        kind = TYPE_NOUNS.get(str(activity.get("activityType")), "activity")
        subject = escape(str(activity.get("subject", "")))
        url = activity_url(app_url, str(activity["id"]))
        name = f"<{url}|{subject}>" if url else f"*{subject}*"
        details = activity_details(activity)
        associated = [
            record_link(label, str(activity[key]), app_url, names)
            for key, label in (
                ("dealId", "deal"),
                ("companyId", "company"),
                ("contactId", "contact"),
            )
            if activity.get(key)
        ]
        extra = " · ".join([*details, *(["on " + ", ".join(associated)] if associated else [])])
        lines.append(f"• {kind.capitalize()} {name}" + (f" — {extra}" if extra else ""))
    count = len(activities)
    blocks: list[Block] = [section(f":white_check_mark: Logged {count} activities in Rally:")]
    chunk: list[str] = []
    for line in lines:
        line = line[:SECTION_TEXT_LIMIT]
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > SECTION_TEXT_LIMIT:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return SlackMessage(text=f"Logged {count} activities in Rally", blocks=blocks[:50])


def confirmation_buttons(activity_id: str, kind: str) -> ActionsBlock:
    """Edit, and Delete behind Slack's confirm dialog."""
    delete = button(ACTIVITY_DELETE_ACTION, "Delete", activity_id)
    delete.style = "danger"
    delete.confirm = ConfirmObject(
        title=f"Delete this {kind}?",
        text="It is deleted in Rally too, for everyone. This can't be undone.",
        confirm="Delete",
        deny="Keep it",
        style="danger",
    )
    return ActionsBlock(
        block_id=CONFIRMATION_ACTIONS_BLOCK,
        elements=[button(ACTIVITY_EDIT_ACTION, "Edit", activity_id), delete],
    )


def deleted(activity: dict[str, Any], *, by: str) -> SlackMessage:
    """The confirmation once its activity was deleted: struck through, no buttons."""
    kind = TYPE_NOUNS.get(str(activity.get("activityType")), "activity")
    subject = escape(str(activity.get("subject") or "(no subject)"))
    return SlackMessage(
        text=f"Deleted {kind}: {subject}",
        blocks=[section(f":wastebasket: ~{kind} {subject}~"), context(f"Deleted by <@{by}>")],
    )


def describe_field_errors(field_errors: dict[str, list[str]]) -> list[str]:
    """Field errors from the API, in words a person reads: ``Deal: no such record``."""
    lines = []
    for name, messages in field_errors.items():
        label = FIELD_LABELS.get(name, name)
        lines.append(f"{label}: {escape('; '.join(messages))}")
    return lines


def failure(
    *,
    activity_type: str,
    subject: str,
    reason: str,
    field_errors: dict[str, list[str]] | None,
    submission_id: str | None,
    retryable: bool,
) -> SlackMessage:
    """The message saying a submission did not reach Rally, with "Edit and retry"."""
    kind = TYPE_NOUNS.get(activity_type, "activity")
    head = f":warning: Your {kind} *{escape(subject)}* was not logged in Rally: {escape(reason)}"
    detail_lines = describe_field_errors(field_errors or {})
    text = head + ("\n" + "\n".join(f"• {line}" for line in detail_lines) if detail_lines else "")
    if retryable:
        text += "\nNothing you entered is lost."
    blocks: list[Block] = [section(text)]
    if submission_id:
        retry = button(EDIT_AND_RETRY_ACTION, "Edit and retry", submission_id, primary=True)
        blocks.append(ActionsBlock(block_id=FAILURE_ACTIONS_BLOCK, elements=[retry]))
    return SlackMessage(
        text=f"Your {kind} {escape(subject)} was not logged: {escape(reason)}", blocks=blocks
    )
