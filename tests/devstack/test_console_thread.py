"""The console's sample thread: ``POST /thread`` makes a thread of N messages, or says why not."""

from __future__ import annotations

import pytest

from devstack.console.app import Console, create_console_app
from devstack.fake_slack.server import FakeSlack
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET


@pytest.fixture
def console() -> tuple[FakeSlack, object]:
    fake = FakeSlack(bot_token=BOT_TOKEN)
    app = create_console_app(
        Console(fake, events_url="http://127.0.0.1:9/slack/events", signing_secret=SIGNING_SECRET)
    )
    return fake, app.test_client()


def test_a_sample_thread_of_n_messages_starts_with_whoever_asked(console: tuple) -> None:
    fake, client = console
    answer = client.post("/thread", json={"user": "U0CAROL", "channel": "C0ACME", "count": 12})
    assert answer.status_code == 200
    ts = answer.get_json()["ts"]
    [parent] = [m for m in fake.messages("C0ACME") if m["ts"] == ts]
    assert parent["user"] == "U0CAROL" and parent["reply_count"] == 11
    assert len(fake.thread("C0ACME", ts)) == 11


@pytest.mark.parametrize(
    "data",
    [
        {"user": "U0CAROL", "channel": "C0ACME", "count": 0},
        {"user": "U0CAROL", "channel": "C0ACME", "count": 10_001},
        {"user": "U0CAROL", "channel": "C0ACME", "count": "5"},
        {"user": "U0CAROL", "channel": "C0NOPE", "count": 5},
        {"user": "U0NOBODY", "channel": "C0ACME", "count": 5},
    ],
)
def test_a_sample_thread_it_cannot_make_is_refused(console: tuple, data: dict) -> None:
    fake, client = console
    assert client.post("/thread", json=data).status_code in (400, 404)
    assert fake.messages("C0ACME") == []
