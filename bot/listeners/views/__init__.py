"""View submissions."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.views.log_activity import handle_log_submission
from slack_ui import ids

LISTENERS: list[Listener] = [
    Listener("view", callback_id, handle_log_submission) for callback_id in ids.LOG_VIEWS.values()
]
