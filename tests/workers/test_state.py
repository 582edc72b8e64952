"""workers.state: the key layout other features (reminders, App Home) build on."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import LockError

from workers.state import RECENT_LIMIT, Origin, State, Submission

DEAL = "C8F9A0B1-2D3E-4F56-7890-ABCDEF123456"


def _origin(n: int) -> Origin:
    return Origin(
        team="T1",
        channel="C1",
        user="U1",
        activity_type="note",
        subject=f"s{n}",
        logged_at="2031-01-01T00:00:00Z",
    )


def test_recent_activity_is_newest_first_capped_and_deduplicated(redis_conn: redis.Redis) -> None:
    state = State(redis_conn)
    for n in range(RECENT_LIMIT + 5):
        state.record_origin(f"id-{n}", _origin(n))
    state.record_origin("id-7", _origin(7))
    recent = state.recent_activity_ids("T1", "U1")
    assert len(recent) == RECENT_LIMIT
    assert recent[0] == "id-7" and recent[1] == f"id-{RECENT_LIMIT + 4}"
    assert recent.count("id-7") == 1


def test_origin_records_the_confirmation_message_for_threading(redis_conn: redis.Redis) -> None:
    state = State(redis_conn)
    state.record_origin("a1", _origin(1))
    state.set_confirmation("a1", "D1", "123.456")
    origin = state.get_origin("a1")
    assert origin is not None and (origin.confirmation_channel, origin.confirmation_ts) == (
        "D1",
        "123.456",
    )
    state.set_confirmation("missing", "D1", "1.0")  # no origin: nothing to annotate
    assert state.get_origin("missing") is None


def test_submissions_expire_after_seven_days(redis_conn: redis.Redis) -> None:
    state = State(redis_conn)
    state.save_submission(
        Submission(
            id="s1",
            activity_type="note",
            team="T1",
            user="U1",
            channel=None,
            values={"subject": "x"},
        )
    )
    assert state.get_submission("s1") == Submission(
        id="s1", activity_type="note", team="T1", user="U1", channel=None, values={"subject": "x"}
    )
    ttl = redis_conn.ttl("rally:submission:s1")
    assert 7 * 24 * 3600 - 5 < int(ttl) <= 7 * 24 * 3600  # type: ignore[arg-type]
    state.delete_submissions(["s1"])
    assert state.get_submission("s1") is None


def test_a_task_lock_is_exclusive_and_its_late_release_spares_the_next_holder(
    redis_conn: redis.Redis,
) -> None:
    state = State(redis_conn)
    first = state.task_lock("t1", 1_900_000_000)
    assert first.acquire()
    assert not state.task_lock("t1", 1_900_000_000).acquire()  # a double click: busy
    assert state.task_lock("t1", 1_900_003_600).acquire()  # another due date is another lock

    redis_conn.delete("rally:acting:t1:1900000000")  # the first holder outlived its timeout
    second = state.task_lock("t1", 1_900_000_000)
    assert second.acquire()
    with pytest.raises(LockError):
        first.release()  # the old unlock would have deleted the second holder's lock
    assert not state.task_lock("t1", 1_900_000_000).acquire()
    second.release()
    assert state.task_lock("t1", 1_900_000_000).acquire()
