"""The incremental sync against the real sandbox and a real Redis."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import redis

from api_client import RallyConnectionError
from workers.reminders import REMINDER_FIELDS, TaskIndex, due_epoch, sync_tasks

from .conftest import Rally

HOUR = timedelta(hours=1)
DEAL = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"


def _seed_mix(rally: Rally) -> set[str]:
    """Every kind of activity; returns the ids that belong in the index."""
    expected = {rally.task(f"pending {i}", (i + 1) * HOUR).id for i in range(4)}
    expected.add(rally.task("overdue", -2 * HOUR).id)
    expected.add(rally.task("detailed", HOUR, priority="high", dealId=DEAL).id)
    rally.task("no due date", None)
    rally.task("done already", HOUR, status="completed")
    rally.create(activityType="note", subject="a note")
    rally.create(activityType="call", subject="a call", callDirection="outbound")
    rally.create(activityType="meeting", subject="a meeting", durationMinutes=30)
    return expected


def test_first_sync_indexes_exactly_the_pending_tasks_with_due_dates(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    expected = _seed_mix(rally)
    client, counter = rally.client()

    report = sync_tasks(client, index, page_size=4)

    assert index.ids() == expected
    # 11 activities in pages of 4 that each start on the last one seen: 4 + 3 + 3 + 1.
    assert counter.snapshot() == {"list": 4}
    assert (report.requests, report.seen, report.indexed) == (4, 11, 6)
    for url in counter.urls:
        assert parse_qs(url.query.decode())["fields"] == [",".join(REMINDER_FIELDS)]
    keys = index.keys
    for task_id in expected:
        stored = index.task(task_id)
        assert stored is not None
        assert r.zscore(keys.due, task_id) == int(stored["due"])
        assert r.zscore(keys.unsent, task_id) == int(stored["due"])
    detailed = next(
        task_id for task_id in expected if (index.task(task_id) or {}).get("subject") == "detailed"
    )
    fresh = client.get_activity(detailed)
    stored = index.task(detailed)
    assert stored is not None
    assert fresh.due_date is not None and fresh.updated_at is not None
    assert stored["priority"] == "high"
    assert stored["dealId"] == DEAL
    assert stored["ownerId"] == fresh.owner_id
    assert int(stored["due"]) == due_epoch(fresh.due_date)


def test_incremental_sync_reads_only_the_changes(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    tasks = [rally.task(f"task {i}", (i + 1) * HOUR) for i in range(30)]
    client, counter = rally.client()
    sync_tasks(client, index, page_size=10)
    counter.reset()

    idle = sync_tasks(client, index, page_size=10)
    assert counter.reset() == {"list": 1}
    assert (idle.seen, idle.indexed, idle.removed) == (0, 0, 0)

    rally.update(tasks[3].id, status="completed")
    moved = rally.update(tasks[7].id, dueDate="2031-01-01T09:00:00Z")
    rally.update(tasks[11].id, subject="renamed")
    rally.update(tasks[12].id, dueDate=None)
    new = rally.task("brand new", 5 * timedelta(minutes=1))

    report = sync_tasks(client, index, page_size=10)

    assert counter.reset() == {"list": 1}
    assert (report.seen, report.indexed, report.removed) == (5, 3, 2)
    ids = index.ids()
    assert tasks[3].id not in ids and tasks[12].id not in ids
    assert new.id in ids
    keys = index.keys
    assert r.zscore(keys.due, moved.id) == due_epoch(moved.due_date)  # type: ignore[arg-type]
    assert index.task(tasks[11].id)["subject"] == "renamed"  # type: ignore[index]
    assert len(ids) == 30 - 2 + 1


def test_a_task_reopened_returns_to_the_index(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    task = rally.task("flip-flop", HOUR)
    client, _ = rally.client()
    sync_tasks(client, index)
    rally.update(task.id, status="completed")
    sync_tasks(client, index)
    assert task.id not in index.ids()
    rally.update(task.id, status="pending")
    sync_tasks(client, index)
    assert task.id in index.ids()


class FailAfter(httpx.BaseTransport):
    """Lets ``pages`` list requests through, then fails like a dropped network."""

    def __init__(self, inner: httpx.BaseTransport, pages: int) -> None:
        self.inner, self.left = inner, pages

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.left == 0:
            raise httpx.ConnectError("network went away", request=request)
        self.left -= 1
        return self.inner.handle_request(request)


def test_an_interrupted_first_sync_resumes_where_it_stopped(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    client, _ = rally.client()
    created = client.bulk_create_activities(
        [
            {
                "activityType": "task",
                "subject": f"bulk {i}",
                "dueDate": f"2030-01-01T{i % 24:02d}:00:00Z",
            }
            if i % 2 == 0
            else {"activityType": "note", "subject": f"note {i}"}
            for i in range(95)
        ]
    )
    tasks = {activity_id for i, activity_id in enumerate(created.created_ids) if i % 2 == 0}
    broken, broken_counter = rally.client(FailAfter(httpx.WSGITransport(app=rally.app), pages=4))

    with pytest.raises(RallyConnectionError):
        sync_tasks(broken, index, page_size=10)
    cursor = index.cursor()
    assert cursor is not None
    partial = index.ids()
    assert 0 < len(partial) < len(tasks)

    client, counter = rally.client()
    report = sync_tasks(client, index, page_size=10)

    assert index.ids() == tasks
    # Exactly one pass: 4 pages before the failure, the rest after; nothing read twice
    # except the one-item overlap each page starts with.
    total_pages = broken_counter.snapshot()["list"] - 1 + counter.snapshot()["list"]
    assert total_pages == 11  # 95 items: 10, then 9 new per page -> 10 + 9*9 = 91, then 4 more
    assert len(partial) + report.indexed == len(tasks)


class WriteDuringPaging(httpx.BaseTransport):
    """After the ``at``-th list response, runs ``action`` (another user writing mid-sync)."""

    def __init__(self, inner: httpx.BaseTransport, at: int, action: object) -> None:
        self.inner, self.at, self.action, self.lists = inner, at, action, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "GET" and request.url.path.endswith("/activities"):
            self.lists += 1
            if self.lists == self.at:
                self.action()  # type: ignore[operator]
        return response


def test_updates_during_paging_skip_nothing(rally: Rally, r: redis.Redis, index: TaskIndex) -> None:
    tasks = [rally.task(f"task {i}", (i + 1) * HOUR) for i in range(40)]

    def meddle() -> None:
        # One already read and one not yet read move to the end of the order; with
        # growing offsets the unread row after them would be skipped.
        rally.update(tasks[2].id, subject="seen, then edited")
        rally.update(tasks[30].id, status="completed")
        rally.update(tasks[31].id, dueDate="2031-05-05T05:00:00Z")

    client, _ = rally.client(WriteDuringPaging(httpx.WSGITransport(app=rally.app), 2, meddle))
    sync_tasks(client, index, page_size=10)

    ids = index.ids()
    assert ids == {t.id for t in tasks} - {tasks[30].id}
    assert index.task(tasks[2].id)["subject"] == "seen, then edited"  # type: ignore[index]
    assert index.task(tasks[31].id)["dueDate"] == "2031-05-05T05:00:00Z"  # type: ignore[index]


def _stamp_all_at_once(rally: Rally, ids: list[str]) -> None:
    """Give activities one shared updatedAt, as a server stamping a bulk write once would."""
    (stamp,) = rally.sql("SELECT max(updated_at) FROM activities")[0]
    marks = ",".join("?" * len(ids))
    rally.sql(f"UPDATE activities SET updated_at = ? WHERE id IN ({marks})", (stamp + 1, *ids))
    rally.sql("UPDATE tenant_clocks SET last_us = ?", (stamp + 1,))


def test_many_activities_sharing_one_timestamp_across_page_edges(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    tasks = [rally.task(f"tied {i}", (i + 1) * HOUR) for i in range(9)]
    _stamp_all_at_once(rally, [t.id for t in tasks[2:8]])
    client, _ = rally.client()

    report = sync_tasks(client, index, page_size=2)

    assert index.ids() == {t.id for t in tasks}
    assert report.seen == 9 and report.reasked == 0
    after = rally.task("after the tie", HOUR)
    again = sync_tasks(client, index, page_size=2)
    # [last tied, new] fills a page of 2, so one more (empty-handed) request ends it.
    assert (again.seen, again.requests) == (1, 2)
    assert after.id in index.ids()


def test_a_tie_group_that_shrinks_under_the_cursor_is_reread_not_skipped(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    tasks = [rally.task(f"tied {i}", (i + 1) * HOUR) for i in range(8)]
    tied = sorted(t.id for t in tasks)
    _stamp_all_at_once(rally, tied)

    def complete_the_first_two() -> None:
        # Both read already; moving them out of the group shifts every later member two
        # places forward, one more than the page's one-item overlap absorbs.
        rally.update(tied[0], status="completed")
        rally.update(tied[1], status="completed")

    client, _ = rally.client(
        WriteDuringPaging(httpx.WSGITransport(app=rally.app), 2, complete_the_first_two)
    )
    report = sync_tasks(client, index, page_size=3)

    assert index.ids() == set(tied[2:])
    assert report.reasked == 1


def test_a_second_concurrent_sync_stands_aside(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    rally.task("t", HOUR)
    r.set(index.keys.sync_lock, "someone-else", px=60_000)
    client, counter = rally.client()
    report = sync_tasks(client, index)
    assert report.locked and counter.snapshot() == {}
    r.delete(index.keys.sync_lock)
    assert sync_tasks(client, index).indexed == 1


def test_a_sync_whose_lock_was_taken_over_stops_and_leaves_the_new_holder_alone(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    for i in range(25):
        rally.task(f"task {i}", (i + 1) * HOUR)
    lock_key = index.keys.sync_lock

    def stall_past_the_lock() -> None:
        # What a sync stalled past SYNC_LOCK_SECONDS sees: its lock expired, another took it.
        r.set(lock_key, "another-sync", px=60_000)

    client, _ = rally.client(
        WriteDuringPaging(httpx.WSGITransport(app=rally.app), 2, stall_past_the_lock)
    )
    report = sync_tasks(client, index, page_size=10)

    assert report.lock_lost and report.pages == 1  # the second page was read, not applied
    assert len(index.ids()) == 10
    assert r.get(lock_key) == b"another-sync"
    r.delete(lock_key)
    client, _ = rally.client()
    resumed = sync_tasks(client, index, page_size=10)
    assert not resumed.lock_lost and len(index.ids()) == 25
    assert r.exists(lock_key) == 0  # released when done
