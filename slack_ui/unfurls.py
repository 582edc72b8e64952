"""Block Kit for link unfurls (SPEC §7): a Rally link pasted in Slack, shown in place.

A link to an activity shows its type, subject, status, due date (a ``<!date>`` token, so
in each reader's zone), owner and record, with the reminder's Complete/Snooze buttons on
a pending task; once someone acts, the buttons give way to who did what. A link to a
deal, company or contact shows its open tasks, soonest first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal

from slack_sdk.models.blocks import Block

from slack_ui.kit import context, section
from slack_ui.messages import activity_details, escape, slack_date
from slack_ui.tasks import (
    Names,
    TaskCard,
    outcome_line,
    record_link,
    task_buttons,
    task_rows,
)

TYPE_ICONS: Final = {
    "note": ":memo:",
    "task": ":ballot_box_with_check:",
    "call": ":telephone_receiver:",
    "meeting": ":calendar:",
}
UNFURL_TASKS_MAX: Final = 5
_GUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PATH: Final = re.compile(rf"/(activities|deals|companies|contacts)/({_GUID})/?\Z")
Kind = Literal["activity", "deal", "company", "contact"]
_KINDS: Final[dict[str, Kind]] = {
    "activities": "activity",
    "deals": "deal",
    "companies": "company",
    "contacts": "contact",
}


def parse_link(url: str, app_url: str | None) -> tuple[Kind, str] | None:
    """(kind, id) of a Rally link under ``RALLY_APP_URL``, or ``None`` for any other URL."""
    if not app_url:
        return None
    base = app_url.rstrip("/")
    if not url.startswith(base + "/"):
        return None
    path = url[len(base) :].split("?", 1)[0].split("#", 1)[0]
    match = _PATH.match(path)
    if match is None:
        return None
    return _KINDS[match.group(1)], match.group(2).lower()


def activity_unfurl(
    activity: Mapping[str, Any],
    *,
    app_url: str | None,
    owner_user: str | None,
    acted: Mapping[str, Any] | None = None,
    names: Names | None = None,
) -> dict[str, Any]:
    """The unfurl of one activity (``{"blocks": [...]}`` for ``chat.unfurl``)."""
    kind = str(activity.get("activityType") or "activity")
    subject = escape(str(activity.get("subject") or "(no subject)"))
    status = str(activity.get("status") or "")
    head = f"{TYPE_ICONS.get(kind, ':memo:')} *{subject}* · {kind}"
    head += " · completed" if status == "completed" else (" · open" if kind == "task" else "")
    facts = activity_details(dict(activity))
    if kind == "task" and activity.get("dueDate"):
        facts = [f for f in facts if not f.startswith("due ")] + [
            "due " + slack_date(str(activity["dueDate"]))
        ]
    for record_kind in ("deal", "company", "contact"):
        if activity.get(f"{record_kind}Id"):
            facts.append(
                record_link(record_kind, str(activity[f"{record_kind}Id"]), app_url, names)
            )
    if owner_user:
        facts.append(f"Owner <@{owner_user}>")
    elif activity.get("ownerId"):
        facts.append(f"Owner `{escape(str(activity['ownerId']))}`")
    blocks: list[Block] = [section(head)]
    if facts:
        blocks.append(context(" · ".join(facts)))
    if acted is not None:
        blocks.append(section(outcome_line(acted)))
    elif kind == "task" and status == "pending" and activity.get("dueDate"):
        blocks.append(task_buttons(TaskCard.from_fields(activity)))
    return {"blocks": [block.to_dict() for block in blocks]}


def record_unfurl(
    kind: str,
    record_id: str,
    tasks: Sequence[TaskCard],
    *,
    total: int,
    now: datetime,
    app_url: str | None,
    notice: str | None = None,
    names: Names | None = None,
) -> dict[str, Any]:
    """The unfurl of a deal, company or contact: its open tasks, soonest first
    (``notice``: what someone just did to one of them, on top)."""
    blocks: list[Block] = [section(f":briefcase: {record_link(kind, record_id, app_url, names)}")]
    if notice:
        blocks.append(context(notice))
    if not tasks:
        blocks.append(context("No open tasks with a due date."))
    else:
        shown = f"{len(tasks)} of {total}" if total > len(tasks) else str(total)
        blocks.append(context(f"Open tasks, soonest first ({shown})"))
        blocks += task_rows(list(tasks), now=now, app_url=app_url, names=names)
    return {"blocks": [block.to_dict() for block in blocks]}
