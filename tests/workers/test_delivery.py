"""workers.delivery: what counts as an exact match, and who may own an activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from api_client.models import PartialActivityResponse
from workers.delivery import content_digest, matches, wanted_fields
from workers.state import State

SINCE = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
OWNER = "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1"
OTHER_OWNER = "0badbad0-0000-4000-8000-000000000000"
TASK = {"activityType": "task", "subject": "Send proposal", "dueDate": "2031-01-02T17:00:00+01:00"}


def _stored(**changes: Any) -> PartialActivityResponse:
    item = {
        "id": "c8f9a0b1-2d3e-4f56-7890-abcdef123456",
        "activityType": "task",
        "subject": "Send proposal",
        "dueDate": "2031-01-02T16:00:00Z",
        "status": "pending",
        "ownerId": OWNER,
        "createdAt": "2031-01-01T12:00:05Z",
        **changes,
    }
    return PartialActivityResponse.model_validate(item)


def test_the_activity_a_create_made_matches_it_with_rallys_defaults() -> None:
    assert matches(_stored(), wanted_fields(TASK), SINCE)
    assert matches(_stored(), wanted_fields(TASK), SINCE, key_owner=OWNER)


def test_any_other_value_or_an_extra_field_is_not_a_match() -> None:
    wanted = wanted_fields(TASK)
    assert not matches(_stored(subject="Send proposal v2"), wanted, SINCE)
    assert not matches(_stored(body="with notes"), wanted, SINCE)  # unset must stay empty
    assert not matches(_stored(priority="high"), wanted, SINCE)
    assert not matches(_stored(status="completed"), wanted, SINCE)
    assert not matches(_stored(dueDate="2031-01-02T17:00:00Z"), wanted, SINCE)
    assert not matches(_stored(ownerId=OTHER_OWNER), wanted, SINCE, key_owner=OWNER)
    assert not matches(
        _stored(ownerId=OTHER_OWNER), wanted_fields({**TASK, "ownerId": OWNER}), SINCE
    )


def test_an_activity_created_before_the_first_attempt_is_not_a_match() -> None:
    early = (SINCE - timedelta(seconds=1)).isoformat()
    assert not matches(_stored(createdAt=early), wanted_fields(TASK), SINCE)
    assert not matches(_stored(createdAt=None), wanted_fields(TASK), SINCE)


def test_content_digest_is_the_same_for_what_rally_would_store_the_same() -> None:
    same = {**TASK, "subject": "  Send proposal ", "dueDate": "2031-01-02T16:00:00Z"}
    assert content_digest(same) == content_digest(TASK)
    assert content_digest({**TASK, "body": "x"}) != content_digest(TASK)


def test_an_activity_is_claimed_by_one_submission_only(redis_conn: redis.Redis) -> None:
    state = State(redis_conn)
    assert state.claim_activity("t1", "a1", "sub-1")
    assert state.claim_activity("t1", "a1", "sub-1")  # its own claim, again
    assert not state.claim_activity("t1", "a1", "sub-2")
    assert state.claim_activity("t2", "a1", "sub-2")  # another tenant's namespace
    assert state.activity_claimants("t1", ["a1", "a2"]) == {"a1": "sub-1"}
