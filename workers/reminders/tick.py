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
from workers.reminders.index import DEFAULT_LEASE_SECONDS, TaskIndex, due_epoch

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
    run = _Tick(
        client=client,
        index=index,
        poster=poster,
        horizon=due_epoch(now + timedelta(minutes=lead_minutes)),
        lease_seconds=lease_seconds,
        report=TickReport(),
    )
    for task in index.due(now=now, lead_minutes=lead_minutes, limit=limit):
        run.report.candidates += 1
        claim = run.claim(task.task_id, task.due_epoch)
        if claim is None:
            run.report.busy += 1
            continue
        run.report.claimed += 1
        _remind(run, claim)
    _log(run)
    return run.report


@dataclass(frozen=True, slots=True)
class _Claim:
    """A lease this tick holds: on reminding ``task_id`` for the due date ``due``."""

    task_id: str
    due: int
    token: str


@dataclass(slots=True)
class _Tick:
    """What the steps of one tick share.

    Attributes:
        horizon: The latest due epoch this tick reminds (its time plus the lead).
        lease_seconds: How long a claim lasts if this tick dies holding it.
    """

    client: RallyClient
    index: TaskIndex
    poster: Poster
    horizon: int
    lease_seconds: float
    report: TickReport

    @property
    def namespace(self) -> str:
        return self.index.namespace

    def claim(self, task_id: str, due: int) -> _Claim | None:
        token = self.index.claim(task_id, due, lease_seconds=self.lease_seconds)
        return None if token is None else _Claim(task_id, due, token)

    def release(self, claim: _Claim) -> None:
        self.index.release(claim.task_id, claim.due, claim.token)


def _remind(run: _Tick, claim: _Claim) -> None:
    """One claimed task: re-read it, follow it if it moved, post it, record the outcome."""
    activity = _reread(run, claim)
    if activity is None or not _still_open(run, claim, activity):
        return
    current = _claim_current_due(run, claim, activity)
    if current is not None:
        _post(run, current, activity)


def _reread(run: _Tick, claim: _Claim) -> ActivityResponse | None:
    """The task as it is now (the index may be a minute old); ``None`` if gone or unreadable."""
    try:
        return run.client.get_activity(claim.task_id)
    except NotFoundError:
        run.index.remove(claim.task_id)
        run.release(claim)
        run.report.deleted += 1
        logger.info(
            "reminders.dropped namespace=%s task=%s reason=deleted", run.namespace, claim.task_id
        )
    except RallyError as exc:
        run.release(claim)
        run.report.errors += 1
        logger.warning(
            "reminders.reread_failed namespace=%s task=%s error=%s",
            run.namespace,
            claim.task_id,
            type(exc).__name__,
        )
    return None


def _still_open(run: _Tick, claim: _Claim, activity: ActivityResponse) -> bool:
    """Re-index the fresh read; ``False`` (dropped) unless still a pending task with a due."""
    if run.index.apply(activity) == "indexed" and activity.due_date is not None:
        return True
    run.release(claim)
    run.report.closed += 1
    logger.info(
        "reminders.dropped namespace=%s task=%s reason=%s",
        run.namespace,
        claim.task_id,
        activity.status.value,
    )
    return False


def _claim_current_due(run: _Tick, claim: _Claim, activity: ActivityResponse) -> _Claim | None:
    """The claim to post under: this one, or, when the due date moved to within the lead,
    one for the new date (``None`` when it moved beyond the lead or that one is taken)."""
    assert activity.due_date is not None
    fresh_due = due_epoch(activity.due_date)
    if fresh_due == claim.due:
        return claim
    run.release(claim)
    run.report.rescheduled += 1
    logger.info(
        "reminders.rescheduled namespace=%s task=%s old_due=%d new_due=%d",
        run.namespace,
        claim.task_id,
        claim.due,
        fresh_due,
    )
    if fresh_due > run.horizon:
        return None
    moved = run.claim(claim.task_id, fresh_due)
    if moved is None:
        run.report.busy += 1
    return moved


def _post(run: _Tick, claim: _Claim, activity: ActivityResponse) -> None:
    """Post the reminder; mark it sent, or release it for the next tick."""
    try:
        posted = run.poster(activity)
    except Exception:
        logger.exception("reminders.post_failed namespace=%s task=%s", run.namespace, claim.task_id)
        posted = False
    if not posted:
        run.release(claim)
        run.report.failed += 1
        return
    run.index.mark_sent(claim.task_id, claim.due, claim.token)
    run.report.posted += 1
    run.report.reminded_ids.append(claim.task_id)
    logger.info(
        "reminders.posted namespace=%s task=%s due=%d", run.namespace, claim.task_id, claim.due
    )


def _log(run: _Tick) -> None:
    report = run.report
    logger.info(
        "reminders.tick namespace=%s candidates=%d claimed=%d busy=%d posted=%d failed=%d "
        "deleted=%d closed=%d rescheduled=%d errors=%d",
        run.namespace,
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
