"""View submissions."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.views.connect import (
    handle_connect_personal_submission,
    handle_connect_rally_submission,
)
from bot.listeners.views.edit import handle_edit_submission
from bot.listeners.views.log_activity import handle_log_submission
from bot.listeners.views.log_thread import handle_thread_submission
from slack_ui import ids

LISTENERS: list[Listener] = [
    *(
        Listener("view", callback_id, handle_log_submission)
        for callback_id in ids.LOG_VIEWS.values()
    ),
    Listener("view", ids.LOG_THREAD_VIEW, handle_thread_submission),
    Listener("view", ids.EDIT_VIEW, handle_edit_submission),
    Listener("view", ids.CONNECT_RALLY_VIEW, handle_connect_rally_submission),
    Listener("view", ids.CONNECT_PERSONAL_VIEW, handle_connect_personal_submission),
]
