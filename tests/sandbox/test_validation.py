"""The validation matrix: each rule of SPEC §5 that rejects a request, one case per rule.

Every case checks the status, that the answer is an RFC 9457 problem document, and that
``errors`` names what was wrong by its wire name (``$`` is the document as a whole).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api_client.models import TYPE_SPECIFIC_FIELDS, ActivityType
from tests.sandbox.support import ACTIVITIES, AUTH, BULK, assert_problem, note

GOOD_GUID = "d290f1ee-6c54-4b01-90e6-d701748f0851"
WIRE = {
    "call_direction": ("callDirection", "inbound"),
    "call_outcome": ("callOutcome", "connected"),
    "call_duration_seconds": ("callDurationSeconds", 60),
    "duration_minutes": ("durationMinutes", 30),
    "location": ("location", "Room B"),
    "meeting_url": ("meetingUrl", "https://meet.example.com/x"),
    "due_date": ("dueDate", "2025-07-15T17:00:00Z"),
    "priority": ("priority", "high"),
}


@pytest.fixture
def client(sandbox_app: Flask) -> FlaskClient:
    return sandbox_app.test_client()


def _created(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(ACTIVITIES, json=body, headers=AUTH)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


# -- auth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": ""}, {"X-Api-Key": "rk_live_nope"}])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ACTIVITIES),
        ("POST", ACTIVITIES),
        ("POST", BULK),
        ("GET", f"{ACTIVITIES}/{GOOD_GUID}"),
        ("PUT", f"{ACTIVITIES}/{GOOD_GUID}"),
        ("DELETE", f"{ACTIVITIES}/{GOOD_GUID}"),
    ],
)
def test_missing_or_unknown_api_key_is_401(
    client: FlaskClient, method: str, path: str, headers: dict[str, str]
) -> None:
    response = client.open(path, method=method, json=note(), headers=headers)
    assert_problem(response, 401, "X-Api-Key")
    assert "WWW-Authenticate" in response.headers


# -- create: fields -----------------------------------------------------------------------

INVALID_CREATE_BODIES = {
    "activityType missing": ({"subject": "x"}, "activityType"),
    "activityType unknown": (note(activityType="email"), "activityType"),
    "activityType null": (note(activityType=None), "activityType"),
    "subject missing": ({"activityType": "note"}, "subject"),
    "subject blank": (note(subject="   "), "subject"),
    "subject too long": (note(subject="x" * 501), "subject"),
    "subject too long as sent": (note(subject=" " + "x" * 500), "subject"),
    "subject only Unicode white space": (note(subject="\u3000\x85\u2028"), "subject"),
    "subject not a string": (note(subject=42), "subject"),
    "body too long": (note(body="x" * 65_537), "body"),
    "contactId not a GUID": (note(contactId="12345"), "contactId"),
    "companyId not a GUID": (note(companyId="b5c7e1a2-3d4f-5678-9abc"), "companyId"),
    "dealId not a GUID": (note(dealId=GOOD_GUID + "0"), "dealId"),
    "ownerId not a GUID": (note(ownerId="owner-1"), "ownerId"),
    "scheduledAt without zone": (note(scheduledAt="2025-07-20T14:00:00"), "scheduledAt"),
    "scheduledAt not a time": (note(scheduledAt="next tuesday"), "scheduledAt"),
    "scheduledAt a number": (note(scheduledAt=1752000000), "scheduledAt"),
    "scheduledAt a Unix time string": (note(scheduledAt="1752000000"), "scheduledAt"),
    "scheduledAt a date only": (note(scheduledAt="2025-07-20"), "scheduledAt"),
    "scheduledAt out of range in UTC": (
        note(scheduledAt="0001-01-01T00:00:00+01:00"),
        "scheduledAt",
    ),
    "dueDate without zone": (
        {"activityType": "task", "subject": "x", "dueDate": "2025-07-15T17:00:00"},
        "dueDate",
    ),
    "priority unknown": ({"activityType": "task", "subject": "x", "priority": "asap"}, "priority"),
    "status unknown": (note(status="done"), "status"),
    "callDirection unknown": (
        {"activityType": "call", "subject": "x", "callDirection": "sideways"},
        "callDirection",
    ),
    "callDurationSeconds negative": (
        {"activityType": "call", "subject": "x", "callDurationSeconds": -1},
        "callDurationSeconds",
    ),
    "callDurationSeconds a string": (
        {"activityType": "call", "subject": "x", "callDurationSeconds": "60"},
        "callDurationSeconds",
    ),
    "callDurationSeconds a fraction": (  # 60.0 is fine: JSON Schema's integers include it
        {"activityType": "call", "subject": "x", "callDurationSeconds": 1.5},
        "callDurationSeconds",
    ),
    "durationMinutes negative": (
        {"activityType": "meeting", "subject": "x", "durationMinutes": -5},
        "durationMinutes",
    ),
    "meetingUrl not http": (
        {"activityType": "meeting", "subject": "x", "meetingUrl": "ftp://files.example.com"},
        "meetingUrl",
    ),
    "meetingUrl with a space": (
        {"activityType": "meeting", "subject": "x", "meetingUrl": "https://meet.example.com/a b"},
        "meetingUrl",
    ),
    "meetingUrl with a bracket in the host": (
        {"activityType": "meeting", "subject": "x", "meetingUrl": "http://[::1"},
        "meetingUrl",
    ),
    "meetingUrl relative": (
        {"activityType": "meeting", "subject": "x", "meetingUrl": "/join/abc"},
        "meetingUrl",
    ),
    "unknown field": (note(colour="blue"), "colour"),
    "snake_case name": ({"activity_type": "note", "subject": "x"}, "activity_type"),
    "read-only field": (note(tenantId=GOOD_GUID), "tenantId"),
    "id on single create": (note(id=GOOD_GUID), "id"),
}


@pytest.mark.parametrize("case", sorted(INVALID_CREATE_BODIES))
def test_invalid_field_on_create_is_400_naming_it(client: FlaskClient, case: str) -> None:
    body, field = INVALID_CREATE_BODIES[case]
    response = client.post(ACTIVITIES, json=body, headers=AUTH)
    problem = assert_problem(response, 400, field)
    assert field in problem["detail"]


def test_every_bad_field_is_named_at_once(client: FlaskClient) -> None:
    body = {"activityType": "call", "subject": "", "callDirection": "up", "extra": 1}
    response = client.post(ACTIVITIES, json=body, headers=AUTH)
    assert_problem(response, 400, "subject", "callDirection", "extra")


TYPE_MISMATCHES = [
    (field, other)
    for field, owner in TYPE_SPECIFIC_FIELDS.items()
    for other in ActivityType
    if other != owner
]


@pytest.mark.parametrize(("field", "activity_type"), TYPE_MISMATCHES)
def test_type_specific_field_on_another_type_is_400_naming_it(
    client: FlaskClient, field: str, activity_type: ActivityType
) -> None:
    wire, value = WIRE[field]
    body = {"activityType": activity_type.value, "subject": "x", wire: value}
    response = client.post(ACTIVITIES, json=body, headers=AUTH)
    problem = assert_problem(response, 400, wire)
    assert TYPE_SPECIFIC_FIELDS[field].value in problem["errors"][wire][0]


@pytest.mark.parametrize("field", sorted(TYPE_SPECIFIC_FIELDS))
def test_type_specific_field_on_its_own_type_is_accepted(client: FlaskClient, field: str) -> None:
    wire, value = WIRE[field]
    body = {"activityType": TYPE_SPECIFIC_FIELDS[field].value, "subject": "x", wire: value}
    assert _created(client, body)[wire] == value


# -- create: the document itself -----------------------------------------------------------

MALFORMED_BODIES = {
    "not JSON": (b"{activityType: note}", "application/json", "$"),
    "truncated JSON": (b'{"activityType": "note"', "application/json", "$"),
    "empty": (b"", "application/json", "$"),
    "array": (b'[{"activityType": "note", "subject": "x"}]', "application/json", "$"),
    "string": (b'"note"', "application/json", "$"),
    "null": (b"null", "application/json", "$"),
    "NaN": (
        b'{"activityType": "call", "subject": "x", "callDurationSeconds": NaN}',
        "application/json",
        "$",
    ),
    "not UTF-8": (b'{"activityType": "note", "subject": "\xff\xfe"}', "application/json", "$"),
    "lone surrogate": (b'{"activityType": "note", "subject": "\\ud800"}', "application/json", "$"),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "application/json", "$"),
    "form encoded": (
        b"activityType=note&subject=x",
        "application/x-www-form-urlencoded",
        "Content-Type",
    ),
    "plain text": (b'{"activityType": "note", "subject": "x"}', "text/plain", "Content-Type"),
}


# Bulk takes an array, and a bad item inside it is an item error (see test_bulk).
MALFORMED_CASES = [(ACTIVITIES, case) for case in sorted(MALFORMED_BODIES)] + [
    (BULK, case) for case in sorted(MALFORMED_BODIES) if case not in ("array", "lone surrogate")
]


@pytest.mark.parametrize(("path", "case"), MALFORMED_CASES)
def test_malformed_document_is_400_with_a_clear_detail(
    client: FlaskClient, path: str, case: str
) -> None:
    data, content_type, field = MALFORMED_BODIES[case]
    response = client.post(path, data=data, headers={**AUTH, "Content-Type": content_type})
    problem = assert_problem(response, 400)
    assert problem["detail"]
    assert field in problem["errors"], problem


def test_missing_content_type_is_read_as_json(client: FlaskClient) -> None:
    response = client.post(
        ACTIVITIES, data=b'{"activityType": "note", "subject": "x"}', headers=AUTH
    )
    assert response.status_code == 201


def test_json_with_charset_and_vendor_types_is_accepted(client: FlaskClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.rally+json"):
        response = client.post(
            ACTIVITIES,
            data=b'{"activityType": "note", "subject": "x"}',
            headers={**AUTH, "Content-Type": content_type},
        )
        assert response.status_code == 201, content_type


@pytest.mark.parametrize(
    ("method", "path"), [("POST", ACTIVITIES), ("POST", BULK), ("PUT", f"{ACTIVITIES}/{{id}}")]
)
def test_body_over_one_mib_is_413(client: FlaskClient, method: str, path: str) -> None:
    path = path.format(id=_created(client, note())["id"])
    body = note(body="x" * (1024 * 1024))
    response = client.open(path, method=method, json=body, headers=AUTH)
    assert_problem(response, 413, "$")


def test_body_of_just_under_one_mib_is_read(client: FlaskClient) -> None:
    # 1 MiB is the limit of the whole document; a body field over 64 KiB is a field error.
    body = note(body="x" * (1024 * 1024 - 100))
    response = client.post(ACTIVITIES, json=body, headers=AUTH)
    assert_problem(response, 400, "body")


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_bad_idempotency_key_is_400_naming_it(client: FlaskClient, key: str) -> None:
    response = client.post(ACTIVITIES, json=note(), headers={**AUTH, "Idempotency-Key": key})
    assert_problem(response, 400, "Idempotency-Key")


# -- ids, routes, methods -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(
    "activity_id",
    [GOOD_GUID, "not-a-guid", "12345", GOOD_GUID + "0", "bulk%20x", "%00"],
)
def test_unknown_or_malformed_id_is_404(client: FlaskClient, method: str, activity_id: str) -> None:
    response = client.open(f"{ACTIVITIES}/{activity_id}", method=method, json=note(), headers=AUTH)
    problem = assert_problem(response, 404)
    assert problem["detail"]


def test_unknown_route_is_a_404_problem(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/contacts", headers=AUTH), 404)
    assert_problem(client.get("/nothing-here"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PATCH", f"{ACTIVITIES}/{GOOD_GUID}", {"GET", "PUT", "DELETE"}),
        ("POST", f"{ACTIVITIES}/{GOOD_GUID}", {"GET", "PUT", "DELETE"}),
        ("DELETE", ACTIVITIES, {"GET", "POST"}),
        ("PUT", ACTIVITIES, {"GET", "POST"}),
        ("GET", BULK, {"POST"}),
        ("DELETE", BULK, {"POST"}),
        ("POST", "/openapi.json", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method, headers=AUTH)
    assert_problem(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


# -- PUT ----------------------------------------------------------------------------------


def test_put_cannot_change_activity_type(client: FlaskClient) -> None:
    created = _created(client, note())
    body = {"activityType": "task", "subject": "now a task?"}
    response = client.put(f"{ACTIVITIES}/{created['id']}", json=body, headers=AUTH)
    assert_problem(response, 400, "activityType")


def test_put_checks_type_specific_fields_against_the_stored_type(client: FlaskClient) -> None:
    created = _created(client, {"activityType": "call", "subject": "c"})
    response = client.put(
        f"{ACTIVITIES}/{created['id']}", json={"subject": "c", "priority": "high"}, headers=AUTH
    )
    problem = assert_problem(response, 400, "priority")
    assert "task" in problem["errors"]["priority"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": "x", "status": "archived"}, "status"),
        ({"subject": "x", "nope": 1}, "nope"),
        ({"subject": "x", "id": GOOD_GUID}, "id"),
    ],
)
def test_invalid_put_is_400_naming_the_field(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    created = _created(client, note())
    response = client.put(f"{ACTIVITIES}/{created['id']}", json=body, headers=AUTH)
    assert_problem(response, 400, field)


def test_put_with_a_non_object_body_is_400(client: FlaskClient) -> None:
    created = _created(client, note())
    response = client.put(f"{ACTIVITIES}/{created['id']}", json=["x"], headers=AUTH)
    assert_problem(response, 400, "$")


# -- list parameters ----------------------------------------------------------------------

BAD_QUERIES = {
    "limit=0": "limit",
    "limit=101": "limit",
    "limit=ten": "limit",
    "limit=-1": "limit",
    "limit=": "limit",
    "limit=1.5": "limit",
    "offset=-1": "offset",
    "offset=x": "offset",
    "offset=10000000000000": "offset",
    "updatedSince=2025-06-14T15:30:00": "updatedSince",
    "updatedSince=yesterday": "updatedSince",
    "updatedSince=2025-06-14": "updatedSince",
    "updatedSince=1750000000": "updatedSince",
    "fields=id,colour": "fields",
    "fields=activity_type": "fields",
    "fields=": "fields",
    "sort=updatedAt": "sort",
    "limit=1&limit=2": "limit",
    "page=2": "page",
}


@pytest.mark.parametrize("query", sorted(BAD_QUERIES))
def test_bad_list_parameter_is_400_naming_it(client: FlaskClient, query: str) -> None:
    response = client.get(f"{ACTIVITIES}?{query}", headers=AUTH)
    problem = assert_problem(response, 400, BAD_QUERIES[query])
    assert BAD_QUERIES[query] in problem["detail"]


def _sized(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (its body field is padded)."""
    skeleton = json.dumps(note(body="")).encode()
    return json.dumps(note(body="x" * (size - len(skeleton)))).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_the_1_mib_limit_is_exact_over_a_real_socket(sandbox_url: str, chunked: bool) -> None:
    def send(data: bytes) -> httpx.Response:
        content: Any = data
        if chunked:  # an iterator makes httpx send Transfer-Encoding: chunked
            content = iter([data[i : i + 65536] for i in range(0, len(data), 65536)])
        return httpx.post(
            f"{sandbox_url}{ACTIVITIES}",
            content=content,
            headers={**AUTH, "Content-Type": "application/json"},
        )

    limit = 1024 * 1024
    at_limit = send(_sized(limit))
    assert_problem(at_limit, 400, "body")  # read and judged: the body field is too long
    assert_problem(send(_sized(limit + 1)), 413, "$")
