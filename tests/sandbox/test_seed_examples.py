"""Every example of the seed document round-trips through the models and the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from api_client.models import ActivityResponse, BulkCreateResponse, CreateActivityRequest
from tests.fixtures.sandbox import DEV_TENANT
from tests.sandbox import seed_examples as seed
from tests.sandbox.support import ACTIVITIES, AUTH, BULK


def _stable(activity: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in activity.items() if k not in seed.VOLATILE}


@pytest.mark.parametrize("name", sorted(seed.REQUESTS))
def test_request_example_round_trips_through_the_model(name: str) -> None:
    example = seed.REQUESTS[name]
    model = CreateActivityRequest.model_validate(example)
    assert model.model_dump(by_alias=True, exclude_unset=True, mode="json") == example


@pytest.mark.parametrize("example", [seed.CALL_ACTIVITY, seed.TASK_ACTIVITY], ids=["call", "task"])
def test_response_example_round_trips_through_the_model(example: dict[str, Any]) -> None:
    model = ActivityResponse.model_validate(example)
    assert model.model_dump(by_alias=True, mode="json") == example


def test_list_and_bulk_examples_round_trip_through_the_models() -> None:
    items = [ActivityResponse.model_validate(item) for item in seed.LIST_ACTIVITIES]
    assert [item.model_dump(by_alias=True, mode="json") for item in items] == seed.LIST_ACTIVITIES
    bulk = BulkCreateResponse.model_validate(seed.BULK_CREATE_RESPONSE)
    assert bulk.model_dump(by_alias=True, mode="json") == seed.BULK_CREATE_RESPONSE


@pytest.mark.parametrize("name", sorted(seed.EXPECTED_RESPONSES))
def test_curl_example_gives_the_example_response(sandbox_app: Flask, name: str) -> None:
    response = sandbox_app.test_client().post(ACTIVITIES, json=seed.REQUESTS[name], headers=AUTH)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    ActivityResponse.model_validate(body)
    expected = seed.EXPECTED_RESPONSES[name]
    assert list(body) == list(expected)  # every field, in the documented order
    assert _stable(body) == _stable(expected)
    assert body["tenantId"] == DEV_TENANT.tenant_id
    assert body["ownerId"] == DEV_TENANT.owner_id
    assert body["createdAt"] == body["updatedAt"]
    # The example's completedAt equals its createdAt: completed at creation.
    if expected["completedAt"] is None:
        assert body["completedAt"] is None
    else:
        assert body["completedAt"] == body["createdAt"]


def test_meeting_example_keeps_every_value_and_defaults_to_pending(sandbox_app: Flask) -> None:
    response = sandbox_app.test_client().post(
        ACTIVITIES, json=seed.SCHEDULE_A_MEETING, headers=AUTH
    )
    assert response.status_code == 201
    body = response.get_json()
    ActivityResponse.model_validate(body)
    for key, value in seed.SCHEDULE_A_MEETING.items():
        assert body[key] == value, key
    assert body["status"] == "pending"
    assert body["completedAt"] is None
    unset = set(seed.CALL_ACTIVITY) - set(seed.SCHEDULE_A_MEETING) - seed.VOLATILE - {"status"}
    assert all(body[key] is None for key in unset)


def test_list_example_is_what_listing_the_logged_call_returns(sandbox_app: Flask) -> None:
    client = sandbox_app.test_client()
    created = client.post(ACTIVITIES, json=seed.LOG_A_CALL, headers=AUTH).get_json()
    response = client.get(ACTIVITIES, headers=AUTH)
    assert response.status_code == 200
    listed = response.get_json()
    assert [_stable(item) for item in listed] == [_stable(i) for i in seed.LIST_ACTIVITIES]
    assert listed == [created]


def test_bulk_of_the_examples_gives_the_bulk_example_response(sandbox_app: Flask) -> None:
    items = [seed.LOG_A_CALL, seed.CREATE_A_TASK, seed.SCHEDULE_A_MEETING, seed.LOG_A_CALL]
    client = sandbox_app.test_client()
    response = client.post(BULK, json=items, headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    BulkCreateResponse.model_validate(body)
    expected = seed.BULK_CREATE_RESPONSE
    assert {k: v for k, v in body.items() if k != "createdIds"} == {
        k: v for k, v in expected.items() if k != "createdIds"
    }
    assert len(body["createdIds"]) == len(expected["createdIds"]) == len(set(body["createdIds"]))
    for request, activity_id in zip(items, body["createdIds"], strict=True):
        stored = client.get(f"{ACTIVITIES}/{activity_id}", headers=AUTH).get_json()
        assert {k: stored[k] for k in request} == request
