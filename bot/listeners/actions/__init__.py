"""Interactive elements (buttons)."""

from __future__ import annotations

from slack_bolt import App

from bot.listeners.actions.modals import (
    handle_choose_type,
    handle_edit_and_retry,
    handle_open_modal,
)
from bot.listeners.actions.tasks import handle_task_action, handle_tasks_more
from bot.listeners.guard import guarded
from slack_ui import ids


def register(app: App) -> None:
    app.action(ids.OPEN_MODAL_ACTION_RE)(guarded(handle_open_modal))
    app.action(ids.CHOOSE_TYPE_ACTION_RE)(guarded(handle_choose_type))
    app.action(ids.EDIT_AND_RETRY_ACTION)(guarded(handle_edit_and_retry))
    for action_id in ids.TASK_ACTION_IDS:
        app.action(action_id)(guarded(handle_task_action))
    app.action(ids.TASKS_MORE)(guarded(handle_tasks_more))
