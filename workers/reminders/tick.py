"""The reminder tick: pick due tasks from the index, re-read each, post once per due date.

Exactly-once per task and due date, even with two schedulers or two workers running the
same tick (RQ's cron has no cross-instance lock), comes from the claim protocol in
:mod:`workers.reminders.index`: a task is posted only by the holder of its in-flight lease
(``SET NX`` with a TTL), and only while no durable "sent" marker exists for that due date;
the marker is written after a successful post. A failed post releases the lease so the next
tick retries. What remains is at-least-once across a crash *between* posting and marking
(the lease expires and a later tick posts again), the unavoidable window of any
post-then-record scheme; it is kept small by marking straight after the post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from api_client import ActivityResponse, NotFoundError, RallyClient, RallyError
from workers.reminders.index import DEFAULT_LEASE_SECONDS, DueTask, TaskIndex, due_epoch

logger = logging.getLogger("workers.reminders.tick")

Poster = Callable[[ActivityResponse], bool]
"""Posts the reminder of one task (fresh from the API); returns whether it was posted.

``False`` (or an exception) leaves the reminder unsent, to be retried by the next tick.
"""

DEFAULT_TICK_LIMIT: Final = 500


@dataclass(slots=True)
class TickReport:
    """What one tick did.

    Attributes:
        candidates: Tasks the index said were due and not yet reminded.
        claimed: Of those, the ones this tick won the lease for.
        busy: Skipped: already reminded, or another tick/worker holds the lease.
        posted: Reminders posted and marked sent.
        failed: Posts that failed (released for the next tick).
        deleted: Tasks gone from the API (404), dropped from the index.
        closed: Tasks no longer pending with a due date (completed, due cleared), dropped.
        rescheduled: Tasks whose due date had moved; re-indexed (and posted only when the
            new due date is within the lead, as a reminder for that date).
        errors: Re-reads that failed with an API error (released for the next tick).
        reminded_ids: Ids of the tasks posted.
    """

    candidates: int = 0
    claimed: int = 0
    busy: int = 0
    posted: int = 0
    failed: int = 0
    deleted: int = 0
    closed: int = 0
    rescheduled: int = 0
    errors: int = 0
    reminded_ids: list[str] = field(default_factory=list)


def tick(
    client: RallyClient,
    index: TaskIndex,
    poster: Poster,
    *,
    now: datetime | None = None,
    lead_minutes: int,
    limit: int = DEFAULT_TICK_LIMIT,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> TickReport:
    """Post the reminders that are due, each once per task and due date.

    For every task due within ``lead_minutes`` of ``now`` (or overdue) and not yet
    reminded for its due date: claim it, re-read it with ``get_activity`` (the index may be
    a minute old), then

    - deleted (404) or no longer a pending task with a due date: drop it from the index;
    - due date moved: re-index it; if the new due date is within the lead too, remind for
      the new date, otherwise wait for it;
    - still due: ``poster(activity)``, then mark it sent (or release it if that failed).

    Costs one GET per claimed task and nothing else against the API.

    Args:
        client: The tenant's API client.
        index: The tenant's task index.
        poster: Posts one reminder; see :data:`Poster`.
        now: The tick's time (defaults to the clock).
        lead_minutes: ``REMINDER_LEAD_MINUTES``.
        limit: At most this many tasks per tick; the rest are next tick's (soonest first).
        lease_seconds: How long a claim lasts if its holder dies mid-post.

    Returns:
        What happened to each candidate, counted.
    """
    now = now or datetime.now(UTC)
    horizon = due_epoch(now + timedelta(minutes=lead_minutes))
    report = TickReport()
    namespace = index.namespace
    for task in index.due(now=now, lead_minutes=lead_minutes, limit=limit):
        report.candidates += 1
        token = index.claim(task.task_id, task.due_epoch, lease_seconds=lease_seconds)
        if token is None:
            report.busy += 1
            continue
        report.claimed += 1
        _remind(client, index, poster, task, token, namespace, horizon, lease_seconds, report)
    logger.info(
        "reminders.tick namespace=%s candidates=%d claimed=%d busy=%d posted=%d failed=%d "
        "deleted=%d closed=%d rescheduled=%d errors=%d",
        namespace,
        report.candidates,
        report.claimed,
        report.busy,
        report.posted,
        report.failed,
        report.deleted,
        report.closed,
        report.rescheduled,
        report.errors,
    )
    return report


def _remind(
    client: RallyClient,
    index: TaskIndex,
    poster: Poster,
    task: DueTask,
    token: str,
    namespace: str,
    horizon: int,
    lease_seconds: float,
    report: TickReport,
) -> None:
    due = task.due_epoch
    try:
        activity = client.get_activity(task.task_id)
    except NotFoundError:
        index.remove(task.task_id)
        index.release(task.task_id, due, token)
        report.deleted += 1
        logger.info(
            "reminders.dropped namespace=%s task=%s reason=deleted", namespace, task.task_id
        )
        return
    except RallyError as exc:
        index.release(task.task_id, due, token)
        report.errors += 1
        logger.warning(
            "reminders.reread_failed namespace=%s task=%s error=%s",
            namespace,
            task.task_id,
            type(exc).__name__,
        )
        return
    if index.apply(activity) != "indexed" or activity.due_date is None:
        index.release(task.task_id, due, token)
        report.closed += 1
        logger.info(
            "reminders.dropped namespace=%s task=%s reason=%s",
            namespace,
            task.task_id,
            activity.status.value,
        )
        return
    fresh_due = due_epoch(activity.due_date)
    if fresh_due != due:
        index.release(task.task_id, due, token)
        report.rescheduled += 1
        logger.info(
            "reminders.rescheduled namespace=%s task=%s old_due=%d new_due=%d",
            namespace,
            task.task_id,
            due,
            fresh_due,
        )
        if fresh_due > horizon:
            return
        new_token = index.claim(task.task_id, fresh_due, lease_seconds=lease_seconds)
        if new_token is None:
            report.busy += 1
            return
        token, due = new_token, fresh_due
    try:
        posted = poster(activity)
    except Exception:
        logger.exception("reminders.post_failed namespace=%s task=%s", namespace, task.task_id)
        posted = False
    if posted:
        index.mark_sent(task.task_id, due, token)
        report.posted += 1
        report.reminded_ids.append(task.task_id)
        logger.info("reminders.posted namespace=%s task=%s due=%d", namespace, task.task_id, due)
    else:
        index.release(task.task_id, due, token)
        report.failed += 1
