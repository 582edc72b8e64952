"""Due-task reminders: the incremental sync, the Redis index of pending tasks, the tick.

Public API (the Slack side plugs in a poster)::

    index = TaskIndex(redis, namespace_for(settings.rally_base_url, api_key))
    sync_tasks(client, index)                                -> SyncReport
    tick(client, index, poster, lead_minutes=15)             -> TickReport

See :mod:`workers.reminders.index` for the Redis layout and the claim protocol.
"""

from workers.reminders.index import (
    REMINDER_FIELDS,
    DueTask,
    TaskIndex,
    due_epoch,
    namespace_for,
)
from workers.reminders.sync import SyncReport, sync_tasks
from workers.reminders.tick import Poster, TickReport, tick

__all__ = [
    "REMINDER_FIELDS",
    "DueTask",
    "Poster",
    "SyncReport",
    "TaskIndex",
    "TickReport",
    "due_epoch",
    "namespace_for",
    "sync_tasks",
    "tick",
]
