"""Idempotency-Key on POST: replay within 24 hours, 422 for another body, per tenant."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.sandbox.support import ACTIVITIES, AUTH, BULK, OTHER_AUTH, assert_problem, note


@pytest.fixture
def client(sandbox_app: Flask) -> FlaskClient:
    return sandbox_app.test_client()


def _count(client: FlaskClient, auth: dict[str, str] = AUTH) -> int:
    return len(client.get(f"{ACTIVITIES}?limit=100", headers=auth).get_json())


@pytest.mark.parametrize("path", [ACTIVITIES, BULK])
def test_same_key_and_body_replays_the_first_response(client: FlaskClient, path: str) -> None:
    body = note() if path == ACTIVITIES else [note("a"), note("b")]
    headers = {**AUTH, "Idempotency-Key": "key-1"}
    first = client.post(path, json=body, headers=headers)
    assert first.status_code in (200, 201)
    assert "Idempotent-Replayed" not in first.headers
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == first.status_code
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(client) == (1 if path == ACTIVITIES else 2)


def test_replay_ignores_json_formatting(client: FlaskClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "fmt", "Content-Type": "application/json"}
    first = client.post(ACTIVITIES, data=json.dumps(note(body="b")), headers=headers)
    reformatted = json.dumps({"body": "b", "subject": "A note", "activityType": "note"}, indent=2)
    again = client.post(ACTIVITIES, data=reformatted, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()


@pytest.mark.parametrize("path", [ACTIVITIES, BULK])
def test_same_key_with_another_body_is_422(client: FlaskClient, path: str) -> None:
    first, second = (note("one"), note("two"))
    if path == BULK:
        first, second = [first], [second]
    headers = {**AUTH, "Idempotency-Key": "key-2"}
    assert client.post(path, json=first, headers=headers).status_code in (200, 201)
    response = client.post(path, json=second, headers=headers)
    assert_problem(response, 422, "Idempotency-Key")
    assert _count(client) == 1


def test_a_key_used_on_one_endpoint_cannot_be_reused_on_another(client: FlaskClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "key-3"}
    assert client.post(ACTIVITIES, json=note(), headers=headers).status_code == 201
    assert_problem(client.post(BULK, json=[note()], headers=headers), 422, "Idempotency-Key")


def test_keys_belong_to_one_tenant(client: FlaskClient) -> None:
    mine = client.post(ACTIVITIES, json=note(), headers={**AUTH, "Idempotency-Key": "shared"})
    theirs = client.post(
        ACTIVITIES, json=note(), headers={**OTHER_AUTH, "Idempotency-Key": "shared"}
    )
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]


def test_without_a_key_every_post_creates(client: FlaskClient) -> None:
    client.post(ACTIVITIES, json=note(), headers=AUTH)
    client.post(ACTIVITIES, json=note(), headers=AUTH)
    assert _count(client) == 2


def test_a_rejected_request_does_not_use_up_its_key(client: FlaskClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "retry-after-fix"}
    assert_problem(client.post(ACTIVITIES, json=note(subject=""), headers=headers), 400, "subject")
    assert client.post(ACTIVITIES, json=note(), headers=headers).status_code == 201


def test_a_key_older_than_24_hours_is_forgotten(sandbox_app: Flask) -> None:
    client = sandbox_app.test_client()
    headers = {**AUTH, "Idempotency-Key": "old"}
    first = client.post(ACTIVITIES, json=note(), headers=headers).get_json()
    # Age the record instead of waiting a day.
    store = sandbox_app.extensions["sandbox"].store
    store.conn.execute(
        "UPDATE idempotency SET created_at = created_at - ?", (24 * 3600 * 10**6 + 1,)
    )
    again = client.post(ACTIVITIES, json=note(), headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first["id"]
    assert store.purge_idempotency() == 0  # the new record is young; the old was replaced


def test_concurrent_retries_with_one_key_create_once(sandbox_url: str) -> None:
    headers = {**AUTH, "Idempotency-Key": "race"}

    def post(_: int) -> httpx.Response:
        return http.post(f"{sandbox_url}{ACTIVITIES}", json=note("race"), headers=headers)

    with httpx.Client() as http, ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(16)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 15
    listed = httpx.get(f"{sandbox_url}{ACTIVITIES}", headers=AUTH).json()
    assert len(listed) == 1
