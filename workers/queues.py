"""The one place that names the queues, enqueues jobs and sets the retry policy.

One queue per kind of work, each served by its own worker process (see
``workers.runner``): a worker listening to exactly one queue moves each job into that
queue's intermediate list atomically (LMOVE, Redis ≥ 6.2), so a crash between dequeue
and start cannot lose it. Every job uses RQ's JSON serializer (no pickle) and takes
plain JSON arguments with no secrets.

Queues:

    rally-activities   create an activity in Rally (``workers.jobs.create_activity``)
    rally-notify       tell a user the outcome (``workers.jobs.notify_outcome``)
    rally-actions      Complete/Snooze clicks (``workers.task_actions.act_on_task``),
                       edits, deletes and link unfurls: a queue of their own, so a slow
                       sync can never delay what someone is waiting to see
    rally-reminders    reminder sync and tick (``workers.schedules``), one of each at a
                       time (fixed job ids), so a slow Rally cannot build a backlog
    rally-imports      CSV imports (``workers.imports.slack``): reading a shared file and
                       importing it, long jobs that must not hold up a create or a click
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any, Final

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core.settings import Settings
from workers.lanes import Lane
from workers.state import SUBMISSION_TTL_SECONDS

log = logging.getLogger(__name__)

ACTIVITIES = "rally-activities"
NOTIFY = "rally-notify"
ACTIONS = "rally-actions"
REMINDERS = "rally-reminders"
IMPORTS = "rally-imports"
ALL_QUEUES: tuple[str, ...] = (ACTIVITIES, NOTIFY, ACTIONS, REMINDERS, IMPORTS)
SYNC_JOB_ID = "reminders-sync"
TICK_JOB_ID = "reminders-tick"
DIGEST_JOB_ID = "reminders-digests"
SWEEP_JOB_ID = "lanes-sweep"

# A create's outcome must be findable for as long as the API honours its Idempotency-Key,
# so a duplicate delivery within that window finds the job and enqueues nothing.
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600
JOB_TIMEOUT = 120
THREAD_JOB_TIMEOUT = 600
"""A create that reads a thread first: pages of ``conversations.replies`` may each wait
out a rate limit's ``Retry-After``."""
TASK_ACTION_TIMEOUT = 60
REMINDER_JOB_TIMEOUT = 300
NOTIFY_TIMEOUT = 60
IMPORT_TIMEOUT = 1800
"""10,000 rows are 100 chunks; with a slow Rally and Slack updates, minutes, not hours."""


MAINTENANCE_LOCK_S: Final = 60
"""How long a worker's hold on a queue's maintenance pass lasts if it never lets go."""


class RallyQueue(Queue):
    """RQ's queue, with a maintenance hold that lapses in a minute, not fifteen.

    Each worker recovers jobs whose worker died (its maintenance pass, under a per-queue
    lock RQ sets for 899 s and releases when done). A worker killed in the middle of that
    pass, as one SIGKILLed while starting can be, left the lock for the full 15 minutes,
    and no abandoned job of the queue was recovered meanwhile (found by the chaos soak,
    ``bench/bench_chaos.py``). A pass takes well under a second.
    """

    def acquire_maintenance_lock(self) -> bool:
        return bool(
            self.connection.set(self.registry_cleaning_key, 1, nx=True, ex=MAINTENANCE_LOCK_S)
        )


def queue(name: str, conn: redis.Redis) -> Queue:
    """The named queue on ``conn`` with the JSON serializer."""
    return RallyQueue(name, connection=conn, serializer=JSONSerializer)


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
    thread: dict[str, Any] | None = None,
) -> bool:
    """Queue the creation of one activity, once per Slack submission.

    Args:
        conn: Redis (the bot passes its fail-fast client).
        settings: For the retry policy.
        submission_id: Deterministic id of the Slack submission; it names the job and
            the Idempotency-Key, so a duplicate delivery or double click is a no-op.
        request: ``CreateActivityRequest`` in wire (camelCase) JSON.
        origin: ``{"team", "channel", "user"}`` of the submission.
        thread: ``{"channel", "ts"}``: the job reads this thread into the body (where it
            is, not its text: a thread can be far bigger than a job's arguments should be).

    Returns:
        True if queued now, False if this submission was already queued (or done).

    Raises:
        redis.RedisError: Redis is unreachable; nothing was queued.
    """
    if thread is None:
        return _push_create(conn, submission_id=submission_id, request=request, origin=origin)
    kwargs: dict[str, Any] = {"submission_id": submission_id, "request": request, "origin": origin}
    kwargs["thread"] = thread
    job = _enqueue_once(
        queue(ACTIVITIES, conn),
        create_job_id(submission_id),
        "workers.jobs.create_activity",
        kwargs=kwargs,
        retry=create_retry(settings),
        on_failure=Callback("workers.jobs.on_create_failed"),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        timeout=THREAD_JOB_TIMEOUT,
        description=f"create {request.get('activityType')} for {origin.get('user')}",
    )
    if job is None:
        log.info("event=duplicate_submission submission=%s", submission_id)
        return False
    log.info(
        "event=enqueued job=%s team=%s user=%s type=%s",
        create_job_id(submission_id),
        origin.get("team"),
        origin.get("user"),
        request.get("activityType"),
    )
    return True


LANE_DRAINERS: dict[str, tuple[str, str, str]] = {
    # kind -> (queue, job function, failure callback)
    "create": (ACTIVITIES, "workers.coalesce.drain_creates", "workers.coalesce.on_drain_failed"),
    "tell": (NOTIFY, "workers.outbox.tell", "workers.outbox.on_tell_failed"),
}
DRAIN_CRASH_RETRY = Retry(max=5, interval=[0, 5, 30, 60, 120])
"""Re-runs of a drainer that died or raised unexpectedly (its batch is kept, and the re-run
resumes it); failures the drainer expects (Rally or Slack trouble) re-schedule it instead."""


def enqueue_drainer(
    conn: redis.Redis, kind: str, lane: str, *, delay: float = 0.0, retry: bool = False
) -> None:
    """Queue a drainer of ``lane`` (``workers.lanes``), at once or after ``delay`` seconds.

    Only the push that found the lane idle, or the drainer itself (to come back after a
    failure, or to let other lanes go first), calls this: one chain per lane. ``retry``
    marks a come-back after a failure (job id ``retry-…``), which ``rally-slack worker
    --burst`` leaves for later like any retry; a short wait (``drain-…``: a paced message,
    a paused tenant) it waits for.
    """
    name, func, on_failure = LANE_DRAINERS[kind]
    options: dict[str, Any] = {
        "kwargs": {"lane": lane},
        "job_id": f"{'retry' if retry else 'drain'}-{kind}-{uuid.uuid4().hex}",
        "retry": DRAIN_CRASH_RETRY,
        "on_failure": Callback(on_failure),
        "result_ttl": 0,
        "failure_ttl": FAILURE_TTL,
        "description": f"{kind} lane {lane}",
    }
    q = queue(name, conn)
    if delay > 0:
        q.enqueue_in(timedelta(seconds=delay), func, job_timeout=JOB_TIMEOUT, **options)
    else:
        q.enqueue_call(func, timeout=JOB_TIMEOUT, **options)


def create_lane(origin: dict[str, Any]) -> str:
    """The lane of a person's creates: they all go out with that person's credential."""
    return f"{origin.get('team')}:{origin.get('user')}"


def _push_create(
    conn: redis.Redis, *, submission_id: str, request: dict[str, Any], origin: dict[str, Any]
) -> bool:
    """Add a create to its person's lane (``workers.coalesce``); start the lane's drainer
    when it was idle. Once pushed it is durable: a drainer that could not be queued now
    is started by the minute's sweep (``workers.coalesce.sweep``)."""
    name = create_lane(origin)
    lane = Lane(conn, "create", name)
    pushed = lane.push(submission_id, {"sub": submission_id, "request": request, "origin": origin})
    if pushed < 0:
        log.info("event=duplicate_submission submission=%s", submission_id)
        return False
    if pushed > 0:
        try:
            enqueue_drainer(conn, "create", name)
        except redis.RedisError:
            # The create is kept; let the next push (or the sweep) start the drainer.
            with contextlib.suppress(redis.RedisError):
                conn.delete(lane.active_key)
            log.warning("event=drainer_not_queued lane=%s submission=%s", name, submission_id)
    log.info(
        "event=enqueued lane=%s submission=%s team=%s user=%s type=%s",
        name,
        submission_id,
        origin.get("team"),
        origin.get("user"),
        request.get("activityType"),
    )
    return True


def notify_retry(settings: Settings) -> Retry:
    """Retries of telling a user an outcome: for as long as the submission is kept.

    ``NOTIFY_RETRY_INTERVALS`` gives the backoff (capped: the last interval repeats), and
    as many retries as fit in ``SUBMISSION_TTL_SECONDS``; each attempt's Slack client
    honours ``Retry-After`` itself. When they run out, ``workers.jobs.on_notify_failed``
    keeps the outcome on the user's App Home.
    """
    intervals = settings.notify_intervals()
    if not any(intervals):
        # All zeros (tests, the console): each entry is one retry, at once.
        return Retry(max=len(intervals), interval=intervals)
    count, spent = 0, 0
    while spent <= SUBMISSION_TTL_SECONDS:
        spent += intervals[min(count, len(intervals) - 1)]
        count += 1
    return Retry(max=count, interval=intervals)


def enqueue_notify(
    conn: redis.Redis, *, submission_id: str, outcome: dict[str, Any], settings: Settings
) -> None:
    """Queue telling the submitter the outcome (``workers.jobs.notify_outcome``).

    One notification per submission and outcome kind: the job id is derived from both, so
    a create job that runs twice (a retry after the API call succeeded) tells once.
    """
    kind = "ok" if outcome.get("ok") else "failed"
    job = _enqueue_once(
        queue(NOTIFY, conn),
        f"notify-{kind}-{submission_id}",
        "workers.jobs.notify_outcome",
        kwargs={"submission_id": submission_id, "outcome": outcome},
        retry=notify_retry(settings),
        on_failure=Callback("workers.jobs.on_notify_failed"),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        timeout=NOTIFY_TIMEOUT,
    )
    if job is None:
        log.info("event=duplicate_notify submission=%s kind=%s", submission_id, kind)


def task_action_job_id(action: str, task_id: str, due: int) -> str:
    return f"task-{action}-{task_id}-{due}"


def enqueue_task_action(
    conn: redis.Redis,
    *,
    action: str,
    task_id: str,
    due: int,
    team: str,
    user: str,
    channel: str | None,
    message_ts: str | None,
    response_url: str | None,
    surface: str,
) -> bool:
    """Queue a Complete/Snooze click (``workers.task_actions.act_on_task``).

    One job per task, due date and action while it is queued or running: a double click
    enqueues once. The job is deleted when it finishes (``result_ttl=0``), so a click
    after a failure the user was told about queues a fresh try; one that finished
    successfully is recognised by the job itself and only re-renders. No RQ retries: the
    user is told of a failure and clicks again.

    Returns:
        True if queued now, False if the same click is already queued or running.

    Raises:
        redis.RedisError: Redis is unreachable; nothing was queued.
    """
    job_id = task_action_job_id(action, task_id, due)
    q = queue(ACTIONS, conn)
    kwargs = {
        "action": action,
        "task_id": task_id,
        "due": due,
        "team": team,
        "user": user,
        "channel": channel,
        "message_ts": message_ts,
        "response_url": response_url,
        "surface": surface,
    }
    job = _enqueue_once(
        q,
        job_id,
        "workers.task_actions.act_on_task",
        replace=_CRASHED,  # a crashed attempt must not block the next click
        kwargs=kwargs,
        result_ttl=0,
        failure_ttl=3600,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"{action} {task_id} for {user}",
    )
    if job is None:
        log.info("event=duplicate_task_action job=%s user=%s", job_id, user)
        return False
    log.info(
        "event=enqueued job=%s team=%s user=%s task=%s action=%s",
        job_id,
        team,
        user,
        task_id,
        action,
    )
    return True


def enqueue_schedule(conn: redis.Redis, func_name: str, job_id: str) -> Job | None:
    """Queue one reminder job under its fixed id, unless the last one is still pending.

    The cron calls this every minute; while a sync (or a tick) is queued or running, the
    next is skipped rather than stacked behind it. A finished or failed one is deleted
    (``result_ttl=0``, and a failed one is cleared here), so the next minute runs again.

    Returns:
        The job, or ``None`` when the previous one was still queued or running.
    """
    job = _enqueue_once(
        queue(REMINDERS, conn),
        job_id,
        func_name,
        replace=_ENDED,
        timeout=REMINDER_JOB_TIMEOUT,
        result_ttl=0,
        failure_ttl=REMINDER_JOB_TIMEOUT,
    )
    if job is None:
        log.info("event=schedule_skipped job=%s reason=previous_pending", job_id)
    return job


def enqueue_reminder_tick(conn: redis.Redis) -> None:
    """Queue one reminder sync, one tick and the digests (the cron's work, on demand)."""
    enqueue_schedule(conn, "workers.schedules.sync_job", SYNC_JOB_ID)
    enqueue_schedule(conn, "workers.schedules.tick_job", TICK_JOB_ID)
    enqueue_schedule(conn, "workers.schedules.digest_job", DIGEST_JOB_ID)


def enqueue_connection_check(conn: redis.Redis, *, team: str, user: str | None) -> None:
    """Queue checking the workspace's Rally key (``workers.lifecycle.check_connection``)."""
    queue(ACTIONS, conn).enqueue_call(
        "workers.lifecycle.check_connection",
        kwargs={"team": team, "user": user},
        result_ttl=3600,
        failure_ttl=FAILURE_TTL,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"check Rally connection of {team}",
    )


def enqueue_personal_key_check(conn: redis.Redis, *, team: str, user: str) -> None:
    """Queue checking a person's own Rally key (``workers.lifecycle.check_personal_key``)."""
    queue(ACTIONS, conn).enqueue_call(
        "workers.lifecycle.check_personal_key",
        kwargs={"team": team, "user": user},
        result_ttl=3600,
        failure_ttl=FAILURE_TTL,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"check the Rally key of {user}",
    )


def enqueue_forget_team(conn: redis.Redis, *, team: str, enterprise_id: str | None) -> None:
    """Queue forgetting a workspace that uninstalled the app (``workers.lifecycle``).

    One per team: a second uninstall event while the first is queued is the same work.
    """
    job = _enqueue_once(
        queue(REMINDERS, conn),
        f"forget-{team}",
        "workers.lifecycle.forget_team",
        kwargs={"team": team, "enterprise_id": enterprise_id},
        result_ttl=0,
        failure_ttl=FAILURE_TTL,
        timeout=REMINDER_JOB_TIMEOUT,
        description=f"forget workspace {team}",
    )
    if job is None:
        log.info("event=duplicate_forget team=%s", team)


STEP_RETRY = Retry(max=3, interval=[5, 30, 120])
"""A Workflow Builder step waits on us: a few tries, then it fails with a reason."""


def step_job_id(execution_id: str) -> str:
    return f"step-{execution_id}"


def enqueue_step(
    conn: redis.Redis, *, execution_id: str, callback_id: str, team: str, inputs: dict[str, Any]
) -> bool:
    """Queue one Workflow Builder step (``workers.steps.run_step``), once per execution.

    Returns:
        False when this execution was already queued (Slack delivered the event again).
    """
    job = _enqueue_once(
        queue(ACTIVITIES, conn),
        step_job_id(execution_id),
        "workers.steps.run_step",
        kwargs={
            "execution_id": execution_id,
            "callback_id": callback_id,
            "team": team,
            "inputs": inputs,
        },
        retry=STEP_RETRY,
        on_failure=Callback("workers.steps.on_step_failed"),
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        timeout=JOB_TIMEOUT,
        description=f"step {callback_id} {execution_id}",
    )
    if job is None:
        log.info("event=duplicate_step execution=%s", execution_id)
        return False
    return True


def _enqueue_edit_job(conn: redis.Redis, func: str, job_id: str, kwargs: dict[str, Any]) -> None:
    job = _enqueue_once(
        queue(ACTIONS, conn),
        job_id,
        func,
        kwargs=kwargs,
        result_ttl=0,
        failure_ttl=3600,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"{func.rsplit('.', 1)[-1]} {kwargs.get('activity_id')}",
    )
    if job is None:
        log.info("event=duplicate_edit job=%s", job_id)


def enqueue_edit_form(
    conn: redis.Redis,
    *,
    team: str,
    user: str,
    activity_id: str,
    view_id: str,
    channel: str | None,
    message_ts: str | None,
    response_url: str | None,
) -> None:
    """Queue filling the Edit form from a GET of the activity (``workers.edits``)."""
    _enqueue_edit_job(
        conn,
        "workers.edits.open_edit_form",
        f"edit-form-{view_id}",
        {
            "team": team,
            "user": user,
            "activity_id": activity_id,
            "view_id": view_id,
            "channel": channel,
            "message_ts": message_ts,
            "response_url": response_url,
        },
    )


def enqueue_edit(
    conn: redis.Redis,
    *,
    team: str,
    user: str,
    activity_id: str,
    request: dict[str, Any],
    channel: str | None,
    message_ts: str | None,
    response_url: str | None,
    kept: list[str] | None = None,
) -> None:
    """Queue saving an edit (``workers.edits.apply_edit``): a PUT, then the confirmation.

    ``kept``: wire fields the form did not show (too long for it), left as they are.
    """
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]
    kwargs: dict[str, Any] = {
        "team": team,
        "user": user,
        "activity_id": activity_id,
        "request": request,
        "channel": channel,
        "message_ts": message_ts,
        "response_url": response_url,
    }
    if kept:
        kwargs["kept"] = kept
    _enqueue_edit_job(conn, "workers.edits.apply_edit", f"edit-{activity_id}-{digest}", kwargs)


def enqueue_delete(
    conn: redis.Redis,
    *,
    team: str,
    user: str,
    activity_id: str,
    channel: str | None,
    message_ts: str | None,
    response_url: str | None,
) -> None:
    """Queue deleting an activity (``workers.edits.delete_activity``), once while queued."""
    _enqueue_edit_job(
        conn,
        "workers.edits.delete_activity",
        f"delete-{activity_id}",
        {
            "team": team,
            "user": user,
            "activity_id": activity_id,
            "channel": channel,
            "message_ts": message_ts,
            "response_url": response_url,
        },
    )


def enqueue_unfurl(
    conn: redis.Redis,
    *,
    team: str,
    user: str,
    links: list[str],
    channel: str | None,
    message_ts: str | None,
    unfurl_id: str | None,
    source: str | None,
) -> bool:
    """Queue the unfurl of one message's Rally links (``workers.unfurls.unfurl_links``),
    once per message and set of links: Slack may deliver ``link_shared`` again.

    Returns:
        False when the same unfurl was queued in the last ten minutes.
    """
    where = f"{channel}:{message_ts}" if channel else f"composer:{unfurl_id}"
    digest = hashlib.sha256(f"{team}\n{where}\n{chr(10).join(links)}".encode()).hexdigest()[:24]
    job = _enqueue_once(
        queue(ACTIONS, conn),
        f"unfurl-{digest}",
        "workers.unfurls.unfurl_links",
        kwargs={
            "team": team,
            "user": user,
            "links": links,
            "channel": channel,
            "message_ts": message_ts,
            "unfurl_id": unfurl_id,
            "source": source,
        },
        result_ttl=600,
        failure_ttl=3600,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"unfurl {len(links)} links for {user}",
    )
    if job is None:
        log.info("event=duplicate_unfurl team=%s", team)
        return False
    return True


def enqueue_read_shared_file(
    conn: redis.Redis, *, team: str, user: str, channel: str, file_id: str
) -> bool:
    """Queue reading a CSV shared in the app's DM (``workers.imports.slack``), once per
    file: Slack may deliver the event again.

    Returns:
        False when this file was already queued.
    """
    job = _enqueue_once(
        queue(IMPORTS, conn),
        f"import-read-{team}-{file_id}",
        "workers.imports.slack.read_shared_file",
        kwargs={"team": team, "user": user, "channel": channel, "file_id": file_id},
        retry=Retry(max=3, interval=[5, 30, 120]),
        result_ttl=3600,
        failure_ttl=FAILURE_TTL,
        timeout=TASK_ACTION_TIMEOUT,
        description=f"read shared file for {user}",
    )
    if job is None:
        log.info("event=duplicate_file_share team=%s", team)
        return False
    return True


def import_job_id(import_id: str) -> str:
    return f"import-{import_id}"


def enqueue_import(
    conn: redis.Redis,
    settings: Settings,
    *,
    import_id: str,
    team: str,
    user: str,
    channel: str,
    message_ts: str | None,
) -> bool:
    """Queue an import **Import** started (``workers.imports.slack.import_from_slack``),
    once per import at a time: a double click queues nothing more. Transient Rally trouble
    retries the job, which carries on from the chunks already done.

    Returns:
        False when this import is already queued or running.
    """
    job = _enqueue_once(
        queue(IMPORTS, conn),
        import_job_id(import_id),
        "workers.imports.slack.import_from_slack",
        # Ended (done, or failed for good): this click is a new run of the same import,
        # which resumes from its recorded chunks and creates nothing twice.
        replace=_ENDED,
        kwargs={
            "import_id": import_id,
            "team": team,
            "user": user,
            "channel": channel,
            "message_ts": message_ts,
        },
        retry=create_retry(settings),
        on_failure=Callback("workers.imports.slack.on_import_failed"),
        result_ttl=60,
        # Kept an hour for a look; a new click replaces it (and goes on from the chunks done).
        failure_ttl=3600,
        timeout=IMPORT_TIMEOUT,
        description=f"import CSV for {user}",
    )
    if job is None:
        log.info("event=duplicate_import import=%s", import_id)
        return False
    return True


_CRASHED: Final = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
_ENDED: Final = (*_CRASHED, JobStatus.FINISHED)


def _enqueue_once(
    q: Queue, job_id: str, func: str, *, replace: tuple[JobStatus, ...] = (), **options: Any
) -> Job | None:
    """Queue ``func`` as job ``job_id`` unless a job of that id is still queued or running
    (or, with nothing to ``replace``, is kept at all: a finished one kept for
    ``result_ttl`` still counts, so a duplicate delivery queues nothing).

    A job of that id left in one of the ``replace`` states is deleted and replaced.

    Returns:
        The job queued, or ``None`` when one of that id is still pending.
    """
    for _ in range(2):
        try:
            return q.enqueue_call(func, job_id=job_id, unique=True, **options)
        except DuplicateJobError:
            if not replace:
                return None
            try:
                earlier = Job.fetch(job_id, connection=q.connection, serializer=JSONSerializer)
            except NoSuchJobError:
                continue  # it ended and went between the two calls
            if earlier.get_status(refresh=False) not in replace:
                return None
            earlier.delete()
    return None
