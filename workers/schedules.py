"""``rally-slack cron`` and ``rally-slack remind --once``: the reminder schedules.

- ``cron``: RQ's cron scheduler (``rq.cron``), enqueueing :func:`sync_job`, then
  :func:`tick_job`, then :func:`digest_job`, then :func:`sweep_job` (lanes whose drainer
  was lost) on ``rally-reminders`` at the top of every minute; ``rally-slack worker`` runs them (the tick and the digests post from the
  worker). Two schedulers running at once enqueue twice, which is safe: one sync per
  tenant runs at a time (the others return ``locked``), a reminder is posted only by the
  holder of its claim, and a channel's digest only by whoever took its day.

``rally-slack remind --once`` (:mod:`workers.remind`) runs the same two steps once.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import redis
from rq.cron import CronJob, CronScheduler
from rq.job import Job

from core.redis import worker_redis
from core.settings import Settings, load_settings
from workers import queues

log = logging.getLogger(__name__)

EVERY_MINUTE = "* * * * *"


def sync_job() -> dict[str, Any]:
    """RQ job: one incremental sync of the configured tenant."""
    from workers.reminders.jobs import sync_job as run

    return run()


def tick_job() -> dict[str, Any]:
    """RQ job: one reminder tick of the configured tenant, posting to Slack."""
    from workers.reminder_poster import SlackPoster
    from workers.reminders.jobs import run_tick

    settings = Settings()
    conn = worker_redis(settings.redis_url)
    try:
        report = run_tick(
            settings, lambda team: SlackPoster.from_settings(settings, conn, team=team)
        )
    finally:
        conn.close()
    return {"posted": report.posted, "failed": report.failed, "reminded": report.reminded_ids}


def digest_job() -> dict[str, Any]:
    """RQ job: post the channel digests that are due (SPEC §7)."""
    from workers.digests import digest_job as run

    return run()


def sweep_job() -> dict[str, Any]:
    """RQ job: restart the drainer of any lane whose chain was lost (``workers.lanes``)."""
    from workers.coalesce import sweep

    settings = Settings()
    conn = worker_redis(settings.redis_url)
    try:
        return {"restarted": sweep(conn)}
    finally:
        conn.close()


SCHEDULE_JOB_IDS = {
    f"{__name__}.sync_job": queues.SYNC_JOB_ID,
    f"{__name__}.tick_job": queues.TICK_JOB_ID,
    f"{__name__}.digest_job": queues.DIGEST_JOB_ID,
    f"{__name__}.sweep_job": queues.SWEEP_JOB_ID,
}


class _JsonCronJob(CronJob):
    """A CronJob that enqueues with the JSON serializer our workers read (RQ's uses pickle),
    under a fixed job id, so a sync or tick still pending is not enqueued again."""

    def enqueue(self, connection: redis.Redis) -> Job | None:  # type: ignore[override]
        job = queues.enqueue_schedule(connection, self.func_name, SCHEDULE_JOB_IDS[self.func_name])
        if job is not None:
            log.info("event=cron_enqueued job=%s func=%s", job.id, self.func_name)
        return job


class ReminderCron(CronScheduler):
    """RQ's cron scheduler, with our JSON-serialized jobs."""

    def register(  # type: ignore[override]
        self, func: Any, queue_name: str, *, cron: str, job_timeout: int, result_ttl: int
    ) -> CronJob:
        job = _JsonCronJob(
            queue_name, func=func, cron=cron, job_timeout=job_timeout, result_ttl=result_ttl
        )
        self._cron_jobs.append(job)
        self.log.info("registered %s on %s (%s)", job.func_name, queue_name, cron)
        return job


def build_cron(conn: redis.Redis, *, cron: str = EVERY_MINUTE) -> ReminderCron:
    """The scheduler with sync, tick and digests registered (sync first, so the others
    see what it found)."""
    scheduler = ReminderCron(connection=conn, name="")
    for func in (sync_job, tick_job, digest_job, sweep_job):
        scheduler.register(
            func,
            queues.REMINDERS,
            cron=cron,
            job_timeout=queues.REMINDER_JOB_TIMEOUT,
            result_ttl=3600,
        )
    return scheduler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``rally-slack cron`` takes no options of its own."""


def run(args: argparse.Namespace) -> int:
    """``rally-slack cron``: RQ's cron scheduler, enqueueing the sync and tick each minute."""
    settings = load_settings()
    build_cron(worker_redis(settings.redis_url)).start()  # type: ignore[no-untyped-call]
    return 0


__all__ = ["add_arguments", "build_cron", "digest_job", "run", "sweep_job", "sync_job", "tick_job"]
