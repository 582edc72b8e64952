"""GET /api/v1/activities: order, paging, updatedSince (inclusive), fields."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api_client.models import ACTIVITY_FIELD_NAMES, ActivityResponse, PartialActivityResponse
from sandbox.store import to_us
from tests.fixtures.sandbox import DEV_TENANT
from tests.sandbox.support import ACTIVITIES, AUTH, BULK, note, ts


@pytest.fixture
def client(sandbox_app: Flask) -> FlaskClient:
    return sandbox_app.test_client()


def _seed(client: FlaskClient, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 100):
        items = [note(f"n{i}") for i in range(start, min(count, start + 100))]
        ids += client.post(BULK, json=items, headers=AUTH).get_json()["createdIds"]
    return ids


def _list(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{ACTIVITIES}{query}", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    result: list[dict[str, Any]] = response.get_json()
    return result


def test_ordered_by_updated_at_and_an_update_moves_to_the_end(client: FlaskClient) -> None:
    ids = _seed(client, 5)
    assert [a["id"] for a in _list(client)] == ids
    client.put(f"{ACTIVITIES}/{ids[1]}", json=note("touched"), headers=AUTH)
    listed = _list(client)
    assert [a["id"] for a in listed] == [ids[0], *ids[2:], ids[1]]
    stamps = [ts(a["updatedAt"]) for a in listed]
    assert stamps == sorted(stamps)


def test_equal_updated_at_is_ordered_by_id(sandbox_app: Flask, client: FlaskClient) -> None:
    ids = _seed(client, 4)
    # Force a tie the server never produces itself, to pin the tie-break.
    store = sandbox_app.extensions["sandbox"].store
    store.conn.execute("UPDATE activities SET updated_at = 1750000000000000")
    assert [a["id"] for a in _list(client)] == sorted(ids)


def test_default_limit_is_50_and_pages_cover_everything_once(client: FlaskClient) -> None:
    ids = _seed(client, 130)
    assert len(_list(client)) == 50
    seen: list[str] = []
    for offset in range(0, 200, 30):
        seen += [a["id"] for a in _list(client, f"?limit=30&offset={offset}")]
    assert seen == ids
    assert _list(client, "?limit=100&offset=130") == []
    assert len(_list(client, "?limit=100")) == 100
    assert len(_list(client, "?limit=1")) == 1


def test_updated_since_is_inclusive_and_reads_any_offset(client: FlaskClient) -> None:
    ids = _seed(client, 6)
    listed = _list(client)
    pivot = listed[3]["updatedAt"]
    expected = ids[3:]
    assert [a["id"] for a in _list(client, f"?updatedSince={pivot}")] == expected
    moment = ts(pivot)
    for offset in (timedelta(hours=2), timedelta(hours=-5, minutes=-30)):
        text = quote(moment.astimezone(timezone(offset)).isoformat())
        assert [a["id"] for a in _list(client, f"?updatedSince={text}")] == expected
    # An unescaped "+" arrives as a space; the sandbox reads it as the offset sign.
    plus = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert [a["id"] for a in _list(client, f"?updatedSince={plus}")] == expected
    later = (moment + timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")
    assert [a["id"] for a in _list(client, f"?updatedSince={later}")] == ids[4:]


def test_updated_since_combines_with_paging(client: FlaskClient) -> None:
    ids = _seed(client, 10)
    pivot = _list(client)[2]["updatedAt"]
    page = _list(client, f"?updatedSince={pivot}&limit=3&offset=2")
    assert [a["id"] for a in page] == ids[4:7]


def test_fields_returns_only_those_and_the_id(client: FlaskClient) -> None:
    _seed(client, 3)
    listed = _list(client, "?fields=subject,status")
    assert all(list(item) == ["id", "subject", "status"] for item in listed)
    for item in listed:
        PartialActivityResponse.model_validate(item)
    assert all(list(item) == ["id"] for item in _list(client, "?fields=id"))
    everything = _list(client, f"?fields={','.join(ACTIVITY_FIELD_NAMES)}")
    assert everything == _list(client)
    for item in everything:
        ActivityResponse.model_validate(item)
    assert [list(i) for i in _list(client, "?fields=status,%20subject,status")] == [
        ["id", "subject", "status"]
    ] * 3


def test_updated_at_strictly_increases_under_concurrent_writes(sandbox_url: str) -> None:
    def create(i: int) -> datetime:
        response = http.post(f"{sandbox_url}{ACTIVITIES}", json=note(f"c{i}"), headers=AUTH)
        assert response.status_code == 201
        return ts(response.json()["updatedAt"])

    with httpx.Client() as http, ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(pool.map(create, range(64)))
    assert len(set(stamps)) == 64
    listed = httpx.get(f"{sandbox_url}{ACTIVITIES}?limit=100", headers=AUTH).json()
    listed_stamps = [ts(a["updatedAt"]) for a in listed]
    assert sorted(stamps) == listed_stamps
    assert all(a < b for a, b in pairwise(listed_stamps))


def test_paging_stays_exact_when_writes_land_between_pages(
    sandbox_app: Flask, client: FlaskClient
) -> None:
    """Pages are served by seeking from where the previous page ended; any write in
    between must make the next page exactly what OFFSET would give."""
    ids = _seed(client, 250)
    store = sandbox_app.extensions["sandbox"].store

    def by_offset(offset: int, since: str = "") -> list[str]:
        # The oracle: plain SQL OFFSET on the same database.
        sql = "SELECT id FROM activities WHERE tenant_id = ?"
        params: list[Any] = [DEV_TENANT.tenant_id]
        if since:
            sql += " AND updated_at >= ?"
            params.append(to_us(ts(since)))
        sql += " ORDER BY updated_at, id LIMIT 100 OFFSET ?"
        return [row[0] for row in store.conn.execute(sql, [*params, offset])]

    def page(offset: int, since: str = "") -> list[str]:
        query = f"?limit=100&offset={offset}&fields=id"
        if since:
            query += f"&updatedSince={quote(since)}"
        return [a["id"] for a in _list(client, query)]

    assert page(0) + page(100) + page(200) == ids
    writes = [
        lambda: client.put(f"{ACTIVITIES}/{ids[5]}", json=note("moved"), headers=AUTH),
        lambda: client.delete(f"{ACTIVITIES}/{ids[7]}", headers=AUTH),
        lambda: client.post(ACTIVITIES, json=note("new"), headers=AUTH),
        lambda: client.post(BULK, json=[note("b1"), note("b2")], headers=AUTH),
    ]
    for write in writes:
        assert page(0) == by_offset(0)
        assert page(100) == by_offset(100)  # cached seek from page(0)
        write()
        assert page(100) == by_offset(100)  # the write invalidated the seek
        assert page(200) == by_offset(200)
    since = _list(client, "?limit=1&offset=40")[0]["updatedAt"]
    assert page(0, since) == by_offset(0, since)
    assert page(100, since) == by_offset(100, since)
    assert page(100) == by_offset(100)
