"""Events API subscriptions."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.events.app_home import handle_app_home_opened
from bot.listeners.events.files import handle_message
from bot.listeners.events.lifecycle import handle_app_uninstalled, handle_tokens_revoked
from bot.listeners.events.links import handle_link_shared
from slack_ui import ids

LISTENERS: list[Listener] = [
    Listener("event", ids.APP_HOME_OPENED, handle_app_home_opened),
    Listener("event", ids.APP_UNINSTALLED, handle_app_uninstalled),
    Listener("event", ids.TOKENS_REVOKED, handle_tokens_revoked),
    Listener("event", ids.LINK_SHARED, handle_link_shared),
    Listener("event", ids.MESSAGE, handle_message),
]
