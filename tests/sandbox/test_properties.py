"""Property: any valid request survives model -> JSON -> sandbox -> response intact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api_client.models import (
    BODY_MAX,
    SHORT_TEXT_MAX,
    TYPE_SPECIFIC_FIELDS,
    ActivityResponse,
    ActivityType,
    CallDirection,
    CreateActivityRequest,
    Priority,
    Status,
)
from sandbox.app import MAX_BODY_BYTES
from tests.fixtures.sandbox import DEV_TENANT
from tests.sandbox.support import ACTIVITIES, AUTH, BULK

guids = st.uuids().map(str) | st.from_regex(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", fullmatch=True
)
zones = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-14 * 60, 14 * 60)
) | st.just(UTC)
moments = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=zones
)
texts = st.text(max_size=200)
non_blank = st.text(min_size=1, max_size=120).filter(lambda s: s.strip())
urls = st.from_regex(
    r"https?://[a-z0-9]([a-z0-9.-]{0,30})(:[0-9]{2,5})?(/[A-Za-z0-9_~%-]{0,20}){0,3}",
    fullmatch=True,
)


def _longest(seed: str) -> str:
    """A body of exactly the maximum length, which hypothesis cannot draw directly."""
    return (seed * (BODY_MAX // len(seed) + 1))[:BODY_MAX]


COMMON: dict[str, st.SearchStrategy[Any]] = {
    "body": st.none() | texts | st.text(min_size=1, max_size=8).map(_longest),
    "contactId": st.none() | guids,
    "companyId": st.none() | guids,
    "dealId": st.none() | guids,
    "scheduledAt": st.none() | moments,
    "status": st.none() | st.sampled_from(Status),
    "ownerId": st.none() | guids,
}
SPECIFIC: dict[str, st.SearchStrategy[Any]] = {
    "callDirection": st.none() | st.sampled_from(CallDirection),
    "callOutcome": st.none() | non_blank.map(lambda s: s[:100]),
    "callDurationSeconds": st.none() | st.integers(0, 7 * 24 * 3600),
    "durationMinutes": st.none() | st.integers(0, 7 * 24 * 60),
    "location": st.none() | st.text(max_size=SHORT_TEXT_MAX),
    "meetingUrl": st.none() | urls,
    "dueDate": st.none() | moments,
    "priority": st.none() | st.sampled_from(Priority),
}
WIRE = {name: field.alias or name for name, field in CreateActivityRequest.model_fields.items()}


@st.composite
def create_requests(draw: st.DrawFn) -> CreateActivityRequest:
    activity_type = draw(st.sampled_from(ActivityType))
    own = [WIRE[f] for f, t in TYPE_SPECIFIC_FIELDS.items() if t == activity_type]
    candidates = {**COMMON, **{name: SPECIFIC[name] for name in own}}
    chosen = draw(st.sets(st.sampled_from(sorted(candidates))))
    data: dict[str, Any] = {
        "activityType": activity_type,
        "subject": draw(st.text(min_size=1, max_size=500).filter(lambda s: s.strip())),
    }
    for name in sorted(chosen):
        data[name] = draw(candidates[name])
    return CreateActivityRequest.model_validate(data)


def _expected(request: CreateActivityRequest) -> dict[str, Any]:
    """What the response must say: the request's values plus the documented defaults."""
    sent = request.model_dump(by_alias=True, mode="json")
    sent["status"] = sent["status"] or "pending"
    sent["ownerId"] = sent["ownerId"] or DEV_TENANT.owner_id
    return sent


def _check(request: CreateActivityRequest, activity: dict[str, Any]) -> None:
    ActivityResponse.model_validate(activity)
    expected = _expected(request)
    assert {k: activity[k] for k in expected} == expected
    assert activity["tenantId"] == DEV_TENANT.tenant_id
    completed = activity["status"] == "completed"
    assert (activity["completedAt"] is not None) == completed


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=create_requests())
def test_any_valid_create_survives_the_round_trip(
    sandbox_app: Flask, request: CreateActivityRequest
) -> None:
    client = sandbox_app.test_client()
    wire = request.model_dump(by_alias=True, exclude_unset=True, mode="json")
    response = client.post(ACTIVITIES, json=wire, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    _check(request, created)
    assert client.get(f"{ACTIVITIES}/{created['id']}", headers=AUTH).get_json() == created


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests=st.lists(create_requests(), max_size=12))
def test_any_valid_batch_survives_bulk(
    sandbox_app: Flask, requests: list[CreateActivityRequest]
) -> None:
    client = sandbox_app.test_client()
    items = [r.model_dump(by_alias=True, exclude_unset=True, mode="json") for r in requests]
    encoded = json.dumps(items).encode()
    response = client.post(BULK, data=encoded, headers={**AUTH, "Content-Type": "application/json"})
    if len(encoded) > MAX_BODY_BYTES:  # a dozen 64 KiB bodies can pass the 1 MiB limit
        assert response.status_code == 413
        return
    body = response.get_json()
    assert (body["created"], body["failed"], body["errors"]) == (len(items), 0, [])
    for request, activity_id in zip(requests, body["createdIds"], strict=True):
        _check(request, client.get(f"{ACTIVITIES}/{activity_id}", headers=AUTH).get_json())
