"""Global and message shortcuts."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.shortcuts.log import (
    handle_log_activity,
    handle_log_as_note,
    handle_log_thread,
)
from slack_ui import ids

LISTENERS: list[Listener] = [
    Listener("shortcut", ids.LOG_ACTIVITY_SHORTCUT, handle_log_activity),
    Listener("shortcut", ids.LOG_AS_NOTE_SHORTCUT, handle_log_as_note),
    Listener("shortcut", ids.LOG_THREAD_SHORTCUT, handle_log_thread),
]
