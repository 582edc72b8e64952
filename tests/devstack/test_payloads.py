"""Payloads built here are parsed by Bolt exactly as Slack's: a Bolt app behind Flask's
test client receives them signed, and answers through the fake Slack."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient

from devstack.fake_slack import payloads
from devstack.fake_slack.server import FakeSlack
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET

MODAL = {
    "type": "modal",
    "callback_id": "log_task",
    "title": {"type": "plain_text", "text": "Log a task"},
    "submit": {"type": "plain_text", "text": "Log"},
    "blocks": [
        {
            "type": "input",
            "block_id": "subject",
            "label": {"type": "plain_text", "text": "Subject"},
            "element": {"type": "plain_text_input", "action_id": "subject"},
        },
        {
            "type": "input",
            "block_id": "priority",
            "label": {"type": "plain_text", "text": "Priority"},
            "element": {
                "type": "static_select",
                "action_id": "priority",
                "options": [
                    {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due"},
            "element": {"type": "datepicker", "action_id": "due_date"},
        },
        {
            "type": "input",
            "block_id": "flags",
            "optional": True,
            "label": {"type": "plain_text", "text": "Flags"},
            "element": {
                "type": "checkboxes",
                "action_id": "flags",
                "options": [{"text": {"type": "plain_text", "text": "Done"}, "value": "done"}],
            },
        },
    ],
}


class Harness:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.seen: list[Any] = []
        self.app = App(
            signing_secret=SIGNING_SECRET,
            client=WebClient(token=BOT_TOKEN, base_url=fake.api_url),
        )
        flask = Flask(__name__)
        handler = SlackRequestHandler(self.app)

        @flask.post("/slack/events")
        def events() -> Any:
            return handler.handle(request)

        self.http = flask.test_client()

    def post(self, body: bytes, **headers: str) -> Any:
        return self.http.post(
            "/slack/events",
            data=body,
            headers={**payloads.signed_headers(body, SIGNING_SECRET), **headers},
        )

    def interact(self, payload: dict[str, Any]) -> Any:
        return self.post(payloads.interactive_body(payload))


@pytest.fixture
def bolt(fake_slack: FakeSlack) -> Harness:
    return Harness(fake_slack)


def test_slash_command_reaches_the_listener_and_respond_uses_the_response_url(
    bolt: Harness,
) -> None:
    @bolt.app.command("/rally")
    def rally(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        bolt.seen.append(command)
        respond(f"you said {command['text']}")

    url = bolt.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    body = payloads.slash_command("help me", user="U0ALICE", channel="C0SALES", response_url=url)
    assert bolt.post(body).status_code == 200
    # Bolt acknowledges first and runs the rest of the listener on its own thread.
    shown = bolt.fake.wait_until(lambda: bolt.fake.ephemerals("C0SALES", "U0ALICE"), timeout=5)
    assert bolt.seen[0]["text"] == "help me" and bolt.seen[0]["channel_id"] == "C0SALES"
    assert [m["text"] for m in shown] == ["you said help me"]


def test_unsigned_and_stale_requests_are_refused(bolt: Harness) -> None:
    body = payloads.slash_command("call")
    assert bolt.http.post("/slack/events", data=body).status_code == 401
    stale = payloads.signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 600)
    assert bolt.http.post("/slack/events", data=body, headers=stale).status_code == 401
    wrong = payloads.signed_headers(body, "another-secret-not-real")
    assert bolt.http.post("/slack/events", data=body, headers=wrong).status_code == 401


def test_modal_submission_carries_state_values_and_errors_come_back(bolt: Harness) -> None:
    @bolt.app.shortcut("log_activity")
    def open_modal(ack: Any, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=shortcut["trigger_id"], view=MODAL)

    @bolt.app.view("log_task")
    def submit(ack: Any, view: dict[str, Any], body: dict[str, Any]) -> None:
        bolt.seen.append((view["state"]["values"], body["user"]["id"]))
        ack(response_action="errors", errors={"subject": "Too vague"})

    trigger = bolt.fake.new_trigger_id("U0CAROL")
    assert (
        bolt.interact(
            payloads.global_shortcut("log_activity", user="U0CAROL", trigger_id=trigger)
        ).status_code
        == 200
    )
    view = bolt.fake.wait_until(lambda: bolt.fake.view_stack("U0CAROL"), timeout=5)[0]
    state = payloads.state_values_for(
        view, {"subject": "Call", "priority": "high", "due_date": "2030-01-31", "flags": ["done"]}
    )
    resp = bolt.interact(payloads.view_submission(view, state, user="U0CAROL"))
    assert resp.status_code == 200
    assert json.loads(resp.data) == {
        "response_action": "errors",
        "errors": {"subject": "Too vague"},
    }
    values, user = bolt.seen[0]
    assert user == "U0CAROL"
    assert values["subject"]["subject"] == {"type": "plain_text_input", "value": "Call"}
    assert values["priority"]["priority"]["selected_option"]["value"] == "high"
    assert values["due"]["due_date"] == {"type": "datepicker", "selected_date": "2030-01-31"}
    assert [o["value"] for o in values["flags"]["flags"]["selected_options"]] == ["done"]


def test_state_values_report_every_input_and_reject_typos() -> None:
    view = dict(MODAL)
    state = payloads.state_values_for(view, {"subject": "x"})
    assert state["priority"]["priority"] == {"type": "static_select", "selected_option": None}
    assert state["flags"]["flags"] == {"type": "checkboxes", "selected_options": []}
    with pytest.raises(KeyError):
        payloads.state_values_for(view, {"subjet": "x"})
    with pytest.raises(ValueError):
        payloads.state_values_for(view, {"priority": "urgent"})


def test_button_in_a_message_replaces_it_through_the_response_url(bolt: Harness) -> None:
    @bolt.app.action("complete")
    def complete(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        bolt.seen.append(body)
        respond(replace_original=True, text="Completed")

    client = WebClient(token=BOT_TOKEN, base_url=bolt.fake.api_url)
    blocks = [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "complete",
                    "value": "t1",
                    "text": {"type": "plain_text", "text": "Complete"},
                }
            ],
        }
    ]
    ts = client.chat_postMessage(channel="C0ACME", text="Reminder", blocks=blocks)["ts"]
    message = bolt.fake.messages("C0ACME")[0]
    button = message["blocks"][0]["elements"][0]
    url = bolt.fake.new_response_url(channel="C0ACME", user="U0BOB", message_ts=ts)
    payload = payloads.block_actions(
        {**button, "block_id": message["blocks"][0]["block_id"]},
        user="U0BOB",
        channel="C0ACME",
        message=message,
        response_url=url,
    )
    assert bolt.interact(payload).status_code == 200
    bolt.fake.wait_for("chat.postMessage")  # posted above; the respond() below is async
    bolt.fake.wait_until(lambda: bolt.fake.response_posts(url), timeout=5)
    assert bolt.seen[0]["container"]["message_ts"] == ts
    assert bolt.seen[0]["actions"][0]["value"] == "t1"
    assert bolt.fake.messages("C0ACME")[0]["text"] == "Completed"


def test_message_shortcut_carries_the_message(bolt: Harness) -> None:
    @bolt.app.shortcut("log_as_note")
    def log_note(ack: Any, shortcut: dict[str, Any]) -> None:
        ack()
        bolt.seen.append(shortcut)

    message = bolt.fake.post_as_user("C0SALES", "U0ALICE", "Acme wants a demo next week")
    assert (
        bolt.interact(payloads.message_shortcut("log_as_note", message, "C0SALES")).status_code
        == 200
    )
    bolt.fake.wait_until(lambda: bolt.seen, timeout=5)
    assert bolt.seen[0]["message"]["text"] == "Acme wants a demo next week"
    assert bolt.seen[0]["channel"]["id"] == "C0SALES"


def test_app_home_opened_event_publishes_the_home(bolt: Harness) -> None:
    @bolt.app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
            },
        )

    body = payloads.event_callback(payloads.app_home_opened("U0DAVE"))
    assert bolt.post(body).status_code == 200
    bolt.fake.wait_until(lambda: bolt.fake.home("U0DAVE"), timeout=5)
    assert bolt.fake.home("U0DAVE")["blocks"][0]["text"]["text"] == "Hi"
