"""The fake Slack pages ``conversations.replies`` as Slack does, and makes threads."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from devstack.fake_slack.server import FakeSlack
from tests.fixtures.slack import BOT_TOKEN


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)


def test_post_thread_makes_a_parent_with_its_replies(fake_slack: FakeSlack) -> None:
    parent = fake_slack.post_thread("C0SALES", 5, users=["U0BOB"], text=lambda i: f"m{i}")
    assert parent["reply_count"] == 4 and parent["thread_ts"] == parent["ts"]
    replies = fake_slack.thread("C0SALES", parent["ts"])
    assert [m["text"] for m in replies] == ["m1", "m2", "m3", "m4"]
    assert {m["user"] for m in replies} == {"U0BOB"}


def test_replies_are_paged_with_cursors_and_the_parent_on_every_page(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    parent = fake_slack.post_thread("C0SALES", 250)
    texts, more, cursors = [], [], []
    # slack_sdk reads the next page into the same response: read each as it comes.
    for page in client.conversations_replies(channel="C0SALES", ts=parent["ts"], limit=100):
        assert page["messages"][0]["ts"] == parent["ts"]
        texts += [m["text"] for m in page["messages"][1:]]
        more.append(page["has_more"])
        cursors.append(page["response_metadata"]["next_cursor"])
    assert texts == [f"Message {i}" for i in range(1, 250)]
    assert more == [True, True, False]
    assert cursors[-1] == "" and all(cursors[:2])


def test_a_page_holds_at_most_the_cap(fake_slack: FakeSlack, client: WebClient) -> None:
    parent = fake_slack.post_thread("C0SALES", 1500)
    first = client.conversations_replies(channel="C0SALES", ts=parent["ts"], limit=5000)
    assert len(first["messages"]) == 1000
    fake_slack.set_replies_page_max(10)
    small = client.conversations_replies(channel="C0SALES", ts=parent["ts"], limit=1000)
    assert len(small["messages"]) == 10


def test_a_cursor_slack_did_not_hand_out_is_invalid(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    parent = fake_slack.post_thread("C0SALES", 3)
    with pytest.raises(SlackApiError) as refused:
        client.conversations_replies(channel="C0SALES", ts=parent["ts"], cursor="bm9wZQ==")
    assert refused.value.response["error"] == "invalid_cursor"


def test_a_thread_where_the_bot_is_not_is_not_in_channel(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    parent = fake_slack.post_thread("C0SALES", 3)
    fake_slack.remove_bot_from("C0SALES")
    with pytest.raises(SlackApiError) as refused:
        client.conversations_replies(channel="C0SALES", ts=parent["ts"])
    assert refused.value.response["error"] == "not_in_channel"
