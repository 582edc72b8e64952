"""Incremental sync: keep the Redis index of pending tasks in step with the Activities API.

The API cannot filter by type, status or due date, and does not report deletions; all it
offers is "what changed since T" (``updatedSince``, inclusive), ordered by ``updatedAt``
then ``id``. So the sync reads only what changed since its stored cursor, asks for just the
fields a reminder needs, and applies each page to the index in the same Redis transaction
that advances the cursor: an interrupted first sync of a large tenant resumes at the page
it stopped at.

Paging is keyset-style. The cursor is the last item applied, ``(since, lastId)``, plus
``atSince``: its position (1-based) among the items stamped exactly ``since``. The next
page asks ``updatedSince=since&offset=atSince-1``, i.e. it starts *at* the last item seen.
Because a write never gets a time already handed out (the API stamps writes with strictly
increasing times), the group of items stamped ``since`` can only shrink (an item in it is
updated, so it moves to the end of the order, or deleted). If the page does start with
``lastId``, nothing before it moved and the offset skipped exactly what was seen; if it does
not, the page is asked again from offset 0 and whatever is not after ``(since, lastId)`` is
dropped. Growing offsets would instead skip an unseen row each time an update moved one
from in front of it. Items seen twice (the one-item overlap, a retried page, an update
during paging) are harmless: applying an activity to the index is idempotent and never
rolls a task back to an older version.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast

import redis

from api_client import MAX_PAGE_SIZE, PartialActivityResponse, RallyClient
from api_client.models import format_utc
from workers.reminders.index import REMINDER_FIELDS, Keys, apply_activity, release_lock

logger = logging.getLogger("workers.reminders.sync")

SYNC_LOCK_SECONDS: Final = 120


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the last sync stopped: the last item applied and its place among its ties."""

    since: datetime
    last_id: str
    at_since: int

    def to_redis(self) -> dict[str, str]:
        return {
            "since": format_utc(self.since),
            "lastId": self.last_id,
            "atSince": str(self.at_since),
        }

    @classmethod
    def from_redis(cls, raw: dict[Any, Any]) -> Cursor | None:
        values = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        if not values.get("since"):
            return None
        return cls(
            since=datetime.fromisoformat(values["since"]),
            last_id=values["lastId"],
            at_since=int(values["atSince"]),
        )


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
    seconds: float = 0.0
    cursor: Cursor | None = field(default=None)


def load_cursor(conn: redis.Redis, *, namespace: str) -> Cursor | None:
    """The stored sync cursor of a namespace, or ``None`` before the first page."""
    return Cursor.from_redis(conn.hgetall(Keys(namespace).cursor))


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def _after(item: PartialActivityResponse, cursor: Cursor | None) -> bool:
    if cursor is None:
        return True
    assert item.updated_at is not None
    return (item.updated_at, item.id) > (cursor.since, cursor.last_id)


def sync_tasks(
    client: RallyClient,
    conn: redis.Redis,
    *,
    namespace: str,
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
        conn: Redis.
        namespace: From :func:`~workers.reminders.index.namespace_for`.
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
    keys = Keys(namespace)
    run_at = now or datetime.now(UTC)
    report = SyncReport()
    started = time.perf_counter()
    token = secrets.token_hex(16)
    lock_ms = SYNC_LOCK_SECONDS * 1000
    if not conn.set(keys.sync_lock, token, nx=True, px=lock_ms):
        report.locked = True
        logger.info("reminders.sync.locked namespace=%s", namespace)
        return report
    try:
        cursor = load_cursor(conn, namespace=namespace)
        offset = max(cursor.at_since - 1, 0) if cursor else 0
        while max_pages is None or report.pages < max_pages:
            page = client.list_activities(
                limit=page_size,
                offset=offset or None,
                updated_since=cursor.since if cursor else None,
                fields=REMINDER_FIELDS,
            )
            report.requests += 1
            if (
                cursor is not None
                and offset > 0
                and (not page or (page[0].id, page[0].updated_at) != (cursor.last_id, cursor.since))
            ):
                # The group stamped `since` lost an item before our position, so this
                # offset may have jumped over an unseen one: ask again from its start.
                report.reasked += 1
                offset = 0
                continue
            if any(item.updated_at is None for item in page):
                raise ValueError("the API returned an activity without updatedAt")
            fresh = [item for item in page if _after(item, cursor)]
            next_cursor = cursor
            if page:
                last = page[-1]
                assert last.updated_at is not None
                ties = sum(1 for item in page if item.updated_at == last.updated_at)
                if cursor is not None and last.updated_at == cursor.since:
                    at_since = offset + len(page)  # the whole page sits in one instant
                else:
                    at_since = ties
                next_cursor = Cursor(since=last.updated_at, last_id=last.id, at_since=at_since)
            pipe = conn.pipeline(transaction=True)
            outcomes = [apply_activity(pipe, keys, item) for item in fresh]
            if next_cursor is not None:
                pipe.hset(
                    keys.cursor,
                    mapping=cast(Any, dict(next_cursor.to_redis(), lastRunAt=format_utc(run_at))),
                )
            pipe.eval(_RENEW, 1, keys.sync_lock, token, lock_ms)
            pipe.execute()
            report.pages += 1
            report.seen += len(fresh)
            report.indexed += outcomes.count("indexed")
            report.removed += outcomes.count("removed")
            cursor = next_cursor
            if len(page) < page_size:
                break
            assert cursor is not None
            offset = cursor.at_since - 1
    finally:
        release_lock(conn, keys.sync_lock, token)
        report.seconds = time.perf_counter() - started
        report.cursor = load_cursor(conn, namespace=namespace)
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
