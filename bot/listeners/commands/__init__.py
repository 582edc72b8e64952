"""Slash commands."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.commands.rally import handle_rally_command
from slack_ui import ids

LISTENERS: list[Listener] = [Listener("command", ids.RALLY_COMMAND, handle_rally_command)]
