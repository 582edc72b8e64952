"""Entry points for schedules: build the clients from settings, then sync and tick.

RQ jobs take plain values and build their own clients (STYLE: Jobs), so the cron
schedule can enqueue :func:`sync_job` with no arguments. The tick needs a poster, which
is the Slack side's; it calls :func:`run_tick` (or :func:`run_once`) with its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Any

from api_client import RallyClient
from core.redis import worker_redis
from core.settings import Settings
from workers.rally import rally_client
from workers.reminders.index import TaskIndex, namespace_for
from workers.reminders.sync import SyncReport, sync_tasks
from workers.reminders.tick import Poster, TickReport, tick


def settings_namespace(settings: Settings) -> str:
    """The index namespace of the configured tenant (``RALLY_BASE_URL`` + key hash)."""
    settings.require("rally_base_url", "rally_api_key")
    assert settings.rally_base_url and settings.rally_api_key
    return namespace_for(settings.rally_base_url, settings.rally_api_key.get_secret_value())


@contextmanager
def reminder_clients(settings: Settings) -> Iterator[tuple[RallyClient, TaskIndex]]:
    """The API client and the task index the sync and tick work with."""
    namespace = settings_namespace(settings)
    conn = worker_redis(settings.redis_url)
    try:
        with rally_client(settings, use="reminders") as client:
            yield client, TaskIndex(conn, namespace)
    finally:
        conn.close()


def run_sync(settings: Settings, *, now: datetime | None = None) -> SyncReport:
    """One incremental sync of the configured tenant."""
    with reminder_clients(settings) as (client, index):
        return sync_tasks(client, index, now=now)


def run_tick(settings: Settings, poster: Poster, *, now: datetime | None = None) -> TickReport:
    """One tick of the configured tenant, posting with ``poster``."""
    with reminder_clients(settings) as (client, index):
        return tick(client, index, poster, now=now, lead_minutes=settings.reminder_lead_minutes)


def run_once(
    settings: Settings, poster: Poster, *, now: datetime | None = None
) -> tuple[SyncReport, TickReport]:
    """One sync then one tick (``rally-slack remind --once``)."""
    return run_sync(settings, now=now), run_tick(settings, poster, now=now)


def sync_job() -> dict[str, Any]:
    """RQ job: one incremental sync, configured from the environment.

    Returns:
        The :class:`SyncReport` as a dict (RQ keeps it as the job's result).
    """
    report = asdict(run_sync(Settings()))
    report["cursor"] = str(report["cursor"]) if report["cursor"] else None
    return report
