"""The one place that names the queues, enqueues jobs and sets the retry policy.

One queue per kind of work, each served by its own worker process (see
``workers.runner``): a worker listening to exactly one queue moves each job into that
queue's intermediate list atomically (LMOVE, Redis ≥ 6.2), so a crash between dequeue
and start cannot lose it. Every job uses RQ's JSON serializer (no pickle) and takes
plain JSON arguments with no secrets.

Queues (issue 4 adds its work to ``REMINDERS``):

    rally-activities   create an activity in Rally (``workers.jobs.create_activity``)
    rally-notify       tell a user the outcome (``workers.jobs.notify_outcome``)
    rally-reminders    reserved for reminder sync/tick and task actions
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.serializers import JSONSerializer

from workers.settings import Settings

log = logging.getLogger(__name__)

ACTIVITIES = "rally-activities"
NOTIFY = "rally-notify"
REMINDERS = "rally-reminders"
ALL_QUEUES: tuple[str, ...] = (ACTIVITIES, NOTIFY, REMINDERS)

# A create's outcome must be findable for as long as the API honours its Idempotency-Key,
# so a duplicate delivery within that window finds the job and enqueues nothing.
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600
JOB_TIMEOUT = 120
NOTIFY_RETRY = Retry(max=3, interval=[5, 30, 120])


def queue(name: str, conn: redis.Redis) -> Queue:
    """The named queue on ``conn`` with the JSON serializer."""
    return Queue(name, connection=conn, serializer=JSONSerializer)


def create_job_id(submission_id: str) -> str:
    return f"create-{submission_id}"


def create_retry(settings: Settings) -> Retry:
    """Retry policy of a create whose API call failed transiently (``JOB_RETRY_INTERVALS``)."""
    intervals = settings.retry_intervals()
    return Retry(max=len(intervals), interval=intervals)


def enqueue_create_activity(
    conn: redis.Redis,
    settings: Settings,
    *,
    submission_id: str,
    request: dict[str, Any],
    origin: dict[str, Any],
) -> bool:
    """Queue the creation of one activity, once per Slack submission.

    Args:
        conn: Redis (the bot passes its fail-fast client).
        settings: For the retry policy.
        submission_id: Deterministic id of the Slack submission; it names the job and
            the Idempotency-Key, so a duplicate delivery or double click is a no-op.
        request: ``CreateActivityRequest`` in wire (camelCase) JSON.
        origin: ``{"team", "channel", "user"}`` of the submission.

    Returns:
        True if queued now, False if this submission was already queued (or done).

    Raises:
        redis.RedisError: Redis is unreachable; nothing was queued.
    """
    try:
        queue(ACTIVITIES, conn).enqueue_call(
            "workers.jobs.create_activity",
            kwargs={"submission_id": submission_id, "request": request, "origin": origin},
            job_id=create_job_id(submission_id),
            unique=True,
            retry=create_retry(settings),
            on_failure=Callback("workers.jobs.on_create_failed"),
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            timeout=JOB_TIMEOUT,
            description=f"create {request.get('activityType')} for {origin.get('user')}",
        )
    except DuplicateJobError:
        log.info("event=duplicate_submission submission=%s", submission_id)
        return False
    log.info(
        "event=enqueued job=create-%s team=%s user=%s type=%s",
        submission_id,
        origin.get("team"),
        origin.get("user"),
        request.get("activityType"),
    )
    return True


def enqueue_notify(conn: redis.Redis, *, submission_id: str, outcome: dict[str, Any]) -> None:
    """Queue telling the submitter the outcome (``workers.jobs.notify_outcome``).

    One notification per submission and outcome kind: the job id is derived from both, so
    a create job that runs twice (a retry after the API call succeeded) tells once.
    """
    kind = "ok" if outcome.get("ok") else "failed"
    try:
        queue(NOTIFY, conn).enqueue_call(
            "workers.jobs.notify_outcome",
            kwargs={"submission_id": submission_id, "outcome": outcome},
            job_id=f"notify-{kind}-{submission_id}",
            unique=True,
            retry=NOTIFY_RETRY,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            timeout=60,
        )
    except DuplicateJobError:
        log.info("event=duplicate_notify submission=%s kind=%s", submission_id, kind)
