"""The reminder tick: selection, re-read before posting, exactly-once claims (real Redis)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import redis

from workers.reminders import TaskIndex, due_epoch, sync_tasks, tick

from .conftest import Rally, RecordingPoster

MINUTE = timedelta(minutes=1)
LEAD = 15


def _sync(rally: Rally, r: redis.Redis) -> None:
    client, _ = rally.client()
    sync_tasks(client, TaskIndex(r, rally.namespace))


def test_due_soon_and_overdue_tasks_are_reminded_once(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    soon = rally.task("due in 5 minutes", 5 * MINUTE)
    overdue = rally.task("overdue, never reminded", -2 * 24 * 60 * MINUTE)
    rally.task("far future", 3 * 24 * 60 * MINUTE)
    rally.task("just outside the lead", (LEAD + 2) * MINUTE)
    rally.task("no due date", None)
    rally.task("already done", 5 * MINUTE, status="completed")
    _sync(rally, r)
    client, counter = rally.client()
    poster = RecordingPoster()

    first = tick(client, index, poster, lead_minutes=LEAD)

    assert sorted(poster.ids) == sorted([soon.id, overdue.id])
    assert counter.reset() == {"get": 2}
    assert (first.posted, first.claimed, first.candidates) == (2, 2, 2)
    assert index.was_sent(soon.id, due_epoch(soon.due_date))  # type: ignore[arg-type]

    _sync(rally, r)
    second = tick(client, index, poster, lead_minutes=LEAD)
    assert (second.candidates, second.posted) == (0, 0)
    assert counter.reset() == {}
    assert len(poster.posted) == 2
    # Re-indexing a reminded task (its subject edited) does not make it due again.
    rally.update(soon.id, subject="edited after the reminder")
    _sync(rally, r)
    assert index.due(now=datetime.now(UTC), lead_minutes=LEAD) == []


def test_the_poster_gets_the_fresh_activity(rally: Rally, r: redis.Redis, index: TaskIndex) -> None:
    task = rally.task("old subject", 5 * MINUTE)
    _sync(rally, r)
    rally.update(task.id, subject="new subject")  # after the sync: the index is stale
    client, _ = rally.client()
    poster = RecordingPoster()
    tick(client, index, poster, lead_minutes=LEAD)
    assert [a.subject for a in poster.posted] == ["new subject"]


def test_completed_or_deleted_since_the_sync_are_dropped_not_reminded(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    done = rally.task("completed after the sync", 5 * MINUTE)
    gone = rally.task("deleted after the sync", 5 * MINUTE)
    _sync(rally, r)
    rally.update(done.id, status="completed")
    rally.delete(gone.id)
    client, counter = rally.client()
    poster = RecordingPoster()

    report = tick(client, index, poster, lead_minutes=LEAD)

    assert poster.posted == []
    assert (report.closed, report.deleted) == (1, 1)
    assert counter.snapshot() == {"get": 2}
    assert index.ids() == set()
    assert tick(client, index, poster, lead_minutes=LEAD).candidates == 0


def test_rescheduled_tasks_are_reminded_at_their_new_time(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    later = rally.task("pushed to tomorrow", 5 * MINUTE)
    sooner = rally.task("pulled forward", 10 * MINUTE)
    _sync(rally, r)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    rally.update(later.id, dueDate=tomorrow.isoformat())
    new_sooner = rally.update(sooner.id, dueDate=(datetime.now(UTC) + 2 * MINUTE).isoformat())
    client, _ = rally.client()
    poster = RecordingPoster()

    report = tick(client, index, poster, lead_minutes=LEAD)

    assert poster.ids == [sooner.id]
    assert report.rescheduled == 2
    assert index.was_sent(sooner.id, due_epoch(new_sooner.due_date))  # type: ignore[arg-type]
    assert r.zscore(index.keys.due, later.id) == due_epoch(tomorrow)

    # Tomorrow, the pushed task comes due at its new time and gets its reminder then.
    report = tick(client, index, poster, lead_minutes=LEAD, now=tomorrow)
    assert poster.ids == [sooner.id, later.id]


def test_a_snoozed_task_gets_a_new_reminder_once_per_due_date(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    task = rally.task("call back", 5 * MINUTE)
    _sync(rally, r)
    client, _ = rally.client()
    poster = RecordingPoster()
    tick(client, index, poster, lead_minutes=LEAD)
    snoozed_to = datetime.now(UTC) + timedelta(hours=1)
    rally.update(task.id, dueDate=snoozed_to.isoformat())  # "Snooze 1 hour"
    _sync(rally, r)

    assert tick(client, index, poster, lead_minutes=LEAD).candidates == 0
    in_an_hour = snoozed_to - 5 * MINUTE
    tick(client, index, poster, lead_minutes=LEAD, now=in_an_hour)
    tick(client, index, poster, lead_minutes=LEAD, now=in_an_hour)

    assert poster.ids == [task.id, task.id]
    assert [a.due_date for a in poster.posted][1] is not None
    assert due_epoch(poster.posted[1].due_date) == due_epoch(snoozed_to)  # type: ignore[arg-type]


def test_a_failed_post_is_retried_by_the_next_tick(
    rally: Rally, r: redis.Redis, index: TaskIndex
) -> None:
    task = rally.task("flaky slack", 5 * MINUTE)
    _sync(rally, r)
    client, _ = rally.client()
    failing = RecordingPoster(fail=True)
    report = tick(client, index, failing, lead_minutes=LEAD)
    assert (report.failed, report.posted) == (1, 0)

    def explodes(_activity: object) -> bool:
        raise RuntimeError("slack is down")

    assert tick(client, index, explodes, lead_minutes=LEAD).failed == 1
    working = RecordingPoster()
    assert tick(client, index, working, lead_minutes=LEAD).posted == 1
    assert working.ids == [task.id]


def test_two_concurrent_ticks_post_each_reminder_exactly_once(
    rally: Rally, r: redis.Redis, redis_url: str
) -> None:
    client, _ = rally.client()
    created = client.bulk_create_activities(
        [
            {
                "activityType": "task",
                "subject": f"due {i}",
                "dueDate": (datetime.now(UTC) + (i % 10) * MINUTE).isoformat(),
            }
            for i in range(60)
        ]
    )
    _sync(rally, r)
    posted: Counter[str] = Counter()
    lock = threading.Lock()

    def poster(activity: object) -> bool:
        with lock:
            posted[activity.id] += 1  # type: ignore[attr-defined]
        return True

    barrier = threading.Barrier(4)
    reports = []

    def run() -> None:
        own_client, _ = rally.client()
        own_redis = redis.Redis.from_url(redis_url)
        barrier.wait()
        reports.append(
            tick(own_client, TaskIndex(own_redis, rally.namespace), poster, lead_minutes=LEAD)
        )
        own_redis.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(reports) == 4
    assert set(posted) == set(created.created_ids)
    assert set(posted.values()) == {1}
    assert sum(rep.posted for rep in reports) == 60


def test_claims_are_exclusive_until_released_and_final_once_sent(r: redis.Redis) -> None:
    index = TaskIndex(r, "testns")
    due = due_epoch(datetime.now(UTC))
    first = index.claim("t1", due)
    assert first is not None
    assert index.claim("t1", due) is None
    assert index.claim("t1", due + 60) is not None  # another due date is another reminder
    index.release("t1", due, "not-the-holder")
    assert index.claim("t1", due) is None
    index.release("t1", due, first)
    second = index.claim("t1", due)
    assert second is not None
    index.mark_sent("t1", due, second)
    assert index.claim("t1", due) is None
    assert r.ttl(index.keys.sent("t1", due)) > 29 * 24 * 3600


def test_a_lease_whose_holder_died_expires(r: redis.Redis) -> None:
    index = TaskIndex(r, "ns")
    due = due_epoch(datetime.now(UTC))
    assert index.claim("t2", due, lease_seconds=0.05) is not None
    deadline = time.monotonic() + 5
    while (token := index.claim("t2", due)) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert token


def test_run_once_from_settings_over_a_real_socket(
    rally: Rally, r: redis.Redis, redis_url: str, serve_app: object
) -> None:
    from core.settings import Settings
    from workers.reminders.jobs import run_once
    from workers.workspace import workspace_credential

    from .conftest import API_KEY

    url = serve_app(rally.app)  # type: ignore[operator]
    task = rally.task("over the wire", 5 * MINUTE)
    settings = Settings(
        _env_file=None,
        rally_base_url=url,
        rally_api_key=API_KEY,
        redis_url=redis_url,
        reminder_lead_minutes=LEAD,
    )  # type: ignore[call-arg]
    poster = RecordingPoster()

    sync, first = run_once(settings, lambda team: poster)
    _, second = run_once(settings, lambda team: poster)

    assert (sync.indexed, first.posted, second.posted) == (1, 1, 0)
    assert poster.ids == [task.id]
    credential = workspace_credential(settings, None)
    assert credential is not None
    namespace = credential.namespace
    assert namespace != rally.namespace  # another base URL: another index
    assert API_KEY not in namespace and all(API_KEY not in k.decode() for k in r.keys("*"))
