"""Events API subscriptions."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.events.app_home import handle_app_home_opened
from slack_ui import ids

LISTENERS: list[Listener] = [Listener("event", ids.APP_HOME_OPENED, handle_app_home_opened)]
