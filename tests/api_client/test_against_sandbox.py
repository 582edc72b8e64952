"""The client against the real sandbox: in-process (WSGITransport) and over a loopback socket."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import httpx
import pytest

from api_client import (
    ActivityChanges,
    ActivityResponse,
    ActivityType,
    AuthenticationError,
    BulkActivityItem,
    ConflictError,
    CreateActivityRequest,
    NotFoundError,
    PartialActivityResponse,
    RallyClient,
    UpdateActivityRequest,
    ValidationError,
)
from sandbox.app import DEV_API_KEY
from tests.fixtures.sandbox import OTHER_API_KEY

SANDBOX = "http://sandbox.test"


def request(**fields: Any) -> CreateActivityRequest:
    return CreateActivityRequest.model_validate(fields)


CALL = request(
    activityType="call",
    subject="Discovery call with Sarah Chen",
    body="Discussed enterprise licensing needs and timeline",
    contactId="d290f1ee-6c54-4b01-90e6-d701748f0851",
    dealId="c8f9a0b1-2d3e-4f56-7890-abcdef123456",
    callDirection="outbound",
    callOutcome="connected",
    callDurationSeconds=1800,
    status="completed",
)
TASK = request(
    activityType="task",
    subject="Send proposal to Acme Corp",
    body="Include enterprise pricing and implementation timeline",
    dueDate="2025-07-15T17:00:00Z",
    priority="high",
)


def in_process(app: flask.Flask, key: str = DEV_API_KEY, **kwargs: Any) -> RallyClient:
    kwargs.setdefault("sleep", lambda _: None)
    return RallyClient(SANDBOX, key, transport=httpx.WSGITransport(app=app), **kwargs)


class Recorder(httpx.BaseTransport):
    """Passes requests to another transport and keeps them, to count and inspect."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(params=["wsgi", "socket"])
def rally(request: pytest.FixtureRequest) -> Iterator[tuple[RallyClient, Recorder]]:
    """A client of a fresh sandbox, in-process and over a real loopback socket."""
    if request.param == "wsgi":
        base_url = SANDBOX
        recorder = Recorder(httpx.WSGITransport(app=request.getfixturevalue("sandbox_app")))
    else:
        base_url = request.getfixturevalue("sandbox_url")
        recorder = Recorder(httpx.HTTPTransport())
    with RallyClient(base_url, DEV_API_KEY, timeout=5.0, transport=recorder) as client:
        yield client, recorder


@pytest.fixture
def app_client(sandbox_app: flask.Flask) -> Iterator[RallyClient]:
    with in_process(sandbox_app) as client:
        yield client


# -- CRUD ---------------------------------------------------------------------------------


def test_create_get_update_delete_round_trip(rally: tuple[RallyClient, Recorder]) -> None:
    rally, _ = rally
    created = rally.create_activity(CALL)

    assert isinstance(created, ActivityResponse)
    assert created.subject == CALL.subject
    assert created.call_duration_seconds == 1800
    assert created.status == "completed" and created.completed_at is not None
    assert rally.get_activity(created.id) == created

    updated = rally.change_activity(created.id, ActivityChanges(subject="Follow-up call"))
    assert updated.subject == "Follow-up call"
    assert updated.updated_at >= created.updated_at
    assert rally.get_activity(created.id) == updated

    rally.delete_activity(created.id)
    with pytest.raises(NotFoundError) as caught:
        rally.get_activity(created.id)
    assert caught.value.status_code == 404
    with pytest.raises(NotFoundError):
        rally.delete_activity(created.id)


def test_update_changes_only_what_was_set_though_put_replaces(app_client: RallyClient) -> None:
    task = app_client.create_activity(TASK)

    done = app_client.change_activity(task.id, ActivityChanges(status="completed"))

    assert done.status == "completed" and done.completed_at is not None
    unchanged = (
        "subject",
        "body",
        "due_date",
        "priority",
        "owner_id",
        "created_at",
        "activity_type",
    )
    for name in unchanged:
        assert getattr(done, name) == getattr(task, name), name

    cleared = app_client.change_activity(task.id, {"body": None, "status": "pending"})
    assert cleared.body is None
    assert cleared.status == "pending" and cleared.completed_at is None
    assert cleared.due_date == task.due_date


def test_a_full_update_request_also_merges(app_client: RallyClient) -> None:
    task = app_client.create_activity(TASK)

    result = app_client.change_activity(
        task.id, UpdateActivityRequest.model_validate({"subject": "New subject"})
    )

    assert (result.subject, result.priority, result.body) == ("New subject", "high", task.body)


def test_update_with_a_field_of_another_type_names_the_field(app_client: RallyClient) -> None:
    call = app_client.create_activity(CALL)

    with pytest.raises(ValidationError) as caught:
        app_client.change_activity(call.id, {"dueDate": "2025-07-15T17:00:00Z"})

    assert "dueDate" in caught.value.field_errors
    assert "dueDate" in str(caught.value)


def test_server_side_validation_reports_the_field(app_client: RallyClient) -> None:
    bad = CreateActivityRequest.model_construct(activity_type=ActivityType.NOTE, subject="   ")

    with pytest.raises(ValidationError) as caught:
        app_client.create_activity(bad)

    assert caught.value.status_code == 400
    assert "subject" in caught.value.field_errors


def test_unknown_key_is_an_authentication_error(sandbox_app: flask.Flask) -> None:
    with (
        in_process(sandbox_app, key="rk_test_unknown_not_real") as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.list_activities()
    assert caught.value.status_code == 401


def test_tenants_cannot_see_each_others_activities(sandbox_app: flask.Flask) -> None:
    with in_process(sandbox_app) as mine, in_process(sandbox_app, key=OTHER_API_KEY) as theirs:
        created = mine.create_activity(TASK)

        with pytest.raises(NotFoundError):
            theirs.get_activity(created.id)
        with pytest.raises(NotFoundError):
            theirs.change_activity(created.id, {"subject": "hijack"})
        with pytest.raises(NotFoundError):
            theirs.delete_activity(created.id)
        assert theirs.list_activities() == []
        assert mine.get_activity(created.id).subject == TASK.subject
        assert mine.get_activity(created.id).tenant_id != theirs.create_activity(TASK).tenant_id


# -- lists --------------------------------------------------------------------------------


def test_list_parameters_reach_the_server(app_client: RallyClient) -> None:
    made = [
        app_client.create_activity(request(activityType="note", subject=f"n{i}")) for i in range(7)
    ]

    everything = app_client.list_activities()
    assert [a.id for a in everything] == [a.id for a in made]  # ordered by updatedAt, id

    window = app_client.list_activities(limit=3, offset=2)
    assert [a.id for a in window] == [a.id for a in made[2:5]]

    since = app_client.list_activities(updated_since=made[4].updated_at)
    assert [a.id for a in since] == [a.id for a in made[4:]]  # inclusive

    future = datetime.now(UTC) + timedelta(days=1)
    assert app_client.list_activities(updated_since=future) == []


def test_list_with_fields_returns_only_those_fields(app_client: RallyClient) -> None:
    task = app_client.create_activity(TASK)

    (item,) = app_client.list_activities(fields=["subject", "dueDate"])

    assert isinstance(item, PartialActivityResponse)
    assert item.model_fields_set == {"id", "subject", "due_date"}
    assert (item.id, item.subject, item.due_date) == (task.id, task.subject, task.due_date)


def test_list_parameter_the_server_refuses_is_a_validation_error(app_client: RallyClient) -> None:
    with pytest.raises(ValidationError) as caught:
        app_client.list_activities(limit=500)
    assert "limit" in caught.value.field_errors


def test_iter_activities_pages_through_everything(rally: tuple[RallyClient, Recorder]) -> None:
    client, recorder = rally
    client.bulk_create_activities(
        [request(activityType="note", subject=f"n{i}") for i in range(23)]
    )

    items = list(client.iter_activities(page_size=5))
    pages = [r for r in recorder.requests if r.method == "GET"]

    assert sorted(a.subject for a in items) == sorted(f"n{i}" for i in range(23))
    assert len({a.id for a in items}) == 23
    # Each page after the first starts on the last item seen (keyset paging that cannot
    # skip while others write): 5+4+4+4+4 new, then a short page of 3 (2 new) ends it.
    assert len(pages) == 6
    assert {r.url.params["limit"] for r in pages} == {"5"}


def test_iter_activities_with_fields_and_since(app_client: RallyClient) -> None:
    first = app_client.create_activity(request(activityType="note", subject="old"))
    later = [
        app_client.create_activity(request(activityType="note", subject=f"new{i}"))
        for i in range(4)
    ]

    items = list(
        app_client.iter_activities(
            updated_since=later[0].updated_at, fields=["subject"], page_size=2
        )
    )

    assert [i.subject for i in items] == ["new0", "new1", "new2", "new3"]
    assert first.id not in {i.id for i in items}


def test_iter_sees_an_activity_updated_while_paging(app_client: RallyClient) -> None:
    made = [
        app_client.create_activity(request(activityType="note", subject=f"n{i}")) for i in range(6)
    ]
    seen: list[str] = []
    for item in app_client.iter_activities(page_size=2):
        seen.append(item.subject)
        if item.subject == "n2":
            # Moves n0 (already seen) to the end: with plain offsets n3 would be skipped.
            app_client.change_activity(made[0].id, {"subject": "n0 again"})

    assert seen == ["n0", "n1", "n2", "n3", "n4", "n5", "n0 again"]


# -- bulk ---------------------------------------------------------------------------------


def test_bulk_of_250_goes_in_three_chunks_and_reports_the_bad_item_by_its_index(
    rally: tuple[RallyClient, Recorder],
) -> None:
    client, recorder = rally
    items: list[Any] = [request(activityType="note", subject=f"item {i}") for i in range(250)]
    items[150] = {"activityType": "note", "subject": "bad", "dueDate": "2025-07-15T17:00:00Z"}

    result = client.bulk_create_activities(items, idempotency_key="bulk-test")

    posts = [r for r in recorder.requests if r.method == "POST"]
    assert [r.headers["Idempotency-Key"] for r in posts] == [
        "bulk-test:0",
        "bulk-test:1",
        "bulk-test:2",
    ]
    assert (result.created, result.updated, result.failed) == (249, 0, 1)
    (error,) = result.errors
    assert error.index == 150 and "dueDate" in error.errors
    stored = {a.id: a.subject for a in client.iter_activities()}
    assert [stored[i] for i in result.created_ids] == [f"item {i}" for i in range(250) if i != 150]


def test_bulk_again_with_the_same_key_does_not_create_twice(app_client: RallyClient) -> None:
    items = [request(activityType="note", subject=f"n{i}") for i in range(120)]

    first = app_client.bulk_create_activities(items, idempotency_key="import-1")
    again = app_client.bulk_create_activities(items, idempotency_key="import-1")

    assert again.created_ids == first.created_ids
    assert len(list(app_client.iter_activities())) == 120


def test_bulk_item_with_an_existing_id_updates_it(app_client: RallyClient) -> None:
    task = app_client.create_activity(TASK)
    upsert = BulkActivityItem.model_validate(
        {"id": task.id, "activityType": "task", "subject": "Renamed by bulk"}
    )

    result = app_client.bulk_create_activities(
        [upsert, request(activityType="note", subject="new")]
    )

    assert (result.created, result.updated) == (1, 1)
    assert app_client.get_activity(task.id).subject == "Renamed by bulk"


# -- idempotency and dropped connections --------------------------------------------------


class DropFirstResponse(Recorder):
    """Lets the server handle (and commit) a request, then loses the response."""

    def __init__(self, inner: httpx.BaseTransport, drops: int = 1) -> None:
        super().__init__(inner)
        self.drops = drops
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        if request.method == "POST":
            self.seen.append(request)
            if self.drops > 0:
                self.drops -= 1
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return response


def test_a_create_whose_response_was_lost_is_not_duplicated(sandbox_app: flask.Flask) -> None:
    transport = DropFirstResponse(httpx.WSGITransport(app=sandbox_app))
    with RallyClient(SANDBOX, DEV_API_KEY, transport=transport, sleep=lambda _: None) as client:
        created = client.create_activity(TASK)

        assert len(transport.seen) == 2
        assert len({r.headers["Idempotency-Key"] for r in transport.seen}) == 1
        assert [a.id for a in client.list_activities()] == [created.id]


def test_without_an_honoured_key_the_same_loss_duplicates(
    make_sandbox_app: Callable[..., flask.Flask],
) -> None:
    # The control for the test above: the key, not luck, prevents the duplicate.
    app = make_sandbox_app(idempotency=False)
    transport = DropFirstResponse(httpx.WSGITransport(app=app))
    with RallyClient(SANDBOX, DEV_API_KEY, transport=transport, sleep=lambda _: None) as client:
        client.create_activity(TASK)
        assert len(client.list_activities()) == 2


def test_reusing_a_key_for_a_different_body_is_a_conflict(app_client: RallyClient) -> None:
    app_client.create_activity(TASK, idempotency_key="once")

    with pytest.raises(ConflictError) as caught:
        app_client.create_activity(CALL, idempotency_key="once")

    assert caught.value.status_code == 422
    assert len(app_client.list_activities()) == 1
