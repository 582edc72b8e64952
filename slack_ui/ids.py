"""Every Slack identifier the app declares or listens for, in one place.

``callback_id`` of views and shortcuts, ``action_id`` of interactive elements,
``block_id`` of modal inputs. ``manifest.yml`` must declare exactly ``COMMANDS``,
``GLOBAL_SHORTCUTS``, ``MESSAGE_SHORTCUTS`` and ``BOT_EVENTS``; a test checks both ways.
"""

from __future__ import annotations

import re
from typing import Final

# -- declared in the manifest ---------------------------------------------------------

RALLY_COMMAND: Final = "/rally"
LOG_ACTIVITY_SHORTCUT: Final = "log_activity"
LOG_AS_NOTE_SHORTCUT: Final = "log_as_note"
LOG_THREAD_SHORTCUT: Final = "log_thread_as_note"
"""Message shortcut: the whole thread the message is in, as one note."""
APP_HOME_OPENED: Final = "app_home_opened"
APP_UNINSTALLED: Final = "app_uninstalled"
TOKENS_REVOKED: Final = "tokens_revoked"

LINK_SHARED: Final = "link_shared"
MESSAGE: Final = "message"
"""Message events; the manifest subscribes to ``message.im`` only (a file shared in a DM
with the app is a CSV to import)."""
MESSAGE_IM_EVENT: Final = "message.im"
FUNCTION_EXECUTED: Final = "function_executed"
LOG_ACTIVITY_STEP: Final = "rally_log_activity"
"""Workflow Builder step: log an activity (inputs and outputs in manifest.yml)."""
COMPLETE_TASK_STEP: Final = "rally_complete_task"
"""Workflow Builder step: complete a task."""
FUNCTIONS: Final = (LOG_ACTIVITY_STEP, COMPLETE_TASK_STEP)

COMMANDS: Final = (RALLY_COMMAND,)
GLOBAL_SHORTCUTS: Final = (LOG_ACTIVITY_SHORTCUT,)
MESSAGE_SHORTCUTS: Final = (LOG_AS_NOTE_SHORTCUT, LOG_THREAD_SHORTCUT)
BOT_EVENTS: Final = (
    APP_HOME_OPENED,
    APP_UNINSTALLED,
    TOKENS_REVOKED,
    FUNCTION_EXECUTED,
    LINK_SHARED,
    MESSAGE_IM_EVENT,
)

BOT_SCOPES: Final = (
    "commands",
    "chat:write",
    "im:write",
    "users:read",
    "links:read",
    "links:write",
    "im:history",
    "files:read",
    "files:write",
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
)
"""The bot scopes the app asks for when installed (OAuth) and declares in the manifest."""

ACTIVITY_TYPES: Final = ("note", "task", "call", "meeting")
"""The types, in the order buttons show them."""

# -- views (modals) -------------------------------------------------------------------

# ACTIVITY_TYPES (imported above): note, task, call, meeting, in the order buttons show them.
LOG_NOTE_VIEW: Final = "log_note"
LOG_TASK_VIEW: Final = "log_task"
LOG_CALL_VIEW: Final = "log_call"
LOG_MEETING_VIEW: Final = "log_meeting"
LOG_VIEWS: Final[dict[str, str]] = {
    "note": LOG_NOTE_VIEW,
    "task": LOG_TASK_VIEW,
    "call": LOG_CALL_VIEW,
    "meeting": LOG_MEETING_VIEW,
}
LOG_THREAD_VIEW: Final = "log_thread_note"
"""A thread as one note: subject and record (the job reads the thread itself)."""
CHOOSE_TYPE_VIEW: Final = "log_choose_type"
EDIT_VIEW: Final = "edit_activity"
"""Editing a logged activity (the type's fields, prefilled from Rally)."""
LOADING_VIEW: Final = "rally_loading"
"""A modal saying it is reading from Rally; a job replaces it (no submit)."""
CONNECT_RALLY_VIEW: Final = "connect_rally"
"""An admin connects the workspace to its Rally tenant (base URL, API key)."""
CONNECT_PERSONAL_VIEW: Final = "connect_personal_key"
"""A person stores their own Rally API key."""

# -- actions --------------------------------------------------------------------------

OPEN_MODAL_ACTION_PREFIX: Final = "open_modal_"
"""Buttons opening a type's modal, ``open_modal_call`` etc.; the type is in the id."""
_TYPES_RE = "|".join(ACTIVITY_TYPES)
OPEN_MODAL_ACTION_RE: Final = re.compile(rf"^{OPEN_MODAL_ACTION_PREFIX}({_TYPES_RE})$")
CHOOSE_TYPE_ACTION_PREFIX: Final = "choose_type_"
CHOOSE_TYPE_ACTION_RE: Final = re.compile(rf"^{CHOOSE_TYPE_ACTION_PREFIX}({_TYPES_RE})$")
EDIT_AND_RETRY_ACTION: Final = "edit_and_retry"
"""The "Edit and retry" button of a failure; ``value`` is the submission id."""
COMPLETE_ACTION: Final = "task_complete"
SNOOZE_HOUR_ACTION: Final = "task_snooze_hour"
SNOOZE_TOMORROW_ACTION: Final = "task_snooze_tomorrow"
TASK_ACTIONS: Final = (COMPLETE_ACTION, SNOOZE_HOUR_ACTION, SNOOZE_TOMORROW_ACTION)
"""Complete / Snooze buttons on reminders, ``/rally tasks`` and App Home (``value``: "task:due")."""
TASK_ACTION_IDS: Final = TASK_ACTIONS
TASK_ACTIONS_BLOCK: Final = "rally_task_actions"
"""The button row of a reminder."""
TASKS_MORE_ACTION: Final = "tasks_more"
"""The next page of ``/rally tasks``; ``value`` is the offset."""
TASKS_MORE: Final = TASKS_MORE_ACTION
ACTIVITY_EDIT_ACTION: Final = "activity_edit"
"""Edit on a confirmation; ``value`` is the activity id."""
ACTIVITY_DELETE_ACTION: Final = "activity_delete"
"""Delete on a confirmation (with Slack's confirm dialog); ``value`` is the activity id."""
CONFIRMATION_ACTIONS_BLOCK: Final = "rally_confirmation_actions"
CONNECT_RALLY_ACTION: Final = "connect_rally_open"
"""App Home, admins: open the Connect Rally modal."""
CONNECT_PERSONAL_ACTION: Final = "connect_personal_open"
"""App Home: open the form for one's own Rally key."""
IMPORT_CSV_ACTION: Final = "csv_import_start"
"""Import on a CSV preview; ``value`` is the stored import's id (never the file)."""
IMPORT_ACTIONS_BLOCK: Final = "csv_import_actions"
OWNER_SELF_SERVICE_ACTION: Final = "owner_self_service"
"""App Home, admins: let people choose their own owner id (``value``: "on" | "off")."""


# -- button rows (block_id) -----------------------------------------------------------

CHOOSE_TYPE_BLOCK: Final = "choose_type"
"""The type buttons of the global shortcut's first step."""
FAILURE_ACTIONS_BLOCK: Final = "rally_failure_actions"
"""The "Edit and retry" row of a failure message."""
LOG_BUTTONS_BLOCK: Final = "rally_log_buttons"
"""One "Log <type>" button per activity type, under ``/rally help``."""
HOME_LOG_BUTTONS_BLOCK: Final = "home_log_buttons"
"""The same buttons in App Home."""
HOME_SETUP_BLOCK: Final = "home_setup"
"""App Home's Connect Rally / own key / owner id buttons."""
TASKS_MORE_BLOCK: Final = "tasks_more"
"""The More button row of ``/rally tasks``."""
TASK_ROW_BLOCK_PREFIX: Final = "task_"
"""A task's button row in a list (``/rally tasks``, App Home): ``task_<task id>``."""


DIGEST_ROW_BLOCK_PREFIX: Final = "digest_task_"
"""A task's button row in a channel's daily digest: ``digest_task_<task id>`` (a click
there updates that digest)."""


def task_row_block(task_id: str) -> str:
    return f"{TASK_ROW_BLOCK_PREFIX}{task_id}"


def digest_row_block(task_id: str) -> str:
    return f"{DIGEST_ROW_BLOCK_PREFIX}{task_id}"


def open_modal_action(activity_type: str) -> str:
    return f"{OPEN_MODAL_ACTION_PREFIX}{activity_type}"


def choose_type_action(activity_type: str) -> str:
    return f"{CHOOSE_TYPE_ACTION_PREFIX}{activity_type}"


# -- modal inputs: block_id is the field name, action_id is "<field>_input" -----------

SUBJECT: Final = "subject"
BODY: Final = "body"
DEAL: Final = "deal"
COMPANY: Final = "company"
CONTACT: Final = "contact"
STATUS: Final = "status"
DUE: Final = "due"
PRIORITY: Final = "priority"
DIRECTION: Final = "direction"
OUTCOME: Final = "outcome"
DURATION: Final = "duration"
START: Final = "start"
LOCATION: Final = "location"
MEETING_URL: Final = "meeting_url"
THREAD_FIELDS: Final = (SUBJECT, DEAL, COMPANY, CONTACT)
"""The thread note's form: the body is the thread, read by the job."""
RALLY_URL: Final = "rally_url"
API_KEY: Final = "api_key"

MODAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "note": (SUBJECT, BODY, DEAL, COMPANY, CONTACT, STATUS),
    "task": (SUBJECT, BODY, DUE, PRIORITY, DEAL, COMPANY, CONTACT, STATUS),
    "call": (SUBJECT, BODY, DIRECTION, OUTCOME, DURATION, DEAL, COMPANY, CONTACT, STATUS),
    "meeting": (
        SUBJECT,
        BODY,
        START,
        DURATION,
        LOCATION,
        MEETING_URL,
        DEAL,
        COMPANY,
        CONTACT,
        STATUS,
    ),
}


def input_action(field: str) -> str:
    """The action_id of a modal field's input element."""
    return f"{field}_input"
