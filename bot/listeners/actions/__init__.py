"""Interactive elements (buttons)."""

from __future__ import annotations

from bot.listeners import Listener
from bot.listeners.actions.edit import handle_delete, handle_edit
from bot.listeners.actions.imports import handle_import
from bot.listeners.actions.modals import (
    handle_choose_type,
    handle_edit_and_retry,
    handle_open_modal,
)
from bot.listeners.actions.setup import (
    handle_connect_personal,
    handle_connect_rally,
    handle_owner_self_service,
)
from bot.listeners.actions.tasks import handle_task_action, handle_tasks_more
from slack_ui import ids

LISTENERS: list[Listener] = [
    Listener("action", ids.OPEN_MODAL_ACTION_RE, handle_open_modal),
    Listener("action", ids.CHOOSE_TYPE_ACTION_RE, handle_choose_type),
    Listener("action", ids.EDIT_AND_RETRY_ACTION, handle_edit_and_retry),
    *(Listener("action", action_id, handle_task_action) for action_id in ids.TASK_ACTION_IDS),
    Listener("action", ids.TASKS_MORE, handle_tasks_more),
    Listener("action", ids.ACTIVITY_EDIT_ACTION, handle_edit),
    Listener("action", ids.ACTIVITY_DELETE_ACTION, handle_delete),
    Listener("action", ids.CONNECT_RALLY_ACTION, handle_connect_rally),
    Listener("action", ids.CONNECT_PERSONAL_ACTION, handle_connect_personal),
    Listener("action", ids.OWNER_SELF_SERVICE_ACTION, handle_owner_self_service),
    Listener("action", ids.IMPORT_CSV_ACTION, handle_import),
]
