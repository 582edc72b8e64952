"""Every Slack identifier the app declares or listens for, in one place.

``callback_id`` of views and shortcuts, ``action_id`` of interactive elements,
``block_id`` of modal inputs. ``manifest.yml`` must declare exactly ``COMMANDS``,
``GLOBAL_SHORTCUTS``, ``MESSAGE_SHORTCUTS`` and ``BOT_EVENTS``; a test checks both ways.
"""

from __future__ import annotations

import re
from typing import Final

from slack_ui.messages import EDIT_AND_RETRY_ACTION as _EDIT_AND_RETRY
from slack_ui.tasks import ACTIVITY_TYPES as ACTIVITY_TYPES
from slack_ui.tasks import (
    OPEN_MODAL_ACTION_PREFIX,
    TASK_ACTIONS,
    TASKS_MORE_ACTION,
)

# -- declared in the manifest ---------------------------------------------------------

RALLY_COMMAND: Final = "/rally"
LOG_ACTIVITY_SHORTCUT: Final = "log_activity"
LOG_AS_NOTE_SHORTCUT: Final = "log_as_note"
APP_HOME_OPENED: Final = "app_home_opened"

COMMANDS: Final = (RALLY_COMMAND,)
GLOBAL_SHORTCUTS: Final = (LOG_ACTIVITY_SHORTCUT,)
MESSAGE_SHORTCUTS: Final = (LOG_AS_NOTE_SHORTCUT,)
BOT_EVENTS: Final = (APP_HOME_OPENED,)

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
CHOOSE_TYPE_VIEW: Final = "log_choose_type"

# -- actions --------------------------------------------------------------------------

# OPEN_MODAL_ACTION_PREFIX (imported above; the Home tab is built in workers): buttons
# opening a type's modal, ``open_modal_call`` etc.; the value is the type.
_TYPES_RE = "|".join(ACTIVITY_TYPES)
OPEN_MODAL_ACTION_RE: Final = re.compile(rf"^{OPEN_MODAL_ACTION_PREFIX}({_TYPES_RE})$")
CHOOSE_TYPE_ACTION_PREFIX: Final = "choose_type_"
CHOOSE_TYPE_ACTION_RE: Final = re.compile(rf"^{CHOOSE_TYPE_ACTION_PREFIX}({_TYPES_RE})$")
EDIT_AND_RETRY_ACTION: Final = _EDIT_AND_RETRY
TASK_ACTION_IDS: Final = TASK_ACTIONS
"""Complete / Snooze buttons on reminders, ``/rally tasks`` and App Home (``value``: "task:due")."""
TASKS_MORE: Final = TASKS_MORE_ACTION
"""The next page of ``/rally tasks``; ``value`` is the offset."""


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
