"""The App Home tab: buttons to log each type and the user's recent activity.

Issue 4 adds the open tasks with Complete / Snooze; this is the part logging owns.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.help import log_buttons
from workers.messages import activity_url, escape
from workers.state import Origin


def build_home(recent: list[tuple[str, Origin]], *, app_url: str | None) -> dict[str, Any]:
    """The home view from the user's recent (activity id, origin) pairs, newest first."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Rally"}},
        log_buttons("home_log_buttons"),
        {"type": "header", "text": {"type": "plain_text", "text": "Recently logged"}},
    ]
    if not recent:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Nothing logged from Slack yet."}],
            }
        )
    for activity_id, origin in recent[:20]:
        url = activity_url(app_url, activity_id)
        subject = escape(origin.subject)
        name = f"<{url}|{subject}>" if url else subject
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{origin.activity_type} · {name}"},
            }
        )
    return {"type": "home", "blocks": blocks}
