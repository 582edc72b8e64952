"""Due-task reminders: the incremental sync, the Redis index of pending tasks, the tick.

Public API (the Slack side plugs in a poster)::

    ns = namespace_for(settings.rally_base_url, api_key)
    sync_tasks(client, redis, namespace=ns)                           -> SyncReport
    tick(client, redis, poster, namespace=ns, lead_minutes=15)        -> TickReport

See :mod:`workers.reminders.index` for the Redis layout and the claim protocol.
"""

from workers.reminders.index import (
    REMINDER_FIELDS,
    DueTask,
    Keys,
    apply_activity,
    claim,
    due_epoch,
    due_epochs,
    due_for_reminder,
    indexed_ids,
    indexed_task,
    indexed_tasks,
    mark_sent,
    namespace_for,
    owner_task_ids,
    release,
    remove_task,
    was_sent,
)
from workers.reminders.sync import SyncReport, load_cursor, sync_tasks
from workers.reminders.tick import Poster, TickReport, tick

__all__ = [
    "REMINDER_FIELDS",
    "DueTask",
    "Keys",
    "Poster",
    "SyncReport",
    "TickReport",
    "apply_activity",
    "claim",
    "due_epoch",
    "due_epochs",
    "due_for_reminder",
    "indexed_ids",
    "indexed_task",
    "indexed_tasks",
    "load_cursor",
    "mark_sent",
    "namespace_for",
    "owner_task_ids",
    "release",
    "remove_task",
    "sync_tasks",
    "tick",
    "was_sent",
]
