"""Lanes (``workers.lanes``) on a real Redis: one drainer per lane, batches fixed before
they are sent, nothing left behind by a push racing a drainer's last look."""

from __future__ import annotations

import redis

from workers import lanes


def _push(conn: redis.Redis, name: str, *subs: str) -> list[int]:
    lane = lanes.Lane(conn, "create", name)
    return [lane.push(sub, {"sub": sub}) for sub in subs]


def test_only_the_push_that_finds_the_lane_idle_starts_a_drainer(redis_conn: redis.Redis) -> None:
    assert _push(redis_conn, "T1:U1", "s1", "s2", "s3") == [1, 0, 0]
    assert _push(redis_conn, "T1:U2", "s4") == [1]  # another person's lane is its own
    assert _push(redis_conn, "T1:U1", "s1") == [-1]  # the same submission again: nothing


def test_a_batch_is_fixed_and_kept_until_finished_and_resumed_by_the_same_job(
    redis_conn: redis.Redis,
) -> None:
    _push(redis_conn, "T1:U1", *[f"s{n}" for n in range(5)])
    lane = lanes.Lane(redis_conn, "create", "T1:U1")
    first = lane.take(3, "job-a")
    assert first.batch is not None and not first.resumed
    assert [m["sub"] for m in first.batch.items] == ["s0", "s1", "s2"]
    _push(redis_conn, "T1:U1", "late")  # arrives while the batch is in flight: not in it
    # The same job run again (RQ re-runs a job whose worker died) takes it back as it was.
    again = lane.take(3, "job-a")
    assert again.resumed and again.batch is not None
    assert again.batch.id == first.batch.id and again.batch.items == first.batch.items
    # Another drainer is told the lane is held, and for how long.
    busy = lane.take(3, "job-b")
    assert busy.batch is None and 0 < busy.busy_ms <= lanes.LOCK_SECONDS * 1000
    first.batch.state["unanswered"] = True
    assert lane.save(first.batch, "job-a") and not lane.save(first.batch, "job-b")
    assert lane.take(3, "job-a").batch.state == {"unanswered": True}  # type: ignore[union-attr]
    assert lane.finish("job-a") == 3  # s3, s4 and "late" wait
    second = lane.take(10, "job-a")
    assert second.batch is not None
    assert [m["sub"] for m in second.batch.items] == ["s3", "s4", "late"]


def test_the_last_take_of_an_empty_lane_ends_the_chain_so_the_next_push_starts_one(
    redis_conn: redis.Redis,
) -> None:
    _push(redis_conn, "T1:U1", "s1")
    lane = lanes.Lane(redis_conn, "create", "T1:U1")
    assert lane.take(10, "job-a").batch is not None
    lane.finish("job-a")
    assert _push(redis_conn, "T1:U1", "s2") == [0]  # the chain is still live: it will look
    assert lane.take(10, "job-a").batch is not None
    lane.finish("job-a")
    assert lane.take(10, "job-a").batch is None  # empty: the chain ends here, atomically
    assert _push(redis_conn, "T1:U1", "s3") == [1]  # so this push starts a new drainer


def test_a_released_lane_stays_active_for_its_come_back_and_another_job_may_take_it(
    redis_conn: redis.Redis,
) -> None:
    _push(redis_conn, "T1:U1", "s1")
    lane = lanes.Lane(redis_conn, "create", "T1:U1")
    taken = lane.take(10, "job-a")
    assert taken.batch is not None
    lane.release("job-a", keep_active_for=30)
    assert _push(redis_conn, "T1:U1", "s2") == [0]  # no second drainer meanwhile
    back = lane.take(10, "job-later")  # the re-scheduled run has a job id of its own
    assert back.resumed and back.batch is not None and back.batch.id == taken.batch.id


def test_a_lane_with_work_and_no_live_chain_is_an_orphan_claimed_once(
    redis_conn: redis.Redis,
) -> None:
    _push(redis_conn, "T1:U1", "s1")
    _push(redis_conn, "T1:U2", "s2")
    redis_conn.delete(lanes.Lane(redis_conn, "create", "T1:U1").active_key)  # its job was lost
    assert lanes.orphans(redis_conn, "create") == ["T1:U1"]
    assert lanes.claim_orphan(redis_conn, "create", "T1:U1")
    assert not lanes.claim_orphan(redis_conn, "create", "T1:U1")
    assert lanes.orphans(redis_conn, "create") == []
    assert lanes.depth(redis_conn, "create") == 2
    assert [m["sub"] for m in lanes.waiting_items(redis_conn, "create")] == ["s1", "s2"]


def test_many_pushed_at_once_are_each_pushed_once(redis_conn: redis.Redis) -> None:
    lane = lanes.Lane(redis_conn, "tell", "T1:U1")
    assert lane.push_many([("a", {"sub": "a"}), ("b", {"sub": "b"})]) == 1
    assert lane.push_many([("b", {"sub": "b"}), ("c", {"sub": "c"})]) == 0
    assert lane.push_many([("a", {"sub": "a"})]) == -1
    assert [m["sub"] for m in lanes.waiting_items(redis_conn, "tell")] == ["a", "b", "c"]


class _SpentJob:
    """What RQ hands a failure callback once a job's re-runs are spent (the parts read)."""

    should_retry = False

    def __init__(self, job_id: str, lane: str) -> None:
        self.id, self.kwargs = job_id, {"lane": lane}


def test_a_spent_drainer_leaves_alone_a_lane_another_run_holds(redis_conn: redis.Redis) -> None:
    from workers.coalesce import on_drain_failed

    _push(redis_conn, "T1:U1", "s1")
    lane = lanes.Lane(redis_conn, "create", "T1:U1")
    assert lane.take(10, "job-live").batch is not None  # a live run holds it
    on_drain_failed(_SpentJob("job-spent", "T1:U1"), redis_conn, RuntimeError, None, None)
    assert redis_conn.get(lane.lock_key) == b"job-live"
    assert redis_conn.exists(lane.batch_key, lane.active_key) == 2
