"""What the client puts on the wire, checked with a recording MockTransport."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from api_client import (
    ActivityChanges,
    ActivityResponse,
    BulkActivityItem,
    CreateActivityRequest,
    PartialActivityResponse,
    RallyClient,
    RallyConnectionError,
    RallyError,
    UpdateActivityRequest,
    ValidationError,
)
from tests.api_client.conftest import ACTIVITY_ID, FAKE_KEY, Harness, activity_json, problem

Scripted = Callable[..., Harness]


def note(n: int, **extra: Any) -> CreateActivityRequest:
    return CreateActivityRequest.model_validate(
        {"activityType": "note", "subject": f"n{n}", **extra}
    )


def test_create_sends_only_the_fields_that_were_set(scripted: Scripted) -> None:
    h = scripted(httpx.Response(201, json=activity_json()))

    h.client.create_activity(
        CreateActivityRequest.model_validate(
            {
                "activityType": "task",
                "subject": "Send proposal",
                "dueDate": "2025-07-15T19:00:00+02:00",
            }
        )
    )

    (request,) = h.script.requests
    assert request.method == "POST"
    assert request.url.path == "/api/v1/activities"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "activityType": "task",
        "subject": "Send proposal",
        "dueDate": "2025-07-15T17:00:00Z",
    }


@pytest.mark.parametrize(
    "base_url",
    [
        "https://acme.rallycrm.test",
        "https://acme.rallycrm.test/",
        "https://acme.rallycrm.test/api/v1/",
    ],
)
def test_base_url_may_or_may_not_include_the_api_prefix(base_url: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=activity_json())

    with RallyClient(base_url, FAKE_KEY, transport=httpx.MockTransport(handler)) as client:
        client.get_activity(ACTIVITY_ID.upper())

    assert seen == [f"https://acme.rallycrm.test/api/v1/activities/{ACTIVITY_ID}"]


@pytest.mark.parametrize("bad_id", ["", "42", "../activities", f"{ACTIVITY_ID}/x"])
def test_ids_that_are_not_guids_are_refused_before_any_request(
    scripted: Scripted, bad_id: str
) -> None:
    h = scripted(httpx.Response(200, json=activity_json()))
    with pytest.raises(ValueError, match="GUID"):
        h.client.get_activity(bad_id)
    assert h.script.requests == []


def test_list_sends_its_parameters_in_wire_form(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json=[activity_json()]))
    since = datetime(2025, 6, 14, 17, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2)))

    items = h.client.list_activities(limit=10, offset=20, updated_since=since)

    assert [type(i) for i in items] == [ActivityResponse]
    params = h.script.requests[0].url.params
    assert dict(params) == {
        "limit": "10",
        "offset": "20",
        "updatedSince": "2025-06-14T15:30:00.250000Z",
    }


def test_list_with_fields_returns_partial_items(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json=[{"id": ACTIVITY_ID, "subject": "s", "dueDate": None}]))

    items = h.client.list_activities(fields=["subject", "due_date", "subject"])

    assert h.script.requests[0].url.params["fields"] == "subject,dueDate"
    assert items == [PartialActivityResponse(id=ACTIVITY_ID, subject="s", due_date=None)]


def test_list_refuses_naive_times_and_unknown_fields_without_a_request(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json=[]))

    with pytest.raises(ValueError, match="timezone-aware"):
        h.client.list_activities(updated_since=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="'colour'"):
        h.client.list_activities(fields=["subject", "colour"])
    with pytest.raises(ValueError, match="page_size"):
        h.client.iter_activities(page_size=101)
    with pytest.raises(ValueError, match="timezone-aware"):
        h.client.iter_activities(updated_since=datetime(2025, 1, 1))
    assert h.script.requests == []


def _paged_server(
    total: int, *, same_instant: int = 0
) -> Callable[[httpx.Request], httpx.Response]:
    """A tiny list endpoint: ``total`` activities, the first ``same_instant`` sharing one updatedAt."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    rows = []
    for i in range(total):
        when = start if i < same_instant else start + timedelta(seconds=i)
        rows.append(
            activity_json(
                id=f"00000000-0000-0000-0000-{i:012d}",
                updatedAt=when.isoformat().replace("+00:00", "Z"),
            )
        )

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        since = params.get("updatedSince")
        matching = [
            r
            for r in rows
            if since is None
            or datetime.fromisoformat(r["updatedAt"]) >= datetime.fromisoformat(since)
        ]
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 50))
        return httpx.Response(200, json=matching[offset : offset + limit])

    return handler


def test_iter_pages_until_a_short_page_and_sends_page_size_as_limit(scripted: Scripted) -> None:
    h = scripted(_paged_server(23))

    ids = [a.id for a in h.client.iter_activities(page_size=10)]

    assert ids == [f"00000000-0000-0000-0000-{i:012d}" for i in range(23)]
    assert len(h.script.requests) == 3
    assert {r.url.params["limit"] for r in h.script.requests} == {"10"}


def test_iter_asks_for_one_more_page_when_the_last_one_was_full(scripted: Scripted) -> None:
    h = scripted(_paged_server(20))

    assert len(list(h.client.iter_activities(page_size=10))) == 20
    assert len(h.script.requests) == 3


def test_iter_gets_through_many_activities_sharing_one_updated_at(scripted: Scripted) -> None:
    # A bulk import may stamp a whole chunk with one time; paging must still move on.
    h = scripted(_paged_server(35, same_instant=25))

    ids = [a.id for a in h.client.iter_activities(page_size=10)]

    assert ids == [f"00000000-0000-0000-0000-{i:012d}" for i in range(35)]


def test_iter_with_fields_also_asks_for_updated_at(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json=[{"id": ACTIVITY_ID, "subject": "s"}]))

    items = list(h.client.iter_activities(fields=["subject"], page_size=5))

    assert h.script.requests[0].url.params["fields"] == "subject,updatedAt"
    assert isinstance(items[0], PartialActivityResponse)


def test_iter_stops_a_server_that_ignores_paging(scripted: Scripted) -> None:
    same = [activity_json(id=f"00000000-0000-0000-0000-{i:012d}") for i in range(2)]
    h = scripted(httpx.Response(200, json=same))

    with pytest.raises(RallyError, match="same page twice"):
        list(h.client.iter_activities(page_size=2))


def test_change_reads_merges_the_set_fields_and_puts_the_whole_body(scripted: Scripted) -> None:
    current = activity_json(
        activityType="task",
        status="pending",
        completedAt=None,
        callDirection=None,
        callOutcome=None,
        callDurationSeconds=None,
        dueDate="2025-07-15T17:00:00Z",
        priority="high",
    )

    def put_echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={**current, **json.loads(request.content)})

    h = scripted(httpx.Response(200, json=current), put_echo)

    updated = h.client.change_activity(ACTIVITY_ID, ActivityChanges(status="completed", body=None))

    get, put = h.script.requests
    assert (get.method, put.method) == ("GET", "PUT")
    sent = json.loads(put.content)
    writable = {f.alias for f in UpdateActivityRequest.model_fields.values()}
    assert set(sent) == writable
    assert sent["status"] == "completed"
    assert sent["body"] is None  # explicit None clears
    assert sent["subject"] == current["subject"]  # untouched fields are kept
    assert sent["dueDate"] == "2025-07-15T17:00:00Z"
    assert sent["ownerId"] == current["ownerId"]
    assert "id" not in sent and "createdAt" not in sent
    assert updated.status == "completed"


@pytest.mark.parametrize(
    "changes",
    [
        {"priority": "urgent"},
        {"priority": "urgent", "due_date": None},
        UpdateActivityRequest.model_validate({"subject": "Renamed", "priority": "urgent"}),
    ],
)
def test_change_accepts_mappings_and_request_models(scripted: Scripted, changes: Any) -> None:
    current = activity_json(
        activityType="task",
        callDirection=None,
        callOutcome=None,
        callDurationSeconds=None,
        priority="low",
    )
    h = scripted(httpx.Response(200, json=current))

    h.client.change_activity(ACTIVITY_ID, changes)

    sent = json.loads(h.script.requests[1].content)
    assert sent["priority"] == "urgent"


def test_change_refuses_to_clear_the_subject_before_any_request(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json=activity_json()))
    with pytest.raises(ValueError, match="cannot be cleared"):
        h.client.change_activity(ACTIVITY_ID, {"subject": None})
    assert h.script.requests == []


def test_bulk_splits_into_chunks_of_100_with_derived_keys_and_merges(scripted: Scripted) -> None:
    def bulk(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)
        errors = [
            {"index": i, "errors": {"subject": ["bad"]}}
            for i, item in enumerate(items)
            if item["subject"] == "bad"
        ]
        ids = [
            f"00000000-0000-0000-0000-{int(item['subject'][1:]):012d}"
            for item in items
            if item["subject"] != "bad"
        ]
        return httpx.Response(
            200,
            json={
                "created": len(ids),
                "updated": 0,
                "failed": len(errors),
                "createdIds": ids,
                "errors": errors,
            },
        )

    h = scripted(bulk)
    requests = [note(i) for i in range(250)]
    requests[150] = note(0, subject="bad")

    result = h.client.bulk_create_activities(requests, idempotency_key="import-7")

    sizes = [len(json.loads(r.content)) for r in h.script.requests]
    assert sizes == [100, 100, 50]
    assert [r.headers["Idempotency-Key"] for r in h.script.requests] == [
        "import-7:0",
        "import-7:1",
        "import-7:2",
    ]
    assert (result.created, result.failed) == (249, 1)
    assert [e.index for e in result.errors] == [150]
    assert result.created_ids == [
        f"00000000-0000-0000-0000-{i:012d}" for i in range(250) if i != 150
    ]


def test_bulk_keeps_each_request_under_the_body_limit(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json={"created": 0}))
    big = "x" * 60_000  # 100 of these would be ~6 MB

    h.client.bulk_create_activities([note(i, body=big) for i in range(40)])

    sizes = [len(r.content) for r in h.script.requests]
    assert sum(len(json.loads(r.content)) for r in h.script.requests) == 40
    assert len(sizes) == 3
    assert all(size <= 1_000_000 for size in sizes)


def test_bulk_sends_mappings_as_given_and_upsert_items_with_their_id(scripted: Scripted) -> None:
    h = scripted(httpx.Response(200, json={"created": 1, "updated": 1}))
    upsert = BulkActivityItem.model_validate(
        {"id": ACTIVITY_ID, "activityType": "note", "subject": "s"}
    )

    h.client.bulk_create_activities([upsert, {"activityType": "note", "subject": ""}])

    assert json.loads(h.script.requests[0].content) == [
        {"id": ACTIVITY_ID, "activityType": "note", "subject": "s"},
        {"activityType": "note", "subject": ""},
    ]


def test_bulk_of_nothing_sends_nothing(scripted: Scripted) -> None:
    h = scripted(httpx.Response(500))
    assert h.client.bulk_create_activities([]).created == 0
    assert h.script.requests == []


def test_a_failed_bulk_chunk_says_which_items_were_already_sent(scripted: Scripted) -> None:
    h = scripted(
        httpx.Response(200, json={"created": 100}),
        problem(400, "Validation failed", {"activities": ["too many"]}),
    )
    with pytest.raises(ValidationError) as caught:
        h.client.bulk_create_activities([note(i) for i in range(150)])
    assert any("items 100..149" in n for n in caught.value.__notes__)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_never_answers_times_out_for_real(silent_server: str) -> None:
    sleeps: list[float] = []
    with (
        RallyClient(
            silent_server, FAKE_KEY, timeout=0.2, max_retries=1, sleep=sleeps.append
        ) as client,
        pytest.raises(RallyConnectionError, match="ReadTimeout"),
    ):
        client.get_activity(ACTIVITY_ID)
    assert len(sleeps) == 1


def test_update_is_one_put_of_the_whole_request(scripted: Scripted) -> None:
    current = activity_json(
        activityType="note",
        callDirection=None,
        callOutcome=None,
        callDurationSeconds=None,
        body="old",
    )
    h = scripted(httpx.Response(200, json=current))
    h.client.update_activity(ACTIVITY_ID, {"subject": "Only this"})
    [put] = h.script.requests
    assert put.method == "PUT"
    sent = json.loads(put.content)
    assert sent["subject"] == "Only this"
    assert sent["body"] is None  # replace: what is omitted becomes null


def test_merge_is_pure_and_keeps_what_the_change_does_not_name() -> None:
    from api_client import ActivityResponse, merge

    current = ActivityResponse.model_validate(
        activity_json(
            activityType="task",
            callDirection=None,
            callOutcome=None,
            callDurationSeconds=None,
            priority="low",
            body="keep me",
            status="pending",
            completedAt=None,
        )
    )
    body = merge(current, ActivityChanges(status="completed"))
    assert (body.status, body.body, body.priority) == ("completed", "keep me", "low")
    assert current.status == "pending"  # the activity itself is untouched
