"""``rally-slack cron`` and ``rally-slack remind --once``: the reminder schedules.

- ``cron``: RQ's cron scheduler (``rq.cron``), enqueueing :func:`sync_job` then
  :func:`tick_job` on ``rally-reminders`` at the top of every minute; ``rally-slack
  worker`` runs them (the tick posts from the worker). Two schedulers running at once
  enqueue twice, which is safe: one sync per tenant runs at a time (the others return
  ``locked``), and a reminder is posted only by the holder of its claim.
- ``remind --once``: one sync and one tick in this process, posting itself, then exit 0.
  Prints ``synced N, reminded M``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

import redis
from rq.cron import CronJob, CronScheduler
from rq.job import Job

from workers import queues
from workers.settings import Settings, load_settings
from workers.state import worker_redis

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
        report = run_tick(settings, SlackPoster.from_settings(settings, conn))
    finally:
        conn.close()
    return {"posted": report.posted, "failed": report.failed, "reminded": report.reminded_ids}


SCHEDULE_JOB_IDS = {
    f"{__name__}.sync_job": queues.SYNC_JOB_ID,
    f"{__name__}.tick_job": queues.TICK_JOB_ID,
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
    """The scheduler with sync then tick registered (sync first, so the tick sees it)."""
    scheduler = ReminderCron(connection=conn, name="")
    for func in (sync_job, tick_job):
        scheduler.register(
            func,
            queues.REMINDERS,
            cron=cron,
            job_timeout=queues.REMINDER_JOB_TIMEOUT,
            result_ttl=3600,
        )
    return scheduler


def cron_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rally-slack cron``."""
    parser = argparse.ArgumentParser(prog="rally-slack cron", description=__doc__.split("\n")[0])
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    settings = load_settings()
    settings.require("rally_base_url", "rally_api_key")
    build_cron(worker_redis(settings.redis_url)).start()  # type: ignore[no-untyped-call]
    return 0


def remind_main(argv: list[str] | None = None) -> int:
    """Entry point of ``rally-slack remind --once``."""
    parser = argparse.ArgumentParser(
        prog="rally-slack remind", description="one reminder sync + tick, posting to Slack"
    )
    parser.add_argument("--once", action="store_true", required=True, help="run once and exit")
    parser.add_argument(
        "--enqueue",
        action="store_true",
        help="leave the sync and tick as jobs on rally-reminders for the workers instead",
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    settings = load_settings()
    settings.require("rally_base_url", "rally_api_key")
    conn = worker_redis(settings.redis_url)
    if args.enqueue:
        queues.enqueue_reminder_tick(conn)
        print("queued a sync and a tick on rally-reminders")
        return 0
    from workers.reminder_poster import SlackPoster
    from workers.reminders.jobs import run_once

    poster = SlackPoster.from_settings(settings, conn)
    synced, ticked = run_once(settings, poster)
    locked = " (another sync was running)" if synced.locked else ""
    print(
        f"synced {synced.seen}{locked}, reminded {ticked.posted}"
        + (f", failed {ticked.failed}" if ticked.failed else "")
    )
    conn.close()
    return 0


__all__ = ["build_cron", "cron_main", "remind_main", "sync_job", "tick_job"]
