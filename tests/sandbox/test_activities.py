"""The life of an activity: defaults, status and completedAt, PUT replace, DELETE, tenants."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api_client.models import ActivityResponse
from tests.fixtures.sandbox import DEV_TENANT, OTHER_TENANT
from tests.sandbox.support import ACTIVITIES, AUTH, BULK, OTHER_AUTH, assert_problem, note, ts

CONTACT = "d290f1ee-6c54-4b01-90e6-d701748f0851"


@pytest.fixture
def client(sandbox_app: Flask) -> FlaskClient:
    return sandbox_app.test_client()


def _create(
    client: FlaskClient, body: dict[str, Any], auth: dict[str, str] = AUTH
) -> dict[str, Any]:
    response = client.post(ACTIVITIES, json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _put(client: FlaskClient, activity_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"{ACTIVITIES}/{activity_id}", json=body, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def test_create_is_201_with_location_and_the_activity(client: FlaskClient) -> None:
    response = client.post(ACTIVITIES, json=note(), headers=AUTH)
    assert response.status_code == 201
    body = response.get_json()
    ActivityResponse.model_validate(body)
    assert response.headers["Location"] == f"{ACTIVITIES}/{body['id']}"
    assert client.get(response.headers["Location"], headers=AUTH).get_json() == body


def test_defaults_status_pending_and_owner_from_the_key(client: FlaskClient) -> None:
    created = _create(client, note())
    assert created["status"] == "pending"
    assert created["completedAt"] is None
    assert created["tenantId"] == DEV_TENANT.tenant_id
    assert created["ownerId"] == DEV_TENANT.owner_id


def test_explicit_owner_is_kept(client: FlaskClient) -> None:
    owner = "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1"
    assert _create(client, note(ownerId=owner))["ownerId"] == owner


def test_times_are_utc_with_z_whatever_offset_was_sent(client: FlaskClient) -> None:
    created = _create(
        client,
        {"activityType": "task", "subject": "t", "dueDate": "2025-07-15T19:00:00.250+02:00"},
    )
    assert created["dueDate"] == "2025-07-15T17:00:00.250000Z"
    for name in ("createdAt", "updatedAt"):
        assert created[name].endswith("Z")


def test_guids_are_accepted_in_any_case_and_stored_lower_case(client: FlaskClient) -> None:
    created = _create(client, note(contactId=CONTACT.upper()))
    assert created["contactId"] == CONTACT
    response = client.get(f"{ACTIVITIES}/{created['id'].upper()}", headers=AUTH)
    assert response.get_json() == created


def test_integral_json_numbers_are_integers(client: FlaskClient) -> None:
    body = {"activityType": "call", "subject": "c", "callDurationSeconds": 1800.0}
    assert _create(client, body)["callDurationSeconds"] == 1800


def test_subject_is_stored_without_surrounding_whitespace(client: FlaskClient) -> None:
    assert _create(client, note(subject="  Call back  "))["subject"] == "Call back"


def test_completed_at_is_set_when_created_completed(client: FlaskClient) -> None:
    created = _create(client, note(status="completed"))
    assert created["completedAt"] == created["createdAt"]


def test_completed_at_follows_status_through_updates(client: FlaskClient) -> None:
    created = _create(client, {"activityType": "task", "subject": "t"})
    done = _put(client, created["id"], {"subject": "t", "status": "completed"})
    assert done["completedAt"] == done["updatedAt"]
    assert done["createdAt"] == created["createdAt"]

    still_done = _put(client, created["id"], {"subject": "t2", "status": "completed"})
    assert still_done["completedAt"] == done["completedAt"]  # kept while it stays completed
    assert ts(still_done["updatedAt"]) > ts(done["updatedAt"])

    reopened = _put(client, created["id"], {"subject": "t2", "status": "pending"})
    assert reopened["completedAt"] is None

    done_again = _put(client, created["id"], {"subject": "t2", "status": "completed"})
    assert done_again["completedAt"] == done_again["updatedAt"]
    assert ts(done_again["completedAt"]) > ts(done["completedAt"])


def test_put_replaces_omitted_optional_fields_with_null(client: FlaskClient) -> None:
    created = _create(
        client,
        {
            "activityType": "task",
            "subject": "Send proposal",
            "body": "with pricing",
            "contactId": CONTACT,
            "dueDate": "2025-07-15T17:00:00Z",
            "priority": "high",
            "status": "completed",
        },
    )
    replaced = _put(client, created["id"], {"subject": "Send revised proposal"})
    assert replaced["subject"] == "Send revised proposal"
    for name in ("body", "contactId", "dueDate", "priority", "completedAt"):
        assert replaced[name] is None, name
    assert replaced["status"] == "pending"  # an omitted status is the default again
    assert replaced["ownerId"] == DEV_TENANT.owner_id
    assert replaced["activityType"] == "task"
    assert replaced["id"] == created["id"]
    assert replaced["createdAt"] == created["createdAt"]
    assert client.get(f"{ACTIVITIES}/{created['id']}", headers=AUTH).get_json() == replaced


def test_put_may_repeat_the_same_activity_type(client: FlaskClient) -> None:
    created = _create(client, {"activityType": "call", "subject": "c"})
    body = {"activityType": "call", "subject": "c", "callDirection": "inbound"}
    assert _put(client, created["id"], body)["callDirection"] == "inbound"


def test_delete_is_204_and_the_activity_is_gone(client: FlaskClient) -> None:
    created = _create(client, note())
    response = client.delete(f"{ACTIVITIES}/{created['id']}", headers=AUTH)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_problem(client.get(f"{ACTIVITIES}/{created['id']}", headers=AUTH), 404)
    assert_problem(client.delete(f"{ACTIVITIES}/{created['id']}", headers=AUTH), 404)
    assert client.get(ACTIVITIES, headers=AUTH).get_json() == []


# -- tenants --------------------------------------------------------------------------------


def test_another_tenants_activity_is_404_for_every_operation(client: FlaskClient) -> None:
    theirs = _create(client, note("theirs"), auth=OTHER_AUTH)
    path = f"{ACTIVITIES}/{theirs['id']}"
    assert_problem(client.get(path, headers=AUTH), 404)
    assert_problem(client.put(path, json=note("mine now"), headers=AUTH), 404)
    assert_problem(client.delete(path, headers=AUTH), 404)
    # Untouched for its owner.
    assert client.get(path, headers=OTHER_AUTH).get_json() == theirs


def test_each_key_sees_only_its_own_tenant(client: FlaskClient) -> None:
    mine = _create(client, note("mine"))
    theirs = _create(client, note("theirs"), auth=OTHER_AUTH)
    assert theirs["tenantId"] == OTHER_TENANT.tenant_id
    assert theirs["ownerId"] == OTHER_TENANT.owner_id
    assert [a["id"] for a in client.get(ACTIVITIES, headers=AUTH).get_json()] == [mine["id"]]
    assert [a["id"] for a in client.get(ACTIVITIES, headers=OTHER_AUTH).get_json()] == [
        theirs["id"]
    ]


def test_bulk_cannot_update_another_tenants_activity(client: FlaskClient) -> None:
    theirs = _create(client, note("theirs"), auth=OTHER_AUTH)
    response = client.post(BULK, json=[note("hijack", id=theirs["id"])], headers=AUTH)
    body = response.get_json()
    assert body["updated"] == 0 and body["failed"] == 1
    assert "id" in body["errors"][0]["errors"]
    assert client.get(f"{ACTIVITIES}/{theirs['id']}", headers=OTHER_AUTH).get_json() == theirs


def test_tenants_are_stable_and_distinct_per_key() -> None:
    from sandbox.tenants import tenant_for_key

    assert tenant_for_key("a") == tenant_for_key("a")
    assert tenant_for_key("a").tenant_id != tenant_for_key("b").tenant_id
    assert DEV_TENANT.tenant_id != OTHER_TENANT.tenant_id
    assert DEV_TENANT.owner_id != DEV_TENANT.tenant_id


def test_keys_naming_one_tenant_share_it_each_with_its_own_owner(
    make_sandbox_app: Any,
) -> None:
    from sandbox.tenants import parse_key_spec

    app = make_sandbox_app(api_keys=["rk_alice=acme:alice", "rk_bob=acme:bob", "rk_eve=globex:eve"])
    client = app.test_client()
    made = client.post(
        "/api/v1/activities",
        json={"activityType": "note", "subject": "Alice's note"},
        headers={"X-Api-Key": "rk_alice"},
    ).get_json()
    assert made["ownerId"] == parse_key_spec("rk_alice=acme:alice")[1].owner_id
    seen_by_bob = client.get(f"/api/v1/activities/{made['id']}", headers={"X-Api-Key": "rk_bob"})
    assert seen_by_bob.status_code == 200
    assert seen_by_bob.get_json()["tenantId"] == made["tenantId"]
    by_eve = client.get(f"/api/v1/activities/{made['id']}", headers={"X-Api-Key": "rk_eve"})
    assert by_eve.status_code == 404
    bobs = client.post(
        "/api/v1/activities",
        json={"activityType": "note", "subject": "Bob's"},
        headers={"X-Api-Key": "rk_bob"},
    ).get_json()
    assert bobs["ownerId"] != made["ownerId"]


@pytest.mark.parametrize("spec", ["=acme:alice", "rk=acme", "rk=:alice", "rk=acme:"])
def test_a_malformed_key_spec_is_refused(spec: str) -> None:
    from sandbox.tenants import parse_key_spec

    with pytest.raises(ValueError):
        parse_key_spec(spec)
