"""Reading a thread for its note, against the fake Slack over HTTP and a real Redis."""

from __future__ import annotations

import redis
from slack_sdk import WebClient

from devstack.fake_slack.server import FakeSlack
from tests.fixtures.slack import BOT_TOKEN
from workers.slack import retry_handlers
from workers.state import State
from workers.threads import Thread, thread_note_body


def _client(fake: FakeSlack) -> WebClient:
    client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
    client.retry_handlers.extend(retry_handlers("all"))
    return client


def test_names_are_asked_once_per_id_and_cached(
    fake_slack: FakeSlack, redis_conn: redis.Redis
) -> None:
    parent = fake_slack.post_thread(
        "C0SALES", 40, users=["U0BOB", "U0CAROL"], text=lambda i: f"<@U0DAVE> {i}"
    )
    thread = Thread("T0RALLY001", "C0SALES", parent["ts"], "U0ALICE")
    first = thread_note_body(_client(fake_slack), State(redis_conn), thread)
    asked = sorted(c.params["user"] for c in fake_slack.calls("users.info"))
    # Bob, Carol and Dave named, and Alice's time zone: each once.
    assert asked == ["U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"]
    assert "Carol Hughes (" in first.body and "@Dave Okafor 39" in first.body
    again = thread_note_body(_client(fake_slack), State(redis_conn), thread)
    assert again.body == first.body
    assert len(fake_slack.calls("users.info")) == 4  # the second read came from Redis


def test_someone_slack_cannot_name_and_a_bot_keep_what_slack_gave(
    fake_slack: FakeSlack, redis_conn: redis.Redis
) -> None:
    parent = fake_slack.post_as_user("C0SALES", "U0GHOST", "Hello <@U0NOBODY|old-name>")
    fake_slack.post_as_user("C0SALES", "U0BOB", "hi", thread_ts=parent["ts"])
    fake_slack.fail_next("chat.getPermalink", "message_not_found")
    body = thread_note_body(
        _client(fake_slack),
        State(redis_conn),
        Thread("T0RALLY001", "C0SALES", parent["ts"], "U0ALICE"),
    ).body
    lines = body.split("\n")
    assert lines[0] == "Slack thread in #sales, 2 messages"  # no permalink to be had
    assert lines[2].startswith("U0GHOST (") and lines[2].endswith("Hello @old-name")
