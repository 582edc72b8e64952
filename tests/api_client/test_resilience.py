"""Retries, backoff and error mapping, against scripted failures (httpx.MockTransport)."""

from __future__ import annotations

import email.utils
import logging
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from api_client import (
    AuthenticationError,
    ConflictError,
    CreateActivityRequest,
    NotFoundError,
    RallyConnectionError,
    RallyError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from tests.api_client.conftest import (
    ACTIVITY_ID,
    FAKE_KEY,
    Harness,
    activity_json,
    problem,
)

Scripted = Callable[..., Harness]

CALL = CreateActivityRequest.model_validate(
    {"activityType": "call", "subject": "Discovery call", "callDurationSeconds": 60}
)


def ok(status: int = 201) -> httpx.Response:
    return httpx.Response(status, json=activity_json())


def test_503_then_success_retries_once_after_a_jittered_wait(scripted: Scripted) -> None:
    h = scripted(problem(503, "Service Unavailable"), ok(), backoff_base=0.5)

    created = h.client.create_activity(CALL)

    assert created.id == ACTIVITY_ID
    assert len(h.script.requests) == 2
    assert len(h.sleeps) == 1
    assert 0 <= h.sleeps[0] <= 0.5


def test_429_waits_exactly_what_retry_after_says(scripted: Scripted) -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "2"}, json={"title": "Too Many", "status": 429}
    )
    h = scripted(limited, ok(200))

    h.client.get_activity(ACTIVITY_ID)

    assert h.sleeps == [2.0]
    assert len(h.script.requests) == 2


def test_retry_after_as_an_http_date_is_honoured(scripted: Scripted) -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    h = scripted(httpx.Response(503, headers={"Retry-After": when}), ok(200))

    h.client.get_activity(ACTIVITY_ID)

    # HTTP-dates have whole-second resolution.
    assert len(h.sleeps) == 1 and 3.5 <= h.sleeps[0] <= 5.0


def test_retry_after_is_capped_by_backoff_max(scripted: Scripted) -> None:
    h = scripted(httpx.Response(429, headers={"Retry-After": "3600"}), ok(200), backoff_max=7.5)

    h.client.get_activity(ACTIVITY_ID)

    assert h.sleeps == [7.5]


def test_rate_limit_that_outlasts_the_retries_raises_with_retry_after(scripted: Scripted) -> None:
    limited = problem(429, "Too Many Requests")
    limited.headers["Retry-After"] = "7"
    h = scripted(limited, max_retries=2)

    with pytest.raises(RateLimitError) as caught:
        h.client.get_activity(ACTIVITY_ID)

    err = caught.value
    assert err.retry_after == 7.0
    assert err.status_code == 429
    assert err.problem is not None and err.problem.title == "Too Many Requests"
    assert err.retryable
    # max_retries=2 means three attempts in all, two waits between them.
    assert len(h.script.requests) == 3
    assert h.sleeps == [7.0, 7.0]
    assert "429" in str(err) and "retry after 7s" in str(err)


def test_server_errors_that_persist_raise_server_error(scripted: Scripted) -> None:
    h = scripted(problem(502, "Bad Gateway"), max_retries=1)

    with pytest.raises(ServerError) as caught:
        h.client.get_activity(ACTIVITY_ID)

    assert caught.value.status_code == 502
    assert len(h.script.requests) == 2


def test_timeouts_are_retried_then_reported_as_connection_errors(scripted: Scripted) -> None:
    h = scripted(httpx.ReadTimeout("timed out"), max_retries=3)

    with pytest.raises(RallyConnectionError) as caught:
        h.client.create_activity(CALL)

    assert len(h.script.requests) == 4
    assert len(h.sleeps) == 3
    assert "ReadTimeout" in str(caught.value)
    assert "4 attempts" in str(caught.value)
    assert caught.value.status_code is None


def test_a_timeout_then_success_returns_the_result(scripted: Scripted) -> None:
    h = scripted(httpx.ConnectTimeout("slow"), httpx.ConnectError("refused"), ok())

    assert h.client.create_activity(CALL).id == ACTIVITY_ID
    assert len(h.script.requests) == 3


def test_dropped_connection_after_commit_retries_with_the_same_key_and_body(
    scripted: Scripted,
) -> None:
    # The server "committed" the first request (the handler saw it), then the
    # connection died before any response came back.
    h = scripted(httpx.RemoteProtocolError("Server disconnected without sending a response."), ok())

    h.client.create_activity(CALL, idempotency_key=None)

    first, second = h.script.requests
    key = first.headers["Idempotency-Key"]
    assert uuid.UUID(key).version == 4
    assert second.headers["Idempotency-Key"] == key
    assert first.content == second.content


def test_every_post_gets_its_own_key_unless_the_caller_gives_one(scripted: Scripted) -> None:
    h = scripted(ok())

    h.client.create_activity(CALL)
    h.client.create_activity(CALL)
    h.client.create_activity(CALL, idempotency_key="job-42")
    h.client.get_activity(ACTIVITY_ID)

    keys = [r.headers.get("Idempotency-Key") for r in h.script.requests]
    assert keys[0] != keys[1]
    assert keys[2] == "job-42"
    assert keys[3] is None


@pytest.mark.parametrize(
    ("response", "error_type"),
    [
        (problem(400, "Validation failed", {"subject": ["must not be empty"]}), ValidationError),
        (problem(401, "Unauthorized"), AuthenticationError),
        (problem(403, "Forbidden"), AuthenticationError),
        (problem(404, "Not Found"), NotFoundError),
        (problem(409, "Conflict"), ConflictError),
        (problem(413, "Content Too Large"), ValidationError),
        (problem(422, "Idempotency-Key reused with a different body"), ConflictError),
        (problem(418, "I'm a teapot"), RallyError),
    ],
)
def test_other_4xx_are_not_retried_and_map_to_their_error(
    scripted: Scripted, response: httpx.Response, error_type: type[RallyError]
) -> None:
    h = scripted(response, ok())

    with pytest.raises(error_type) as caught:
        h.client.create_activity(CALL)

    assert type(caught.value) is error_type
    assert caught.value.status_code == response.status_code
    assert caught.value.problem is not None
    assert not caught.value.retryable
    assert len(h.script.requests) == 1
    assert h.sleeps == []


def test_validation_error_carries_field_errors_and_names_them(scripted: Scripted) -> None:
    errors = {
        "dueDate": ["applies only to task activities, not call"],
        "subject": ["must not be empty"],
    }
    h = scripted(problem(400, "Validation failed", errors))

    with pytest.raises(ValidationError) as caught:
        h.client.create_activity(CALL)

    err = caught.value
    assert err.field_errors == errors
    assert err.problem is not None and err.problem.errors == errors
    text = str(err)
    assert "POST /api/v1/activities" in text and "400" in text
    assert "dueDate: applies only to task activities, not call" in text
    assert "subject: must not be empty" in text


def test_error_without_a_problem_document_still_says_what_happened(scripted: Scripted) -> None:
    h = scripted(httpx.Response(502, text="<html>upstream down</html>"), max_retries=0)

    with pytest.raises(ServerError) as caught:
        h.client.get_activity(ACTIVITY_ID)

    assert caught.value.problem is None
    assert "Bad Gateway" in str(caught.value)


def test_max_retries_zero_means_a_single_attempt(scripted: Scripted) -> None:
    h = scripted(problem(503, "Service Unavailable"), ok(), max_retries=0)

    with pytest.raises(ServerError):
        h.client.create_activity(CALL)

    assert len(h.script.requests) == 1
    assert h.sleeps == []


def test_backoff_uses_full_jitter_within_the_exponential_ceiling(scripted: Scripted) -> None:
    base, cap, retries = 0.5, 3.0, 6
    runs = [
        scripted(
            problem(503, "Service Unavailable"),
            max_retries=retries,
            backoff_base=base,
            backoff_max=cap,
        )
        for _ in range(40)
    ]
    for h in runs:
        with pytest.raises(ServerError):
            h.client.get_activity(ACTIVITY_ID)
        assert len(h.sleeps) == retries
        for attempt, delay in enumerate(h.sleeps):
            assert 0 <= delay <= min(cap, base * 2**attempt)
    # Jitter: the draws differ, and late waits use more of the window than early ones.
    firsts = {h.sleeps[0] for h in runs}
    assert len(firsts) > 30
    assert max(h.sleeps[-1] for h in runs) > 1.0


def test_backoff_ceiling_is_reached_at_the_extremes_of_the_draw(scripted: Scripted) -> None:
    top = scripted(
        problem(500, "Internal"), max_retries=5, backoff_base=0.5, backoff_max=4.0, rand=lambda: 1.0
    )
    bottom = scripted(problem(500, "Internal"), max_retries=2, rand=lambda: 0.0)
    for h in (top, bottom):
        with pytest.raises(ServerError):
            h.client.get_activity(ACTIVITY_ID)

    assert top.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert bottom.sleeps == [0.0, 0.0]


def test_delete_whose_response_was_lost_counts_a_later_404_as_done(scripted: Scripted) -> None:
    h = scripted(httpx.ReadError("connection reset"), problem(404, "Not Found"))

    h.client.delete_activity(ACTIVITY_ID)

    assert [r.method for r in h.script.requests] == ["DELETE", "DELETE"]


def test_delete_of_an_unknown_id_is_not_found(scripted: Scripted) -> None:
    h = scripted(problem(404, "Not Found"))
    with pytest.raises(NotFoundError):
        h.client.delete_activity(ACTIVITY_ID)


def test_delete_404_after_a_refused_connection_is_still_not_found(scripted: Scripted) -> None:
    # A refused connection cannot have deleted anything.
    h = scripted(httpx.ConnectError("refused"), problem(404, "Not Found"))
    with pytest.raises(NotFoundError):
        h.client.delete_activity(ACTIVITY_ID)


def test_unexpected_response_body_is_a_rally_error(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json={"hello": "world"}))

    with pytest.raises(RallyError) as caught:
        h.client.get_activity(ACTIVITY_ID)

    assert "ActivityResponse" in str(caught.value)


def test_non_retryable_transport_errors_fail_at_once(scripted: Scripted) -> None:
    h = scripted(httpx.UnsupportedProtocol("no such scheme"))

    with pytest.raises(RallyConnectionError):
        h.client.get_activity(ACTIVITY_ID)
    assert len(h.script.requests) == 1


def test_the_api_key_is_sent_but_never_shown(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    h = scripted(httpx.ReadTimeout("timed out"), problem(401, "Unauthorized"))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthenticationError) as caught:
        h.client.get_activity(ACTIVITY_ID)

    assert h.script.requests[0].headers["X-Api-Key"] == FAKE_KEY
    assert h.script.requests[0].headers["User-Agent"].startswith("rally-slack-api-client/")
    shown = [repr(h.client), str(caught.value), repr(caught.value), caplog.text]
    assert all(FAKE_KEY not in text for text in shown)
    assert "rally_api.retry" in caplog.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("-4", 0.0),
        ("0", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: go now
    ],
)
def test_retry_after_parsing(header: str, expected: float | None) -> None:
    from api_client._retry import parse_retry_after

    assert parse_retry_after(header) == expected


def test_retry_after_http_date_is_relative_to_now() -> None:
    from api_client._retry import parse_retry_after

    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    now = email.utils.parsedate_to_datetime(date).timestamp() - 12
    assert parse_retry_after(date, now=lambda: now) == 12.0


def test_unreadable_retry_after_falls_back_to_backoff(scripted: Scripted) -> None:
    h = scripted(httpx.Response(429, headers={"Retry-After": "later"}), ok(200), rand=lambda: 1.0)

    h.client.get_activity(ACTIVITY_ID)

    assert h.sleeps == [0.5]


# -- unanswered creates, for a caller that reconciles before retrying -----------------------


@pytest.mark.parametrize(
    "unanswered",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")],
)
def test_an_unanswered_create_is_not_retried_when_the_caller_looks_first(
    scripted: Scripted, unanswered: httpx.TransportError
) -> None:
    h = scripted(unanswered, ok(), max_retries=3)

    with pytest.raises(RallyConnectionError) as caught:
        h.client.create_activity(CALL, retry_unanswered=False)

    assert len(h.script.requests) == 1 and h.sleeps == []
    assert caught.value.unanswered is True


def test_a_create_that_never_connected_is_still_retried_when_the_caller_looks_first(
    scripted: Scripted,
) -> None:
    h = scripted(httpx.ConnectError("refused"), problem(503, "Service Unavailable"), ok())

    assert h.client.create_activity(CALL, retry_unanswered=False).id == ACTIVITY_ID
    assert len(h.script.requests) == 3


def test_a_connection_error_says_whether_the_request_went_unanswered(scripted: Scripted) -> None:
    refused = scripted(httpx.ConnectError("refused"), max_retries=0)
    with pytest.raises(RallyConnectionError) as never_sent:
        refused.client.create_activity(CALL)
    dropped = scripted(httpx.ReadError("reset"), max_retries=0)
    with pytest.raises(RallyConnectionError) as sent:
        dropped.client.create_activity(CALL)
    assert (never_sent.value.unanswered, sent.value.unanswered) == (False, True)
