"""Events API subscriptions."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.events.app_home import handle_app_home_opened
from bot.listeners.guard import guarded
from slack_ui import ids


def register(app: App) -> None:
    app.event(ids.APP_HOME_OPENED)(guarded(handle_app_home_opened))
