"""Incremental sync: keep the Redis index of pending tasks in step with the Activities API.

The API cannot filter by type, status or due date, and does not report deletions; all it
offers is "what changed since T". So the sync walks
:meth:`~api_client.RallyClient.iter_changes` from its stored cursor, asking for just the
fields a reminder needs, and applies each page to the index in the same Redis transaction
that stores the page's cursor: an interrupted first sync of a large tenant resumes at the
page it stopped at. How the walk cannot skip a row while others write is told in
:mod:`api_client.paging`; the items it may hand out twice (the one-item overlap, a retried
page, an update during paging) are harmless here, since applying an activity to the index
is idempotent and never rolls a task back to an older version.

One sync per namespace runs at a time, under a redis-py lock renewed with each page; a
sync that finds its lock gone (it stalled past the lock's timeout, so another may have
started) stops before applying another page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Final

from redis.exceptions import LockError
from redis.lock import Lock

from api_client import MAX_PAGE_SIZE, Cursor, Page, PartialActivityResponse, RallyClient
from workers.records import note_seen
from workers.reminders.index import REMINDER_FIELDS, TaskIndex

logger = logging.getLogger("workers.reminders.sync")

SYNC_LOCK_SECONDS: Final = 120


@dataclass(slots=True)
class SyncReport:
    """What one sync did.

    Attributes:
        requests: List requests sent (pages, including a re-asked page).
        pages: Pages applied to the index.
        seen: Activities read (the one-item overlap with the previous page not counted).
        indexed: Pending tasks with a due date written to the index (new or refreshed).
        removed: Tasks dropped from the index (completed, due date cleared).
        reasked: Pages asked again from offset 0 because the tie group at the cursor shrank.
        locked: True when another sync of this namespace was running, so this one did nothing.
        lock_lost: True when the lock expired under this sync (it stalled past
            ``SYNC_LOCK_SECONDS``), so it stopped; the next run continues from its cursor.
        seconds: Wall time.
        cursor: The cursor after the sync, or ``None`` if nothing was ever read.
    """

    requests: int = 0
    pages: int = 0
    seen: int = 0
    indexed: int = 0
    removed: int = 0
    reasked: int = 0
    locked: bool = False
    lock_lost: bool = False
    seconds: float = 0.0
    cursor: Cursor | None = field(default=None)


def sync_tasks(
    client: RallyClient,
    index: TaskIndex,
    *,
    page_size: int = MAX_PAGE_SIZE,
    now: datetime | None = None,
    max_pages: int | None = None,
) -> SyncReport:
    """Bring the task index up to date with everything changed since the last sync.

    The first run reads the whole tenant once (resuming where an interrupted run stopped);
    later runs read only what changed, usually in one request. One sync per namespace
    runs at a time: a second concurrent call returns at once with ``locked=True``.

    Args:
        client: The tenant's API client.
        index: The tenant's task index.
        page_size: Items per list request, 2..100 (the page starts with the last item
            already seen, so it needs room for at least one more).
        now: The time of this run, recorded as ``lastRunAt`` (defaults to the clock).
        max_pages: Stop after this many pages even if more remain (the next run
            continues); ``None`` reads to the end.

    Returns:
        What was read and changed.

    Raises:
        RallyError: The API failed; pages applied before it are kept, and the next run
            continues after them.
    """
    if not 2 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 2 and {MAX_PAGE_SIZE}")
    namespace = index.namespace
    run_at = now or datetime.now(UTC)
    report = SyncReport()
    started = time.perf_counter()
    lock = index.sync_lock(timeout=SYNC_LOCK_SECONDS)
    if not lock.acquire():
        report.locked = True
        logger.info("reminders.sync.locked namespace=%s", namespace)
        return report
    try:
        pages = client.iter_changes(index.cursor(), fields=REMINDER_FIELDS, page_size=page_size)
        for page in islice(pages, max_pages):
            report.requests += page.requests
            report.reasked += page.reasked
            if not _renew(lock, namespace):
                report.lock_lost = True
                break
            _apply(index, page, run_at, report)
    finally:
        _release(lock, namespace)
        report.seconds = time.perf_counter() - started
        report.cursor = index.cursor()
    logger.info(
        "reminders.sync namespace=%s requests=%d pages=%d seen=%d indexed=%d removed=%d "
        "reasked=%d seconds=%.3f",
        namespace,
        report.requests,
        report.pages,
        report.seen,
        report.indexed,
        report.removed,
        report.reasked,
        report.seconds,
    )
    return report


def _apply(
    index: TaskIndex, page: Page[PartialActivityResponse], run_at: datetime, report: SyncReport
) -> None:
    """Apply one page to the index and store its cursor, all in one transaction."""
    if any(item.updated_at is None for item in page.items):
        # The index tells versions apart by updatedAt; without it one cannot be placed.
        raise ValueError("the API returned an activity without updatedAt")
    pipe = index.conn.pipeline(transaction=True)
    outcomes = [index.apply(item, pipe=pipe) for item in page.items]
    # The records these activities are on, for the type-ahead (workers.records).
    note_seen(
        pipe,
        index.namespace,
        [
            (kind, str(record_id), int(item.updated_at.timestamp()))
            for item in page.items
            if item.updated_at is not None
            for kind, record_id in (
                ("deal", item.deal_id),
                ("company", item.company_id),
                ("contact", item.contact_id),
            )
            if record_id
        ],
    )
    if page.cursor is not None:
        index.save_cursor(page.cursor, run_at=run_at, pipe=pipe)
    pipe.execute()
    report.pages += 1
    report.seen += len(page.items)
    report.indexed += outcomes.count("indexed")
    report.removed += outcomes.count("removed")


def _renew(lock: Lock, namespace: str) -> bool:
    """Give the lock its full timeout again; ``False`` if it is no longer ours."""
    try:
        lock.reacquire()
    except LockError:
        logger.warning("reminders.sync.lock_lost namespace=%s", namespace)
        return False
    return True


def _release(lock: Lock, namespace: str) -> None:
    try:
        lock.release()
    except LockError:  # expired under us: nothing of ours left to free
        logger.info("reminders.sync.lock_expired namespace=%s", namespace)
