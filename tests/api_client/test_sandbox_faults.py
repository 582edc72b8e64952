"""The client against the sandbox's own fault injection (SPEC §5 flags), over a real socket."""

from __future__ import annotations

from collections.abc import Callable

import flask
import httpx
import pytest

from api_client import CreateActivityRequest, RallyClient, RateLimitError
from sandbox.app import DEV_API_KEY
from tests.api_client.test_against_sandbox import SANDBOX, Recorder

MakeApp = Callable[..., flask.Flask]
ServeApp = Callable[[flask.Flask], str]


def note(i: int) -> CreateActivityRequest:
    return CreateActivityRequest.model_validate({"activityType": "note", "subject": f"n{i}"})


def patient_client(
    base_url: str, transport: httpx.BaseTransport, sleeps: list[float]
) -> RallyClient:
    return RallyClient(
        base_url,
        DEV_API_KEY,
        timeout=5.0,
        max_retries=10,
        transport=transport,
        sleep=sleeps.append,
    )


@pytest.mark.parametrize("where", ["socket", "wsgi"])
@pytest.mark.parametrize("idempotency", [True, False])
def test_dropped_connections_after_commit(
    make_sandbox_app: MakeApp, serve_app: ServeApp, where: str, idempotency: bool
) -> None:
    app = make_sandbox_app(drop_rate=0.3, seed=11, idempotency=idempotency)
    if where == "socket":
        base_url, recorder = serve_app(app), Recorder(httpx.HTTPTransport())
    else:
        base_url, recorder = SANDBOX, Recorder(httpx.WSGITransport(app=app))
    sleeps: list[float] = []
    with patient_client(base_url, recorder, sleeps) as client:
        made = [client.create_activity(note(i)) for i in range(30)]
        stored = list(client.iter_activities())

    posts = [r for r in recorder.requests if r.method == "POST"]
    assert len(posts) > 30, "the seed should drop some creates"
    if idempotency:
        # Every lost response was retried with its key and replayed: nothing twice.
        assert sorted(a.id for a in stored) == sorted(a.id for a in made)
    else:
        # The control: a server that ignores the key stores a retried create again.
        assert len(stored) > 30


def test_bulk_through_dropped_connections_creates_each_item_once(
    make_sandbox_app: MakeApp, serve_app: ServeApp
) -> None:
    base_url = serve_app(make_sandbox_app(drop_rate=0.3, seed=5))
    with patient_client(base_url, httpx.HTTPTransport(), []) as client:
        result = client.bulk_create_activities([note(i) for i in range(250)])
        stored = {a.id: a.subject for a in client.iter_activities()}

    assert result.created == 250
    assert len(stored) == 250
    assert [stored[i] for i in result.created_ids] == [f"n{i}" for i in range(250)]


def test_injected_503s_are_retried_after_their_retry_after(
    make_sandbox_app: MakeApp, serve_app: ServeApp
) -> None:
    base_url = serve_app(make_sandbox_app(fail_rate=0.5, seed=3))
    sleeps: list[float] = []
    with patient_client(base_url, httpx.HTTPTransport(), sleeps) as client:
        for i in range(10):
            client.create_activity(note(i))
        assert len(client.list_activities()) == 10
    assert sleeps and set(sleeps) == {1.0}


def test_rate_limit_reports_when_to_come_back(
    make_sandbox_app: MakeApp, serve_app: ServeApp
) -> None:
    base_url = serve_app(make_sandbox_app(rate_limit=2))
    limited: list[RateLimitError] = []
    with RallyClient(base_url, DEV_API_KEY, max_retries=0) as client:
        for _ in range(10):
            try:
                client.list_activities(limit=1)
            except RateLimitError as exc:
                limited.append(exc)
    # 10 quick requests against 2 per second: most are refused, each saying when to retry.
    assert len(limited) >= 4
    assert all(exc.retry_after is not None and 0 < exc.retry_after <= 1 for exc in limited)
