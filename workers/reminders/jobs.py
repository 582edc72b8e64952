"""Entry points for schedules: for every connected tenant, sync its index, then tick.

RQ jobs take plain values and build their own clients (STYLE: Jobs), so the cron
schedule can enqueue :func:`sync_job` with no arguments. Each workspace's tenant has an
index of its own (:func:`workers.workspace.reminder_credentials`); its reminders are
posted with that workspace's bot token, to that workspace's channels only. The tick needs
a poster per workspace, which is the Slack side's: :func:`run_tick` takes a factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, TypeVar

from api_client import RallyClient
from core.redis import worker_redis
from core.settings import Settings
from workers.rally import rally_client
from workers.reminders.index import NAMESPACES, TaskIndex
from workers.reminders.sync import SyncReport, sync_tasks
from workers.reminders.tick import Poster, TickReport, tick
from workers.workspace import Credential, reminder_credentials

PosterFor = Callable[[str | None], Poster]
"""The poster of one workspace (``None``: the one workspace of ``SLACK_BOT_TOKEN``)."""


@contextmanager
def tenant_clients(
    settings: Settings, credential: Credential
) -> Iterator[tuple[RallyClient, TaskIndex]]:
    """The API client and the task index the sync and tick of one tenant work with."""
    conn = worker_redis(settings.redis_url)
    try:
        conn.sadd(NAMESPACES, credential.namespace)
        with rally_client(credential, use="reminders") as client:
            yield client, TaskIndex(conn, credential.namespace)
    finally:
        conn.close()


def run_sync(settings: Settings, *, now: datetime | None = None) -> SyncReport:
    """One incremental sync of every connected tenant (their counts added up)."""
    reports = []
    for _team, credential in reminder_credentials(settings):
        with tenant_clients(settings, credential) as (client, index):
            reports.append(sync_tasks(client, index, now=now))
    return _sum(SyncReport, reports)


def run_tick(
    settings: Settings, poster_for: PosterFor, *, now: datetime | None = None
) -> TickReport:
    """One tick of every connected tenant, each posting with its workspace's poster."""
    reports = []
    for team, credential in reminder_credentials(settings):
        with tenant_clients(settings, credential) as (client, index):
            reports.append(
                tick(
                    client,
                    index,
                    poster_for(team),
                    now=now,
                    lead_minutes=settings.reminder_lead_minutes,
                )
            )
    return _sum(TickReport, reports)


def run_once(
    settings: Settings, poster_for: PosterFor, *, now: datetime | None = None
) -> tuple[SyncReport, TickReport]:
    """One sync then one tick (``rally-slack remind --once``)."""
    return run_sync(settings, now=now), run_tick(settings, poster_for, now=now)


Report = TypeVar("Report", SyncReport, TickReport)


def _sum(kind: type[Report], reports: list[Report]) -> Report:
    """Reports of several tenants as one: numbers added, flags or'ed, lists joined."""
    total = kind()
    for report in reports:
        for field in fields(total):
            mine, theirs = getattr(total, field.name), getattr(report, field.name)
            if isinstance(mine, bool):
                setattr(total, field.name, mine or theirs)
            elif isinstance(mine, int | float):
                setattr(total, field.name, mine + theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(total, field.name, theirs if theirs is not None else mine)
    return total


def sync_job() -> dict[str, Any]:
    """RQ job: one incremental sync of every connected tenant, configured from the environment.

    Returns:
        The :class:`SyncReport` as a dict (RQ keeps it as the job's result).
    """
    report = asdict(run_sync(Settings()))
    report["cursor"] = str(report["cursor"]) if report["cursor"] else None
    return report
