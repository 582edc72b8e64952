"""The world a Slack-side test stands up: the app's real HTTP endpoint, the fake Slack,
real Redis, real RQ burst workers, and the sandbox as the Activities API.

Imported by the ``conftest.py`` of tests/bot, tests/workers and tests/e2e. ``Rally`` is
the test's hands: it sends signed requests the way Slack does, runs the workers, and
reads what reached the API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask.testing import FlaskClient

from bot.listeners.guard import IN_FLIGHT
from bot.server import create_flask_app
from core.settings import Settings
from core.store import Store
from devstack.fake_slack.payloads import (
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from devstack.fake_slack.server import TEAM_ID, FakeSlack
from tests.fixtures.database import TEST_KEYS
from tests.fixtures.sandbox import DEV_API_KEY
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET
from workers import queues
from workers.runner import run_burst
from workers.workspace import store_of

APP_URL = "https://app.rally.test"
DEAL_ID = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"
CONTACT_ID = "d290f1ee-6c54-4b01-90e6-d701748f0851"
OWNER_ID = "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1"


class Rally:
    """A Slack workspace talking to the app, plus the workers and the API behind it."""

    def __init__(
        self,
        client: FlaskClient,
        fake: FakeSlack,
        conn: redis.Redis,
        api_url: str,
        settings: Settings,
        *,
        team: str = TEAM_ID,
        api_key: str = DEV_API_KEY,
    ) -> None:
        self.client = client
        self.fake = fake
        self.redis = conn
        self.api_url = api_url
        self.settings = settings
        self.team = team
        """The workspace the requests come from (``fake`` is that workspace's Slack)."""
        self.api_key = api_key
        """The tenant :meth:`activities` reads."""

    # -- Slack → app ----------------------------------------------------------------

    def post(self, body: bytes, *, headers: dict[str, str] | None = None) -> Any:
        """Send one request; returns once Slack has its answer and every listener it started
        has finished (they run on Bolt's threads after acknowledging), so what they queue
        is there for :meth:`work`, however loaded the machine."""
        response = self.client.post(
            "/slack/events", data=body, headers=headers or signed_headers(body, SIGNING_SECRET)
        )
        assert IN_FLIGHT.wait_idle(timeout=60), "a listener is still running after 60 s"
        return response

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0SALES",
        trigger_id: str | None = None,
        response_url: str | None = None,
        command: str = "/rally",
    ) -> Any:
        """Send ``/rally <text>``; returns the HTTP response (its JSON is the ack)."""
        body = slash_command(
            text,
            command=command,
            user=user,
            channel=channel,
            team=self.team,
            trigger_id=trigger_id or self.fake.new_trigger_id(user),
            response_url=response_url or self.fake.new_response_url(channel=channel, user=user),
        )
        return self.post(body)

    def interact(self, payload: dict[str, Any]) -> Any:
        return self.post(interactive_body(payload))

    def open_modal(
        self, kind: str, *, user: str = "U0ALICE", channel: str = "C0SALES"
    ) -> dict[str, Any]:
        """``/rally <kind>`` and the modal it opened (as the fake Slack holds it)."""
        before = len(self.fake.calls("views.open"))
        response = self.command(kind, user=user, channel=channel)
        assert response.status_code == 200, response.data
        call = self.fake.wait_until(
            lambda: (
                len(self.fake.calls("views.open")) > before
                and self.fake.calls("views.open")[before]
            )
        )
        assert call.response.get("ok"), call.response
        return dict(call.response["view"])

    def submit(
        self, view: dict[str, Any], values: dict[str, Any] | None = None, *, user: str = "U0ALICE"
    ) -> Any:
        """Submit ``view`` filled with ``values`` (block_id → value); returns the response."""
        payload = view_submission(
            view, state_values_for(view, values or {}), user=user, team=self.team
        )
        return self.interact(payload)

    # -- workers and API ------------------------------------------------------------

    def work(self) -> int:
        """Run burst workers on every queue until nothing is queued or due."""
        return run_burst(self.redis, queues.ALL_QUEUES, log_level="WARNING")

    def activities(self) -> list[dict[str, Any]]:
        """Every activity of the tenant, page by page (100 a page, the API's most)."""
        found: list[dict[str, Any]] = []
        while True:
            response = httpx.get(
                f"{self.api_url}/api/v1/activities",
                headers={"X-Api-Key": self.api_key},
                params={"limit": 100, "offset": len(found)},
            )
            response.raise_for_status()
            page = list(response.json())
            found += page
            if len(page) < 100:
                return found

    @property
    def store(self) -> Store:
        return store_of(self.settings)

    def queued(self) -> dict[str, int]:
        return {name: queues.queue(name, self.redis).count for name in queues.ALL_QUEUES}

    def shown_to(self, user: str = "U0ALICE") -> list[str]:
        """Every text the user was shown: response-URL posts, ephemerals, DMs."""
        texts = [json.dumps(p.body) for p in self.fake.response_posts()]
        texts += [json.dumps(m) for m in self.fake.ephemerals(user=user)]
        texts += [json.dumps(m) for m in self.fake.messages("D" + user[1:])]
        return texts


@pytest.fixture
def rally_settings(
    monkeypatch: pytest.MonkeyPatch,
    fake_slack: FakeSlack,
    redis_url: str,
    sandbox_url: str,
    tmp_path: Path,
) -> Settings:
    """Environment of every process under test (the web app and the forked work horses)."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rally-slack.db'}",
        "RALLY_SLACK_ENCRYPTION_KEYS": TEST_KEYS[0],
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
        "RALLY_BASE_URL": sandbox_url,
        "RALLY_API_KEY": DEV_API_KEY,
        "RALLY_APP_URL": APP_URL,
        "REDIS_URL": redis_url,
        "JOB_RETRY_INTERVALS": "0,0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def rally(
    rally_settings: Settings, redis_conn: redis.Redis, fake_slack: FakeSlack, sandbox_url: str
) -> Iterator[Rally]:
    flask_app = create_flask_app(rally_settings)
    with flask_app.test_client() as client:
        yield Rally(client, fake_slack, redis_conn, sandbox_url, rally_settings)


__all__ = [
    "APP_URL",
    "CONTACT_ID",
    "DEAL_ID",
    "OWNER_ID",
    "TEAM_ID",
    "Rally",
    "rally",
    "rally_settings",
]
