"""The per-owner sets beside the index: what ``/rally tasks`` reads without scanning."""

from __future__ import annotations

from datetime import timedelta

import redis

from workers.reminders import TaskIndex, due_epoch, sync_tasks

from .conftest import Rally

OWNER_A = "aaaaaaaa-0000-4000-8000-000000000001"
OWNER_B = "bbbbbbbb-0000-4000-8000-000000000002"


def _sync(rally: Rally, r: redis.Redis) -> None:
    client, _ = rally.client()
    sync_tasks(client, TaskIndex(r, rally.namespace))


def test_owner_sets_follow_reassignment_rescheduling_completion_and_deletion(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    later = rally.task("later", timedelta(days=2), ownerId=OWNER_A)
    sooner = rally.task("sooner", timedelta(hours=1), ownerId=OWNER_A)
    moving = rally.task("moving", timedelta(hours=3), ownerId=OWNER_A)
    rally.task("no due date", None, ownerId=OWNER_A)
    _sync(rally, r)
    assert [i for i, _ in index.owner_tasks(OWNER_A)] == [
        sooner.id,
        moving.id,
        later.id,
    ]

    rally.update(moving.id, ownerId=OWNER_B)
    new_due = rally.update(sooner.id, dueDate=(later.due_date + timedelta(hours=1)).isoformat())
    rally.delete(later.id)
    _sync(rally, r)  # a deletion is only seen by the tick's re-read: "later" stays for now
    assert index.owner_tasks(OWNER_B) == [(moving.id, due_epoch(moving.due_date))]
    assert [i for i, _ in index.owner_tasks(OWNER_A)] == [
        later.id,
        sooner.id,
    ]
    assert new_due.due_date is not None
    assert dict(index.owner_tasks(OWNER_A))[sooner.id] == due_epoch(new_due.due_date)

    rally.update(moving.id, status="completed")
    _sync(rally, r)
    assert index.owner_tasks(OWNER_B) == []


DEAL_A = "dddddddd-0000-4000-8000-00000000000a"
DEAL_B = "dddddddd-0000-4000-8000-00000000000b"
CONTACT = "cccccccc-0000-4000-8000-00000000000c"


def test_record_sets_follow_a_task_moving_between_deals_and_leaving_the_index(
    rally: Rally,
    r: redis.Redis,
    index: TaskIndex,
) -> None:
    first = rally.task("first", timedelta(hours=5), dealId=DEAL_A, contactId=CONTACT)
    second = rally.task("second", timedelta(hours=1), dealId=DEAL_A)
    _sync(rally, r)
    assert [i for i, _ in index.record_tasks("deal", DEAL_A)] == [second.id, first.id]
    assert [i for i, _ in index.record_tasks("contact", CONTACT)] == [first.id]

    rally.update(first.id, dealId=DEAL_B)
    rally.update(second.id, status="completed")
    _sync(rally, r)
    assert index.record_tasks("deal", DEAL_A) == []
    assert [i for i, _ in index.record_tasks("deal", DEAL_B)] == [first.id]
    assert [i for i, _ in index.record_tasks("contact", CONTACT)] == [first.id]

    index.remove(first.id)
    assert index.record_tasks("deal", DEAL_B) == []
    assert index.record_tasks("contact", CONTACT) == []
    assert r.keys(f"rally:rem:{index.namespace}:deal:*") == []
