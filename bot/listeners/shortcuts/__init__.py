"""Global and message shortcuts."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.guard import guarded
from bot.listeners.shortcuts.log import handle_log_activity, handle_log_as_note
from slack_ui import ids


def register(app: App) -> None:
    app.shortcut(ids.LOG_ACTIVITY_SHORTCUT)(guarded(handle_log_activity))
    app.shortcut(ids.LOG_AS_NOTE_SHORTCUT)(guarded(handle_log_as_note))
