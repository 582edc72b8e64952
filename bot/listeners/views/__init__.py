"""View submissions."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.guard import guarded
from bot.listeners.views.log_activity import handle_log_submission
from slack_ui import ids


def register(app: App) -> None:
    for callback_id in ids.LOG_VIEWS.values():
        app.view(callback_id)(guarded(handle_log_submission))
