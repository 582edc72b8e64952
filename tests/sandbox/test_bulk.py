"""POST /api/v1/activities/bulk: partial success, the 100 limit, upsert by id."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api_client.models import BulkCreateResponse
from tests.sandbox.support import ACTIVITIES, AUTH, BULK, assert_problem, note


@pytest.fixture
def client(sandbox_app: Flask) -> FlaskClient:
    return sandbox_app.test_client()


def _bulk(client: FlaskClient, payload: Any) -> dict[str, Any]:
    response = client.post(BULK, json=payload, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    BulkCreateResponse.model_validate(body)
    return body


def _all(client: FlaskClient) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = client.get(f"{ACTIVITIES}?limit=100", headers=AUTH).get_json()
    return result


@pytest.mark.parametrize("wrap", [False, True], ids=["array", "object"])
def test_bulk_creates_in_request_order(client: FlaskClient, wrap: bool) -> None:
    items = [note(f"n{i}") for i in range(5)]
    body = _bulk(client, {"activities": items} if wrap else items)
    assert body == {
        "created": 5,
        "updated": 0,
        "failed": 0,
        "createdIds": body["createdIds"],
        "errors": [],
    }
    subjects = [
        client.get(f"{ACTIVITIES}/{i}", headers=AUTH).get_json()["subject"]
        for i in body["createdIds"]
    ]
    assert subjects == [f"n{i}" for i in range(5)]
    # Written in order, each strictly later than the one before.
    assert [a["subject"] for a in _all(client)] == subjects


def test_invalid_items_are_reported_and_the_rest_created(client: FlaskClient) -> None:
    items = [
        note("ok 0"),
        note("", priority="high"),
        "not an object",
        {"activityType": "call", "subject": "ok 3", "callDirection": "outbound"},
        note("ok 4", colour="blue"),
    ]
    body = _bulk(client, items)
    assert (body["created"], body["updated"], body["failed"]) == (2, 0, 3)
    errors = {e["index"]: e["errors"] for e in body["errors"]}
    assert sorted(errors) == [1, 2, 4]
    assert set(errors[1]) == {"subject", "priority"}
    assert set(errors[2]) == {"$"}
    assert set(errors[4]) == {"colour"}
    assert [a["subject"] for a in _all(client)] == ["ok 0", "ok 3"]


def test_more_than_100_items_is_400_and_nothing_is_created(client: FlaskClient) -> None:
    for payload in ([note()] * 101, {"activities": [note()] * 101}):
        response = client.post(BULK, json=payload, headers=AUTH)
        problem = assert_problem(response, 400)
        assert problem["errors"], problem
        assert "100" in problem["detail"]
    assert _all(client) == []


def test_exactly_100_items_are_created(client: FlaskClient) -> None:
    body = _bulk(client, [note(f"n{i}") for i in range(100)])
    assert body["created"] == 100
    assert len(set(body["createdIds"])) == 100


def test_an_empty_list_creates_nothing(client: FlaskClient) -> None:
    assert _bulk(client, []) == {
        "created": 0,
        "updated": 0,
        "failed": 0,
        "createdIds": [],
        "errors": [],
    }


def test_an_item_with_an_existing_id_updates_it(client: FlaskClient) -> None:
    existing = client.post(
        ACTIVITIES, json={"activityType": "task", "subject": "old", "priority": "low"}, headers=AUTH
    ).get_json()
    items = [
        note("new one"),
        {"id": existing["id"], "activityType": "task", "subject": "renamed", "status": "completed"},
    ]
    body = _bulk(client, items)
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 0)
    assert existing["id"] not in body["createdIds"]
    updated = client.get(f"{ACTIVITIES}/{existing['id']}", headers=AUTH).get_json()
    assert updated["subject"] == "renamed"
    assert updated["priority"] is None  # replaced, as PUT does
    assert updated["status"] == "completed" and updated["completedAt"] == updated["updatedAt"]
    assert updated["createdAt"] == existing["createdAt"]


def test_an_upsert_cannot_change_the_type(client: FlaskClient) -> None:
    existing = client.post(ACTIVITIES, json=note(), headers=AUTH).get_json()
    body = _bulk(client, [{"id": existing["id"], "activityType": "call", "subject": "x"}])
    assert body["failed"] == 1
    assert set(body["errors"][0]["errors"]) == {"activityType"}


def test_an_unknown_id_is_an_item_error(client: FlaskClient) -> None:
    body = _bulk(client, [note(id="d290f1ee-6c54-4b01-90e6-d701748f0851"), note("fine")])
    assert (body["created"], body["failed"]) == (1, 1)
    assert body["errors"] == [
        {"index": 0, "errors": {"id": [body["errors"][0]["errors"]["id"][0]]}}
    ]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"activities": [], "dryRun": True}, "dryRun"),
        ({"activities": "all"}, "activities"),
        ({}, "activities"),
        ({"items": []}, "items"),
        (42, "$"),
    ],
)
def test_a_misshapen_bulk_document_is_400_naming_it(
    client: FlaskClient, payload: Any, field: str
) -> None:
    assert_problem(client.post(BULK, json=payload, headers=AUTH), 400, field)
