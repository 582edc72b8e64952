"""The console's server side: each gesture reaches a Bolt app as Slack's request would, and
the app's answer is applied as Slack applies it. A small Bolt app stands in for the bot
here so each Slack rule (ack bodies, response actions, the 3-second deadline) is pinned."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from flask import Flask, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from werkzeug.serving import make_server

from devstack.console.app import Console, create_console_app
from devstack.dev import combine
from devstack.fake_slack.server import FakeSlack
from tests.fixtures.slack import BOT_TOKEN, SIGNING_SECRET

MODAL = {
    "type": "modal",
    "callback_id": "form",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "when",
            "label": {"type": "plain_text", "text": "When"},
            "element": {"type": "datetimepicker", "action_id": "when_input"},
        },
        {
            "type": "input",
            "block_id": "what",
            "label": {"type": "plain_text", "text": "What"},
            "element": {"type": "plain_text_input", "action_id": "what_input"},
        },
    ],
}


class World:
    def __init__(self) -> None:
        self.fake = FakeSlack(bot_token=BOT_TOKEN)
        self.seen: list[dict[str, Any]] = []
        self.answer: dict[str, Any] = {}
        self.delay_s = 0.0
        self.bolt = App(
            signing_secret=SIGNING_SECRET,
            client=WebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/"),
            token_verification_enabled=False,  # the fake is served below, port known later
        )
        flask = Flask("stub-bot")
        handler = SlackRequestHandler(self.bolt)

        @flask.post("/slack/events")
        def events() -> Any:
            time.sleep(self.delay_s)  # a slow app, to cross Slack's deadline on purpose
            if self.answer.get("status"):
                return "boom", self.answer["status"]
            return handler.handle(request)

        self.server = make_server("127.0.0.1", 0, lambda e, s: self.app(e, s), threaded=True)
        origin = f"http://127.0.0.1:{self.server.server_port}"
        self.fake.base_url = f"{origin}/console"
        self.bolt.client.base_url = f"{origin}/console/api/"
        self.console = Console(
            self.fake, events_url=f"{origin}/slack/events", signing_secret=SIGNING_SECRET
        )
        self.app = combine(flask.wsgi_app, create_console_app(self.console).wsgi_app)
        self.origin = origin
        self._register()

    def _register(self) -> None:
        bolt = self.bolt

        @bolt.command("/rally")
        def command(ack: Any, command: dict[str, Any], client: WebClient) -> None:
            self.seen.append(command)
            text = command["text"]
            if text == "open":
                ack()
                client.views_open(trigger_id=command["trigger_id"], view=MODAL)
            elif text == "shout":
                ack(response_type="in_channel", text="Heard by all")
            elif text == "buttons":
                ack()
                client.chat_postMessage(
                    channel=command["channel_id"],
                    text="Reminder",
                    blocks=[
                        {
                            "type": "section",
                            "text": {"type": "mrkdwn", "text": "Reminder: *call Acme*"},
                        },
                        {
                            "type": "actions",
                            "block_id": "reminder",
                            "elements": [
                                {
                                    "type": "button",
                                    "action_id": "complete",
                                    "value": "task-1",
                                    "text": {"type": "plain_text", "text": "Complete"},
                                }
                            ],
                        },
                    ],
                )
            else:
                ack(f"You said {text}")

        @bolt.action("complete")
        def complete(ack: Any, body: dict[str, Any], respond: Any) -> None:
            ack()
            self.seen.append(body)
            respond(replace_original=True, text=f"Completed by <@{body['user']['id']}>")

        @bolt.view("form")
        def submit(ack: Any, view: dict[str, Any]) -> None:
            self.seen.append(view)
            ack(**self.answer)

        @bolt.event("app_home_opened")
        def home(event: dict[str, Any], client: WebClient) -> None:
            client.views_publish(
                user_id=event["user"],
                view={
                    "type": "home",
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": "Your tasks"}}
                    ],
                },
            )

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.origin}/console/{path}", json=body, timeout=10)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def state(self, user: str = "U0ALICE") -> dict[str, Any]:
        return dict(httpx.get(f"{self.origin}/console/state", params={"user": user}).json())


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    thread = threading.Thread(target=w.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield w
    finally:
        w.server.shutdown()
        w.server.server_close()


def test_page_and_assets_are_served_under_console(world: World) -> None:
    root = httpx.get(world.origin + "/")
    assert root.status_code == 302 and root.headers["Location"] == "/console/"
    page = httpx.get(world.origin + "/console/")
    assert page.status_code == 200 and "static/console.js" in page.text
    assert httpx.get(world.origin + "/console/static/console.js").status_code == 200
    assert httpx.get(world.origin + "/console/static/../app.py").status_code == 404


def test_an_ack_body_is_shown_to_the_person_only(world: World) -> None:
    assert world.post("send", user="U0ALICE", channel="C0SALES", text="/rally hello")["ok"]
    assert [m["text"] for m in world.fake.ephemerals("C0SALES", "U0ALICE")] == ["You said hello"]
    assert world.fake.ephemerals("C0SALES", "U0BOB") == []
    shown = world.state("U0ALICE")["messages"]["C0SALES"]
    assert shown[0]["is_ephemeral"] and world.state("U0BOB")["messages"]["C0SALES"] == []
    assert world.seen[0]["channel_name"] == "sales" and world.seen[0]["user_id"] == "U0ALICE"


def test_in_channel_ack_is_shown_to_everyone(world: World) -> None:
    world.post("send", user="U0ALICE", channel="C0SALES", text="/rally shout")
    assert [m["text"] for m in world.fake.messages("C0SALES")] == ["Heard by all"]


def test_plain_messages_do_not_reach_the_app_and_unknown_commands_are_refused(world: World) -> None:
    world.post("send", user="U0BOB", channel="C0ACME", text="hello team")
    assert [m["text"] for m in world.fake.messages("C0ACME")] == ["hello team"]
    result = world.post("send", user="U0BOB", channel="C0ACME", text="/nope x")
    assert result["error"] == "unknown_command"
    assert world.seen == []
    assert "/nope is not a valid command" in world.state("U0BOB")["notices"][0]["text"]


def test_a_slow_app_is_reported_as_slack_reports_it(world: World) -> None:
    world.console.ack_deadline_s = 0.2
    world.delay_s = 0.3
    result = world.post("send", user="U0ALICE", channel="C0SALES", text="/rally hello")
    assert not result["ok"]
    (notice,) = world.state()["notices"]
    assert "operation_timeout" in notice["text"]


def test_an_app_error_is_reported(world: World) -> None:
    world.answer = {"status": 500}
    world.post("send", user="U0ALICE", channel="C0SALES", text="/rally hello")
    assert "http_service_error" in world.state()["notices"][0]["text"]


def test_buttons_send_block_actions_and_replace_the_message(world: World) -> None:
    world.post("send", user="U0ALICE", channel="C0ACME", text="/rally buttons")
    message = world.fake.wait_until(lambda: world.fake.messages("C0ACME"))[0]
    result = world.post(
        "action",
        user="U0BOB",
        channel="C0ACME",
        message_ts=message["ts"],
        block_id="reminder",
        action_id="complete",
    )
    assert result["ok"]
    body = world.fake.wait_until(
        lambda: [s for s in world.seen if s.get("type") == "block_actions"]
    )[0]
    assert body["actions"][0]["value"] == "task-1"
    assert body["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": "C0ACME",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == message["ts"] and body["user"]["id"] == "U0BOB"
    world.fake.wait_until(lambda: world.fake.messages("C0ACME")[0]["text"].startswith("Completed"))
    assert world.fake.messages("C0ACME")[0]["text"] == "Completed by <@U0BOB>"


def _open(world: World, user: str = "U0BOB") -> dict[str, Any]:
    world.post("send", user=user, channel="C0SALES", text="/rally open")
    return world.fake.wait_until(lambda: world.fake.view_stack(user))[-1]


def test_submission_errors_are_put_on_their_blocks(world: World) -> None:
    view = _open(world)
    world.answer = {"response_action": "errors", "errors": {"what": "Say what"}}
    result = world.post(
        "submit", user="U0BOB", view_id=view["id"], form={"what": {"what_input": ""}}
    )
    assert result["response_action"] == "errors"
    (modal,) = world.state("U0BOB")["modals"]
    assert modal["errors"] == {"what": "Say what"}


def test_pickers_are_read_in_the_persons_time_zone(world: World) -> None:
    view = _open(world, "U0BOB")  # Asia/Tokyo
    form = {"when": {"when_input": "2030-03-01T09:00"}, "what": {"what_input": "Call"}}
    world.post("submit", user="U0BOB", view_id=view["id"], form=form)
    values = world.seen[-1]["state"]["values"]
    expected = int(datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp())
    assert values["when"]["when_input"] == {
        "type": "datetimepicker",
        "selected_date_time": expected,
    }
    assert values["what"]["what_input"] == {"type": "plain_text_input", "value": "Call"}
    assert world.state("U0BOB")["modals"] == []  # an empty ack closes the modal


@pytest.mark.parametrize(
    ("answer", "stack"),
    [
        (
            {
                "response_action": "update",
                "view": {**MODAL, "title": {"type": "plain_text", "text": "Again"}},
            },
            ["Again"],
        ),
        (
            {
                "response_action": "push",
                "view": {**MODAL, "title": {"type": "plain_text", "text": "Next"}},
            },
            ["Form", "Next"],
        ),
        ({"response_action": "clear"}, []),
    ],
)
def test_response_actions_change_the_modal_stack(
    world: World, answer: dict[str, Any], stack: list[str]
) -> None:
    view = _open(world)
    world.answer = answer
    world.post("submit", user="U0BOB", view_id=view["id"], form={})
    assert [m["title"]["text"] for m in world.state("U0BOB")["modals"]] == stack


def test_an_invalid_view_in_a_response_action_keeps_the_modal_and_says_why(world: World) -> None:
    view = _open(world)
    world.answer = {
        "response_action": "update",
        "view": {**MODAL, "title": {"type": "plain_text", "text": "x" * 30}},
    }
    world.post("submit", user="U0BOB", view_id=view["id"], form={})
    (modal,) = world.state("U0BOB")["modals"]
    assert "title must be between 1 and 24 characters" in modal["problem"]


def test_closing_a_modal(world: World) -> None:
    view = _open(world)
    world.post("close", user="U0BOB", view_id=view["id"])
    assert world.state("U0BOB")["modals"] == []


def test_home_tab_is_published_when_opened(world: World) -> None:
    world.post("home", user="U0CAROL")
    home = world.fake.wait_until(lambda: world.state("U0CAROL")["home"])
    assert home["blocks"][0]["text"]["text"] == "Your tasks"


def test_message_shortcut_carries_the_message(world: World) -> None:
    seen: list[dict[str, Any]] = []

    @world.bolt.shortcut("log_as_note")
    def note(ack: Any, shortcut: dict[str, Any]) -> None:
        ack()
        seen.append(shortcut)

    msg = world.fake.post_as_user("C0ACME", "U0ALICE", "Budget approved")
    world.post(
        "shortcut", user="U0BOB", callback_id="log_as_note", channel="C0ACME", message_ts=msg["ts"]
    )
    world.fake.wait_until(lambda: seen)
    assert seen[0]["message"]["text"] == "Budget approved" and seen[0]["user"]["id"] == "U0BOB"


def test_state_long_poll_returns_on_change(world: World) -> None:
    version = world.state()["version"]
    result: list[dict[str, Any]] = []
    thread = threading.Thread(
        target=lambda: result.append(
            httpx.get(
                f"{world.origin}/console/state",
                params={"user": "U0ALICE", "since": version, "wait": 10},
                timeout=15,
            ).json()
        )
    )
    started = time.monotonic()
    thread.start()
    world.fake.post_as_user("C0SALES", "U0BOB", "ping")
    thread.join(timeout=12)
    assert result and result[0]["version"] > version
    assert time.monotonic() - started < 5


def test_bad_requests_are_refused(world: World) -> None:
    assert (
        httpx.post(f"{world.origin}/console/send", json={"channel": "C0SALES"}).status_code == 400
    )
    assert httpx.post(f"{world.origin}/console/send", json={"user": "U0NOBODY"}).status_code == 400


def test_permalinks_open_their_channel_in_the_console(world: World) -> None:
    world.fake.permalink_base = f"{world.origin}/console"
    msg = world.fake.post_as_user("C0ACME", "U0ALICE", "Budget approved")
    client = WebClient(token=BOT_TOKEN, base_url=world.fake.api_url)
    link = client.chat_getPermalink(channel="C0ACME", message_ts=msg["ts"])["permalink"]
    response = httpx.get(link, follow_redirects=True)
    assert response.status_code == 200 and str(response.url).endswith("/console/?channel=C0ACME")


def test_another_workspace_is_added_only_when_the_bot_runs_with_oauth(world: World) -> None:
    refused = httpx.post(f"{world.origin}/console/workspaces", json={"name": "Globex"})
    assert refused.status_code == 409
    world.console.oauth = True
    added = httpx.post(f"{world.origin}/console/workspaces", json={"name": "Globex"}).json()
    team = added["team"]
    assert added["install"] == f"/slack/install?team={team}"
    state = httpx.get(
        f"{world.origin}/console/state", params={"team": team, "user": "U0ALICE"}
    ).json()
    # Alice is not in Globex: the page is shown to its first person, in its channels.
    assert state["team"] == {"id": team, "name": "Globex"}
    assert state["user"] != "U0ALICE" and state["user"] in {p["id"] for p in state["people"]}
    assert {c["name"] for c in state["channels"] if not c["is_im"]} == {"sales", "general"}
    assert [(w["name"], w["installed"]) for w in state["workspaces"]] == [
        ("Rally Dev", False),
        ("Globex", False),
    ]
    # A gesture names a person of the workspace it is made in.
    wrong = httpx.post(
        f"{world.origin}/console/send",
        json={"team": team, "user": "U0ALICE", "channel": "C0SALES", "text": "hi"},
    )
    assert wrong.status_code == 400
    unknown = httpx.get(f"{world.origin}/console/state", params={"team": "T0NOPE"})
    assert unknown.status_code == 404
