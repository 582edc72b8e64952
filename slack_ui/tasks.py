"""Block Kit for tasks: the reminder, what it becomes once someone acts, task lists, App Home.

The workers post and update these, and the bot builds ``/rally tasks`` and the Home tab
from the same functions. Messages are :class:`~slack_ui.kit.SlackMessage`, the Home tab a
``slack_sdk`` ``View``; ``.to_dict()`` happens where they go to Slack.
Everything a user typed goes through :func:`~slack_ui.messages.escape`. Times are Slack
``<!date>`` tokens, so each reader sees them in their own time zone.

Buttons (``action_id``; ``value`` is ``"<task id>:<due epoch>"``, the due date the
button was shown for, so a click acts on that version of the task only)::

    task_complete          Complete
    task_snooze_hour       Snooze 1 hour (from the due time, or from now when overdue)
    task_snooze_tomorrow   Snooze until tomorrow 9:00 in the clicker's time zone
    tasks_more             next page of ``/rally tasks`` (``value`` is the offset)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from slack_sdk.models.blocks import ActionsBlock, Block
from slack_sdk.models.views import View

from slack_ui.ids import (
    ACTIVITY_TYPES,
    COMPLETE_ACTION,
    CONNECT_PERSONAL_ACTION,
    CONNECT_RALLY_ACTION,
    EDIT_AND_RETRY_ACTION,
    HOME_LOG_BUTTONS_BLOCK,
    HOME_SETUP_BLOCK,
    LOG_BUTTONS_BLOCK,
    OWNER_SELF_SERVICE_ACTION,
    SNOOZE_HOUR_ACTION,
    SNOOZE_TOMORROW_ACTION,
    TASK_ACTIONS_BLOCK,
    TASKS_MORE_ACTION,
    TASKS_MORE_BLOCK,
    open_modal_action,
    task_row_block,
)
from slack_ui.kit import SlackMessage, button, context, header, section
from slack_ui.messages import (
    Names,
    activity_url,
    escape,
    record_link,
    slack_time,
)

__all__ = [
    "PAGE_SIZE",
    "Names",
    "Setup",
    "TaskCard",
    "acted_reminder",
    "button_value",
    "home_view",
    "log_buttons",
    "outcome_line",
    "parse_button_value",
    "record_link",
    "reminder",
    "setup_blocks",
    "task_buttons",
    "task_rows",
    "tasks_message",
    "undelivered_blocks",
]

PAGE_SIZE: Final = 10


@dataclass(frozen=True)
class TaskCard:
    """What a task message shows, from the index (strings) or a fresh API read."""

    id: str
    subject: str
    due: int
    priority: str | None = None
    owner_id: str | None = None
    deal_id: str | None = None
    company_id: str | None = None
    contact_id: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> TaskCard:
        """From wire-named fields: an indexed task hash, or an activity's JSON."""
        due = fields.get("due")
        if due is None:
            due = int(
                datetime.fromisoformat(str(fields["dueDate"]).replace("Z", "+00:00")).timestamp()
            )
        return cls(
            id=str(fields["id"]),
            subject=str(fields.get("subject") or "(no subject)"),
            due=int(due),
            priority=fields.get("priority") or None,
            owner_id=fields.get("ownerId") or None,
            deal_id=fields.get("dealId") or None,
            company_id=fields.get("companyId") or None,
            contact_id=fields.get("contactId") or None,
        )

    def records(self) -> list[tuple[str, str]]:
        """The associated (kind, id) pairs."""
        pairs = (("deal", self.deal_id), ("company", self.company_id), ("contact", self.contact_id))
        return [(kind, rid) for kind, rid in pairs if rid]


def button_value(task_id: str, due: int) -> str:
    return f"{task_id}:{due}"


_BUTTON_VALUE_RE: Final = re.compile(
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([0-9]{1,11})\Z"
)
DUE_MAX: Final = 4_102_444_800
"""2100-01-01: a due epoch past this is not one the app ever showed."""


def parse_button_value(value: object) -> tuple[str, int]:
    """``"<task id>:<due epoch>"`` → (task id, due epoch), exactly as :func:`button_value`
    writes it (a lower-case GUID, a bounded epoch). Raises ValueError on anything else."""
    match = _BUTTON_VALUE_RE.match(value) if isinstance(value, str) else None
    if match is None or int(match.group(2)) > DUE_MAX:
        raise ValueError("not a task button value")
    return match.group(1), int(match.group(2))


def _name(card: TaskCard, app_url: str | None) -> str:
    subject = escape(card.subject)
    url = activity_url(app_url, card.id)
    return f"*<{url}|{subject}>*" if url else f"*{subject}*"


def owner_text(owner_id: str | None, owner_user: str | None) -> str | None:
    if owner_user:
        return f"<@{owner_user}>"
    return f"`{escape(owner_id)}`" if owner_id else None


def _facts(
    card: TaskCard, *, app_url: str | None, owner_user: str | None, names: Names | None
) -> list[str]:
    facts = []
    if card.priority:
        facts.append(f"Priority *{escape(card.priority)}*")
    facts += [record_link(kind, rid, app_url, names) for kind, rid in card.records()]
    owner = owner_text(card.owner_id, owner_user)
    if owner:
        facts.append(f"Owner {owner}")
    return facts


def task_buttons(card: TaskCard, block_id: str = TASK_ACTIONS_BLOCK) -> ActionsBlock:
    """Complete / Snooze 1 hour / Snooze until tomorrow 9:00 for one task's due date."""
    value = button_value(card.id, card.due)
    return ActionsBlock(
        block_id=block_id,
        elements=[
            button(COMPLETE_ACTION, "Complete", value, primary=True),
            button(SNOOZE_HOUR_ACTION, "Snooze 1 hour", value),
            button(SNOOZE_TOMORROW_ACTION, "Snooze until tomorrow 9:00", value),
        ],
    )


def _headline(card: TaskCard, *, now: datetime, app_url: str | None) -> str:
    name = _name(card, app_url)
    if card.due <= int(now.timestamp()):
        return f":rotating_light: *Overdue:* {name} was due {slack_time(card.due)}"
    return f":alarm_clock: {name} is due {slack_time(card.due)}"


def reminder(
    card: TaskCard,
    *,
    now: datetime,
    app_url: str | None,
    owner_user: str | None,
    names: Names | None = None,
) -> SlackMessage:
    """The reminder posted to a channel: the task, its due time, facts and the three buttons."""
    blocks: list[Block] = [section(_headline(card, now=now, app_url=app_url))]
    facts = _facts(card, app_url=app_url, owner_user=owner_user, names=names)
    if facts:
        blocks.append(context(" · ".join(facts)))
    blocks.append(task_buttons(card))
    overdue = "Overdue" if card.due <= int(now.timestamp()) else "Due"
    text = f"{overdue}: {escape(card.subject)} ({slack_time(card.due)})"
    return SlackMessage(text=text, blocks=blocks)


def outcome_line(action: Mapping[str, Any]) -> str:
    """``✅ Completed by <@U…>`` / ``⏰ Snoozed by <@U…> until <!date…>`` from an action record."""
    who = f"<@{action['user']}>"
    if action["action"] == COMPLETE_ACTION:
        return f":white_check_mark: Completed by {who}"
    if action.get("new_due") is not None:
        return f":alarm_clock: Snoozed by {who} until {slack_time(int(action['new_due']))}"
    return f":wastebasket: {escape(str(action.get('note') or 'No longer open in Rally'))}"


def acted_reminder(
    card: TaskCard,
    action: Mapping[str, Any],
    *,
    app_url: str | None,
    owner_user: str | None,
    names: Names | None = None,
) -> SlackMessage:
    """The reminder once someone acted: the buttons give way to who did what."""
    line = outcome_line(action)
    head = f"{_name(card, app_url)} — was due {slack_time(card.due)}"
    blocks: list[Block] = [section(head)]
    facts = _facts(card, app_url=app_url, owner_user=owner_user, names=names)
    if facts:
        blocks.append(context(" · ".join(facts)))
    blocks.append(section(line))
    return SlackMessage(text=f"{escape(card.subject)}: {line}", blocks=blocks)


def task_rows(
    cards: list[TaskCard], *, now: datetime, app_url: str | None, names: Names | None = None
) -> list[Block]:
    """One section and one button row per task (``/rally tasks`` and App Home)."""
    blocks: list[Block] = []
    for card in cards:
        line = f"{_name(card, app_url)} — due {slack_time(card.due)}"
        if card.due <= int(now.timestamp()):
            line = f":rotating_light: *Overdue* · {line}"
        extras = [f"priority {escape(card.priority)}"] if card.priority else []
        extras += [record_link(kind, rid, app_url, names) for kind, rid in card.records()]
        if extras:
            line += "\n" + " · ".join(extras)
        blocks.append(section(line))
        blocks.append(task_buttons(card, block_id=task_row_block(card.id)))
    return blocks


SHOWN_NOTE: Final = "Open tasks with a due date, soonest first (tasks without one aren't listed)."


def tasks_message(
    cards: list[TaskCard],
    *,
    offset: int,
    total: int,
    now: datetime,
    app_url: str | None,
    notice: str | None = None,
    names: Names | None = None,
) -> SlackMessage:
    """The ephemeral ``/rally tasks`` answer: one page of tasks and a More button."""
    blocks: list[Block] = [section(notice)] if notice else []
    if total == 0:
        text = (
            "You have no open tasks with a due date. Log one with "
            '`/rally task Send proposal due:"tomorrow 5pm"`.'
        )
        blocks.append(section(text))
        return SlackMessage(text=text, blocks=blocks)
    shown = f"{offset + 1} to {offset + len(cards)} of {total}"
    blocks.append(context(f"*Your open tasks* ({shown}). {SHOWN_NOTE}"))
    blocks += task_rows(cards, now=now, app_url=app_url, names=names)
    after = offset + len(cards)
    if after < total:
        more = button(TASKS_MORE_ACTION, f"More ({total - after})", str(after))
        blocks.append(ActionsBlock(block_id=TASKS_MORE_BLOCK, elements=[more]))
    return SlackMessage(text=f"Your open tasks ({shown})", blocks=blocks)


def log_buttons(block_id: str = LOG_BUTTONS_BLOCK) -> ActionsBlock:
    """One button per activity type, each opening its modal."""
    return ActionsBlock(
        block_id=block_id,
        elements=[button(open_modal_action(kind), f"Log {kind}", kind) for kind in ACTIVITY_TYPES],
    )


def undelivered_blocks(entries: list[Mapping[str, Any]], app_url: str | None) -> list[Block]:
    """Outcomes Slack never let us tell at the time, newest first (from ``notify`` giving up)."""
    if not entries:
        return []
    blocks: list[Block] = [header("While Slack was unreachable")]
    for entry in entries:
        kind = escape(str(entry.get("activity_type") or "activity"))
        subject = escape(str(entry.get("subject") or "(no subject)"))
        if entry.get("ok"):
            url = activity_url(app_url, str(entry.get("activity_id") or ""))
            name = f"<{url}|{subject}>" if url and entry.get("activity_id") else f"*{subject}*"
            text = f":white_check_mark: Logged {kind} {name}"
        else:
            reason = escape(str(entry.get("reason") or "it could not be logged"))
            text = f":warning: Your {kind} *{subject}* was not logged: {reason}"
        retry = None
        if not entry.get("ok") and entry.get("submission_id"):
            retry = button(EDIT_AND_RETRY_ACTION, "Edit and retry", str(entry["submission_id"]))
        blocks.append(section(text, accessory=retry))
    return blocks


@dataclass(frozen=True)
class Setup:
    """What App Home says about how this workspace and this person reach Rally.

    Attributes:
        status: The workspace's connection: ``ok``, ``checking``, ``failed`` or ``none``.
        host: The connected Rally host (never the key).
        key_hint: The last four characters of the workspace key.
        detail: Why the last check failed, in words.
        from_environment: Set by the operator (``RALLY_BASE_URL``), not from Slack.
        admin: The viewer is a workspace admin (sees Connect Rally and the settings).
        self_service: People may choose their own owner id (``/rally me``).
        personal_hint: The last four of the viewer's own key, when they connected one.
        personal_status: That key's check: ``ok``, ``checking`` or ``failed``.
    """

    status: str = "none"
    host: str | None = None
    key_hint: str | None = None
    detail: str | None = None
    from_environment: bool = False
    admin: bool = False
    self_service: bool = False
    personal_hint: str | None = None
    personal_status: str | None = None


_STATUS_WORDS: Final = {
    "ok": ":large_green_circle: Connected to",
    "checking": ":hourglass_flowing_sand: Checking the connection to",
    "failed": ":red_circle: Could not connect to",
}


def setup_blocks(setup: Setup) -> list[Block]:
    """The workspace's Rally connection and the viewer's own key, with what they may do."""
    if setup.status == "none":
        line = ":electric_plug: This workspace isn't connected to Rally yet."
        if not setup.admin:
            line += " Ask a workspace admin to connect it here."
    else:
        line = f"{_STATUS_WORDS.get(setup.status, setup.status)} *{escape(setup.host or '?')}*"
        if setup.key_hint:
            line += f" (key {escape(setup.key_hint)})"
        if setup.detail and setup.status == "failed":
            line += f"\n{escape(setup.detail)}"
    blocks: list[Block] = [section(line)]
    buttons = []
    if setup.admin and not setup.from_environment:
        label = "Connect Rally" if setup.status == "none" else "Change connection"
        buttons.append(button(CONNECT_RALLY_ACTION, label, "open", primary=setup.status != "ok"))
    if setup.status == "ok":
        label = "Connect your own key" if not setup.personal_hint else "Replace your key"
        buttons.append(button(CONNECT_PERSONAL_ACTION, label, "open"))
    if setup.admin:
        turn = "off" if setup.self_service else "on"
        label = (
            "Stop people choosing their owner id"
            if setup.self_service
            else "Let people choose their owner id"
        )
        buttons.append(button(OWNER_SELF_SERVICE_ACTION, label, turn))
    if setup.personal_hint:
        words = {"ok": "checked", "checking": "being checked", "failed": "refused by Rally"}
        state = words.get(setup.personal_status or "", setup.personal_status or "")
        blocks.append(
            context(
                f"You log with your own key ({escape(setup.personal_hint)}, "
                f"{state}); `/rally disconnect` removes it."
            )
        )
    if buttons:
        blocks.append(ActionsBlock(block_id=HOME_SETUP_BLOCK, elements=buttons))
    return blocks


def home_view(
    *,
    tasks: list[TaskCard] | None,
    total_tasks: int,
    recent: list[tuple[str, str, str]],
    now: datetime,
    app_url: str | None,
    undelivered: Sequence[Mapping[str, Any]] | None = None,
    setup: Setup | None = None,
    names: Names | None = None,
) -> View:
    """The App Home: the Rally connection, log buttons, open tasks with buttons, recently
    logged.

    Args:
        tasks: The first page of open tasks (``None``: the task index is unavailable).
        total_tasks: How many open tasks there are in all.
        recent: (activity id, type, subject) the user logged, newest first.
        undelivered: Outcomes whose notification gave up (see ``undelivered_blocks``).
        setup: The connection and the viewer's key (see :class:`Setup`).
    """
    setup = setup or Setup()
    blocks: list[Block] = [header("Rally"), *setup_blocks(setup)]
    if setup.status != "ok":
        return View(type="home", blocks=blocks)
    blocks += [
        log_buttons(HOME_LOG_BUTTONS_BLOCK),
        *undelivered_blocks(list(undelivered or []), app_url),
        header("Your open tasks"),
    ]
    if tasks is None:
        note = "Open tasks can't be shown right now."
    elif not tasks:
        note = "No open tasks with a due date."
    else:
        more = total_tasks - len(tasks)
        note = SHOWN_NOTE + (f" {more} more: `/rally tasks`." if more > 0 else "")
    blocks.append(context(note))
    blocks += task_rows(tasks or [], now=now, app_url=app_url, names=names)
    blocks.append(header("Recently logged"))
    if not recent:
        blocks.append(context("Nothing logged from Slack yet."))
    for activity_id, kind, subject in recent[:20]:
        url = activity_url(app_url, activity_id)
        name = f"<{url}|{escape(subject)}>" if url else escape(subject)
        blocks.append(section(f"{kind} · {name}"))
    return View(type="home", blocks=blocks)
