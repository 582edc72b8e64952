"""Workflow Builder custom steps (``function_executed``)."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.functions.steps import handle_step
from slack_ui import ids

LISTENERS: list[Listener] = [Listener("function", step, handle_step) for step in ids.FUNCTIONS]
