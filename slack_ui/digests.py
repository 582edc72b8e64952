"""Block Kit for a channel's daily digest (SPEC §7): the linked record's overdue and
due-today tasks, soonest first, each with the reminder's Complete and Snooze buttons.

Once someone acts on a task of the digest, the digest is drawn again with that task's
buttons replaced by who did what, so everyone in the channel sees it is handled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from slack_sdk.models.blocks import Block

from slack_ui.ids import digest_row_block
from slack_ui.kit import SlackMessage, context, section
from slack_ui.messages import activity_url, escape, slack_time
from slack_ui.tasks import Names, TaskCard, outcome_line, record_link, task_buttons

DIGEST_TASKS_MAX: Final = 20
"""Tasks shown in one digest (two blocks each, within Slack's 50 per message)."""


def _name(card: TaskCard, app_url: str | None) -> str:
    subject = escape(card.subject)
    url = activity_url(app_url, card.id)
    return f"<{url}|{subject}>" if url else subject


def digest_message(
    kind: str,
    record_id: str,
    cards: Sequence[TaskCard],
    *,
    overdue_before: int,
    total: int,
    app_url: str | None,
    acted: Mapping[str, Mapping[str, Any]] | None = None,
    names: Names | None = None,
) -> SlackMessage:
    """The digest of one record.

    Args:
        cards: The tasks shown, soonest due first (at most :data:`DIGEST_TASKS_MAX`).
        overdue_before: The epoch before which a task counts as overdue (the digest's time).
        total: How many tasks were due in all (more than shown: the rest are counted).
        acted: Task id → what someone did to it since (its row loses the buttons).
    """
    acted = acted or {}
    overdue = sum(1 for card in cards if card.due < overdue_before)
    counts = [f"{overdue} overdue"] if overdue else []
    if len(cards) - overdue:
        counts.append(f"{len(cards) - overdue} due today")
    head = f":sunrise: *Today for {record_link(kind, record_id, app_url, names)}*: " + ", ".join(
        counts
    )
    blocks: list[Block] = [section(head)]
    for card in cards:
        name = _name(card, app_url)
        when = (
            f"was due {slack_time(card.due)}"
            if card.due < overdue_before
            else (f"due {slack_time(card.due)}")
        )
        if card.id in acted:
            blocks.append(section(f"~{name}~ — {outcome_line(acted[card.id])}"))
            continue
        mark = ":rotating_light: " if card.due < overdue_before else ":alarm_clock: "
        line = f"{mark}*{name}* — {when}"
        if card.priority:
            line += f" · priority {escape(card.priority)}"
        blocks.append(section(line))
        blocks.append(task_buttons(card, block_id=digest_row_block(card.id)))
    if total > len(cards):
        blocks.append(context(f"…and {total - len(cards)} more due by today."))
    label = (names or {}).get((kind, record_id.lower())) or record_id
    text = f"Today for {kind} {escape(label)}: " + ", ".join(counts)
    return SlackMessage(text=text, blocks=blocks)


def digest_setting_text(at: str, tz: str) -> str:
    """``09:00 (Europe/London)``: how a digest's time (``HH:MM``) is shown."""
    return f"{at} ({tz})"


__all__ = ["DIGEST_TASKS_MAX", "digest_message", "digest_setting_text"]
