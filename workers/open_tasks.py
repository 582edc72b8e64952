"""A user's open tasks, read from the reminder index (Redis only, no API call), and the
App Home that shows them.

"Theirs" means owned by the Rally owner they mapped with ``/rally me`` or logged by them
from Slack. Only tasks with a due date are in the index, so only those are listed (the
messages say so).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import redis
from slack_sdk import WebClient
from slack_sdk.models.views import View

from core.settings import Settings
from core.store import Store
from slack_ui.tasks import PAGE_SIZE, Setup, TaskCard, home_view
from workers import workspace
from workers.records import names_for, record_pairs
from workers.reminders.index import TaskIndex
from workers.slack import is_admin
from workers.state import State

log = logging.getLogger(__name__)


def namespace_of(settings: Settings, team: str | None) -> str | None:
    """The index namespace of ``team``'s tenant, or ``None`` when it isn't connected."""
    credential = workspace.workspace_credential(settings, team)
    return credential.namespace if credential else None


def open_task_ids(
    conn: redis.Redis, store: Store, namespace: str, *, team: str, user: str
) -> list[str]:
    """Ids of the user's open tasks with a due date, soonest due first: owned by their
    Rally owner (``/rally me``, or learned from their own key) or logged by them."""
    state = State(conn)
    index = TaskIndex(conn, namespace)
    due: dict[str, int] = {}
    owner = store.owner(team, user)
    if owner:
        due.update(index.owner_tasks(owner))
    due.update(index.due_epochs(state.logged_task_ids(team, user)))
    return sorted(due, key=lambda task_id: (due[task_id], task_id))


def open_tasks_page(
    conn: redis.Redis,
    store: Store,
    namespace: str,
    *,
    team: str,
    user: str,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[TaskCard], int]:
    """One page of the user's open tasks and how many there are in all."""
    ids = open_task_ids(conn, store, namespace, team=team, user=user)
    page = TaskIndex(conn, namespace).tasks(ids[offset : offset + limit])
    return [TaskCard.from_fields(fields) for fields in page], len(ids)


def setup_for(
    client: WebClient, conn: redis.Redis, settings: Settings, *, team: str, user: str
) -> Setup:
    """What App Home says about the connection, for this viewer (admins see more)."""
    store = workspace.store_of(settings)
    connection = workspace.connection_state(settings, team)
    detail = None
    if connection.status == "failed" and settings.encryption_keys():
        stored = store.connection(team)
        detail = stored.status_detail if stored else None
    key = store.personal_key(team, user) if settings.encryption_keys() else None
    return Setup(
        status=connection.status,
        host=connection.host,
        key_hint=connection.key_hint,
        detail=detail,
        from_environment=connection.from_environment,
        admin=is_admin(client, State(conn), team, user),
        self_service=store.owner_self_service(team),
        personal_hint=key.key_hint if key else None,
        personal_status=key.status if key else None,
    )


def build_home_for(
    client: WebClient,
    conn: redis.Redis,
    settings: Settings,
    *,
    team: str,
    user: str,
    now: datetime | None = None,
) -> View:
    """The user's App Home view: the Rally connection, open tasks (first page), recent
    activity, log buttons."""
    state = State(conn)
    store = workspace.store_of(settings)
    namespace = namespace_of(settings, team)
    tasks: list[TaskCard] | None = None
    total = 0
    if namespace is not None:
        tasks, total = open_tasks_page(conn, store, namespace, team=team, user=user)
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
        setup=setup_for(client, conn, settings, team=team, user=user),
        names=names_for(store, team, record_pairs(*(tasks or []))),
    )


def publish_home(
    client: WebClient, conn: redis.Redis, settings: Settings, *, team: str, user: str
) -> bool:
    """Publish (refresh) the user's App Home; returns whether Slack took it."""
    try:
        view = build_home_for(client, conn, settings, team=team, user=user)
        client.views_publish(user_id=user, view=view.to_dict())
    except Exception as exc:  # a stale Home must never fail the job that refreshes it
        log.warning(
            "event=home_publish_failed team=%s user=%s error=%s", team, user, type(exc).__name__
        )
        return False
    return True
