"""A user's open tasks, read from the reminder index (Redis only, no API call), and the
App Home that shows them.

"Theirs" means owned by the Rally owner they mapped with ``/rally me`` or logged by them
from Slack. Only tasks with a due date are in the index, so only those are listed (the
messages say so).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis
from slack_sdk import WebClient

from core.settings import Settings
from slack_ui.tasks import PAGE_SIZE, TaskCard, home_view
from workers.reminders.index import TaskIndex
from workers.state import State

log = logging.getLogger(__name__)


def namespace_of(settings: Settings) -> str | None:
    """The configured tenant's index namespace, or ``None`` when Rally isn't configured."""
    from workers.reminders.jobs import settings_namespace

    if not settings.rally_base_url or not settings.rally_api_key:
        return None
    return settings_namespace(settings)


def open_task_ids(conn: redis.Redis, namespace: str, *, team: str, user: str) -> list[str]:
    """Ids of the user's open tasks with a due date, soonest due first."""
    state = State(conn)
    index = TaskIndex(conn, namespace)
    due: dict[str, int] = {}
    owner = state.get_owner(team, user)
    if owner:
        due.update(index.owner_tasks(owner))
    due.update(index.due_epochs(state.logged_task_ids(team, user)))
    return sorted(due, key=lambda task_id: (due[task_id], task_id))


def open_tasks_page(
    conn: redis.Redis,
    namespace: str,
    *,
    team: str,
    user: str,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[TaskCard], int]:
    """One page of the user's open tasks and how many there are in all."""
    ids = open_task_ids(conn, namespace, team=team, user=user)
    page = TaskIndex(conn, namespace).tasks(ids[offset : offset + limit])
    return [TaskCard.from_fields(fields) for fields in page], len(ids)


def build_home_for(
    conn: redis.Redis, settings: Settings, *, team: str, user: str, now: datetime | None = None
) -> dict[str, Any]:
    """The user's App Home view: open tasks (first page), recent activity, log buttons."""
    state = State(conn)
    namespace = namespace_of(settings)
    tasks: list[TaskCard] | None = None
    total = 0
    if namespace is not None:
        tasks, total = open_tasks_page(conn, namespace, team=team, user=user)
    recent: list[tuple[str, str, str]] = []
    for activity_id in state.recent_activity_ids(team, user, limit=20):
        origin = state.get_origin(activity_id)
        if origin is not None:
            recent.append((activity_id, origin.activity_type, origin.subject))
    return home_view(
        tasks=tasks,
        total_tasks=total,
        recent=recent,
        now=now or datetime.now(UTC),
        app_url=settings.rally_app_url,
        undelivered=state.undelivered(team, user),
    )


def publish_home(
    client: WebClient, conn: redis.Redis, settings: Settings, *, team: str, user: str
) -> bool:
    """Publish (refresh) the user's App Home; returns whether Slack took it."""
    try:
        view = build_home_for(conn, settings, team=team, user=user)
        client.views_publish(user_id=user, view=view)
    except Exception as exc:  # a stale Home must never fail the job that refreshes it
        log.warning(
            "event=home_publish_failed team=%s user=%s error=%s", team, user, type(exc).__name__
        )
        return False
    return True
