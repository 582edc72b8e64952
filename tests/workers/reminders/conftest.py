"""The world a reminders test needs: the sandbox (in-process, over WSGI) and real Redis.

The sandbox gets its own SQLite file per test, so a test can also reach into it to build
situations the API cannot produce on demand (several activities sharing one ``updatedAt``,
as a server that stamps a bulk write with one time would).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from api_client import ActivityResponse, CreateActivityRequest, RallyClient
from devstack.counting import CountingTransport
from sandbox.app import create_app
from workers.reminders import TaskIndex, namespace_for

BASE_URL = "http://rally.sandbox.test"
API_KEY = "rk_test_reminders_not_a_real_key"


@dataclass
class Rally:
    """The sandbox of one test: build counted clients, create activities, poke its database."""

    app: Any
    db_path: Path
    namespace: str
    clients: list[RallyClient]

    def client(
        self, transport: httpx.BaseTransport | None = None
    ) -> tuple[RallyClient, CountingTransport]:
        """A client whose requests are counted by kind (over ``transport`` if given)."""
        counter = CountingTransport(transport or httpx.WSGITransport(app=self.app))
        client = RallyClient(BASE_URL, API_KEY, transport=counter, max_retries=0)
        self.clients.append(client)
        return client, counter

    def create(self, **fields: Any) -> ActivityResponse:
        client, _ = self.client()
        return client.create_activity(CreateActivityRequest.model_validate(fields))

    def task(self, subject: str, due_in: timedelta | None, **fields: Any) -> ActivityResponse:
        """A task due ``due_in`` from now (no due date when None)."""
        body: dict[str, Any] = {"activityType": "task", "subject": subject, **fields}
        if due_in is not None:
            body["dueDate"] = (datetime.now(UTC) + due_in).isoformat()
        return self.create(**body)

    def update(self, activity_id: str, **changes: Any) -> ActivityResponse:
        client, _ = self.client()
        return client.change_activity(activity_id, changes)

    def delete(self, activity_id: str) -> None:
        client, _ = self.client()
        client.delete_activity(activity_id)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with sqlite3.connect(self.db_path) as db:
            return db.execute(statement, params).fetchall()


@pytest.fixture
def rally(tmp_path: Path) -> Iterator[Rally]:
    db_path = tmp_path / "sandbox.db"
    app = create_app(db_path=str(db_path), api_keys=[API_KEY])
    world = Rally(app=app, db_path=db_path, namespace=namespace_for(BASE_URL, API_KEY), clients=[])
    yield world
    for client in world.clients:
        client.close()


class RecordingPoster:
    """A poster that records what it was asked to post (thread-safe enough: list.append)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.posted: list[ActivityResponse] = []
        self.fail = fail

    def __call__(self, activity: ActivityResponse) -> bool:
        if self.fail:
            return False
        self.posted.append(activity)
        return True

    @property
    def ids(self) -> list[str]:
        return [activity.id for activity in self.posted]


@pytest.fixture
def r(redis_conn: redis.Redis) -> redis.Redis:
    return redis_conn


@pytest.fixture
def index(rally: Rally, r: redis.Redis) -> TaskIndex:
    """The task index of the test's sandbox tenant."""
    return TaskIndex(r, rally.namespace)
