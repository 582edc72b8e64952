"""Slash commands."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.commands.rally import handle_rally_command
from bot.listeners.guard import guarded
from slack_ui import ids


def register(app: App) -> None:
    app.command(ids.RALLY_COMMAND)(guarded(handle_rally_command))
