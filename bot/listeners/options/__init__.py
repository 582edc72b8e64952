"""Menus whose options the bot supplies (``block_suggestion``)."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.options.records import handle_record_suggestion
from slack_ui import ids
from slack_ui.modals import RECORDS

LISTENERS: list[Listener] = [
    Listener("options", ids.input_action(block), handle_record_suggestion) for block in RECORDS
]
