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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from werkzeug.serving import make_server

from devstack.console.app import (
    Console,
    create_console_app,
    links_in,
    read_manifest,
    steps_from_manifest,
    unfurl_domains,
)
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
        manifest = read_manifest("manifest.yml")
        self.console = Console(
            self.fake,
            events_url=f"{origin}/slack/events",
            signing_secret=SIGNING_SECRET,
            steps=steps_from_manifest(manifest),
            unfurl_domains=unfurl_domains(manifest),
            step_timeout_s=10,  # a run the stub never ends does not linger
        )
        self.app = combine(flask.wsgi_app, create_console_app(self.console).wsgi_app)
        self.origin = origin
        self._register()

    def _register(self) -> None:
        bolt = self.bolt
        self.received: list[dict[str, Any]] = []

        @bolt.middleware
        def record(body: dict[str, Any], next: Any) -> Any:
            # Runs within the request, so a test can check what reached the app at once.
            self.received.append(body)
            return next()

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

        @bolt.function("rally_log_activity")
        def log_activity(inputs: dict[str, Any], complete: Any, fail: Any, body: Any) -> None:
            self.seen.append(body)
            if inputs.get("subject") == "bad":
                fail(error="Subject: say what happened")
            else:
                complete(outputs={"activity_id": "act-1", "activity_url": "https://r/act-1"})

        @bolt.function("rally_complete_task")
        def complete_task(inputs: dict[str, Any], complete: Any, body: Any) -> None:
            self.seen.append(body)
            complete(outputs={"activity_id": inputs["activity_id"]})

        @bolt.event("link_shared")
        def shared(event: dict[str, Any], client: WebClient) -> None:
            self.seen.append(event)
            url = event["links"][0]["url"]
            button = {
                "type": "button",
                "action_id": "complete",
                "value": "task-1",
                "text": {"type": "plain_text", "text": "Complete"},
            }
            blocks = [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*Send the SOW*"}},
                {"type": "actions", "block_id": "task", "elements": [button]},
            ]
            client.chat_unfurl(
                channel=event["channel"], ts=event["message_ts"], unfurls={url: {"blocks": blocks}}
            )

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


# ------------------------------------------------------------------ Workflow Builder


def _run(world: World, steps: list[dict[str, Any]], user: str = "U0ALICE") -> dict[str, Any]:
    """Run a workflow from the panel and wait (with a deadline) for it to end."""
    run_id = world.post("workflow", user=user, steps=steps)["run_id"]

    def ended() -> dict[str, Any] | None:
        runs = [r for r in world.state(user)["workflow_runs"] if r["id"] == run_id]
        return runs[0] if runs and runs[0]["status"] != "running" else None

    return dict(world.fake.wait_until(ended, timeout=20))


TWO_STEPS = [
    {
        "callback_id": "rally_log_activity",
        "inputs": {
            "activity_type": {"value": "task"},
            "subject": {"value": "Send the SOW"},
            "due_date": {"value": "2030-03-01T09:00"},
            "logged_by": {"value": "U0BOB"},
        },
    },
    {
        "callback_id": "rally_complete_task",
        "inputs": {"activity_id": {"from_step": 0, "output": "activity_id"}},
    },
]


def test_the_panel_lists_the_manifests_steps_with_their_inputs(world: World) -> None:
    steps = {s["callback_id"]: s for s in world.state()["steps"]}
    assert set(steps) == {"rally_log_activity", "rally_complete_task"}
    log = {p["name"]: p for p in steps["rally_log_activity"]["inputs"]}
    assert log["subject"]["required"] and not log["body"]["required"]
    assert log["due_date"]["type"] == "slack#/types/timestamp"
    assert log["activity_type"]["enum"] == ["note", "task", "call", "meeting"]
    assert [p["name"] for p in steps["rally_complete_task"]["outputs"]] == ["activity_id"]


def test_a_two_step_workflow_feeds_the_first_steps_output_into_the_second(world: World) -> None:
    run = _run(world, TWO_STEPS)
    assert run["status"] == "completed"
    first, second = run["steps"]
    assert first["outputs"] == {"activity_id": "act-1", "activity_url": "https://r/act-1"}
    assert second["inputs"] == {"activity_id": "act-1"}  # the variable, filled in
    assert second["outputs"] == {"activity_id": "act-1"}
    # Each step arrived as Slack's event: its own execution id and its own token.
    events = [
        b["event"] for b in world.seen if b.get("event", {}).get("type") == "function_executed"
    ]
    assert [e["function"]["callback_id"] for e in events] == [s["callback_id"] for s in TWO_STEPS]
    assert len({e["function_execution_id"] for e in events}) == 2
    assert all(e["workflow_execution_id"] == run["id"] for e in events)
    tokens = [e["bot_access_token"] for e in events]
    assert len(set(tokens)) == 2 and all(t.startswith("xwfp-") for t in tokens)
    # Typed values are Slack's: a timestamp in the person's zone as epoch seconds.
    expected = int(datetime(2030, 3, 1, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp())
    assert events[0]["inputs"]["due_date"] == expected
    assert events[0]["inputs"]["logged_by"] == "U0BOB"
    ended = [c for c in world.fake.calls() if c.method.startswith("functions.")]
    assert [c.token for c in ended] == tokens  # each step ended with its own token
    assert "xwfp-" not in str(world.state()["workflow_runs"])  # the page never sees them


def test_a_failed_step_shows_its_message_and_ends_the_run(world: World) -> None:
    steps = [
        {**TWO_STEPS[0], "inputs": {"subject": {"value": "bad"}}},
        TWO_STEPS[1],
    ]
    run = _run(world, steps)
    assert run["status"] == "failed"
    first, second = run["steps"]
    assert (first["status"], first["error"]) == ("failed", "Subject: say what happened")
    assert second["status"] == "waiting" and second["execution_id"] is None
    assert len(world.fake.calls("functions.completeError")) == 1


@pytest.mark.parametrize(
    ("steps", "says"),
    [
        ([{"callback_id": "rally_log_activity", "inputs": {}}], "Subject is required"),
        ([{"callback_id": "nope", "inputs": {}}], "the app has no step 'nope'"),
        (
            [{"callback_id": "rally_complete_task", "inputs": {"activity_id": {"from_step": 0}}}],
            "only come from an earlier step",
        ),
        (
            [
                {"callback_id": "rally_log_activity", "inputs": {"subject": {"value": "x"}}},
                {
                    "callback_id": "rally_complete_task",
                    "inputs": {"activity_id": {"from_step": 0, "output": "secret"}},
                },
            ],
            "step 1 has no output 'secret'",
        ),
        (
            [
                {
                    "callback_id": "rally_log_activity",
                    "inputs": {"subject": {"value": "x"}, "priority": {"value": "huge"}},
                }
            ],
            "one of low, normal, high, urgent",
        ),
        ([], "between 1 and 10 steps"),
        ("not a list", "between 1 and 10 steps"),
    ],
)
def test_a_workflow_builder_would_not_publish_is_refused_with_a_sentence(
    world: World, steps: Any, says: str
) -> None:
    response = httpx.post(
        f"{world.origin}/console/workflow", json={"user": "U0ALICE", "steps": steps}
    )
    assert response.status_code == 400
    assert says in response.json()["error"]
    assert world.received == [] and world.state()["workflow_runs"] == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_INPUT_NAMES = st.sampled_from(["subject", "activity_type", "due_date", "logged_by", "activity_id"])
_ENTRY = st.fixed_dictionaries({}, optional={"value": _JSON, "from_step": _JSON, "output": _JSON})
_STEP = st.fixed_dictionaries(
    {
        "callback_id": st.sampled_from(["rally_log_activity", "rally_complete_task", "x"]) | _JSON,
        "inputs": st.dictionaries(_INPUT_NAMES, _ENTRY | _JSON, max_size=4) | _JSON,
    }
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_STEP | _JSON, max_size=3) | _JSON)
def test_any_workflow_is_run_or_refused_with_a_sentence_never_a_500(
    world: World, steps: Any
) -> None:
    response = httpx.post(
        f"{world.origin}/console/workflow", json={"user": "U0ALICE", "steps": steps}, timeout=10
    )
    assert response.status_code in (200, 400), response.text
    body = response.json()
    assert body["ok"] if response.status_code == 200 else body["error"].endswith(".")


# ------------------------------------------------------------------ unfurls


def test_links_are_found_as_slack_finds_them() -> None:
    text = "see <https://a.test/x|this>, https://b.test/y. and (https://c.test/z) https://a.test/x"
    assert links_in(text) == ["https://a.test/x", "https://b.test/y", "https://c.test/z"]
    assert unfurl_domains({}, "https://rally.test/app") == ("rally.test",)


def test_a_link_to_an_unfurl_domain_is_shared_unfurled_and_its_buttons_work(world: World) -> None:
    url = "https://rally.example.com/activities/a1"
    text = f"Can someone take {url}? Also https://elsewhere.test/x"
    ts = world.post("send", user="U0ALICE", channel="C0SALES", text=text)["ts"]
    (event,) = [
        b["event"] for b in world.received if b.get("event", {}).get("type") == "link_shared"
    ]
    assert event["links"] == [{"domain": "rally.example.com", "url": url}]
    assert (event["channel"], event["message_ts"], event["source"]) == (
        "C0SALES",
        ts,
        "conversations_history",
    )
    assert event["unfurl_id"] and event["user"] == "U0ALICE"
    # Bolt runs the event listener after acknowledging: wait for its chat.unfurl.
    (shown,) = world.fake.wait_until(
        lambda: [m for m in world.state("U0BOB")["messages"]["C0SALES"] if m.get("unfurls")]
    )
    assert shown["text"] == text and shown["unfurls"][0]["url"] == url

    result = world.post(
        "action",
        user="U0BOB",
        channel="C0SALES",
        message_ts=ts,
        block_id="task",
        action_id="complete",
        unfurl_url=url,
    )
    assert result["ok"]
    body = world.fake.wait_until(
        lambda: [s for s in world.seen if s.get("type") == "block_actions"]
    )[0]
    assert body["container"]["is_app_unfurl"] is True
    assert body["container"]["app_unfurl_url"] == url
    assert body["container"]["message_ts"] == ts and body["actions"][0]["value"] == "task-1"
    assert body["message"]["text"] == text
    # The unfurl's response URL cannot overwrite the person's own message.
    world.fake.wait_until(lambda: world.fake.response_posts())
    assert world.fake.messages("C0SALES")[0]["text"] == text


def test_messages_without_unfurlable_links_send_nothing(world: World) -> None:
    world.post("send", user="U0ALICE", channel="C0SALES", text="see https://elsewhere.test/x")
    assert world.received == []
    assert "unfurls" not in world.state()["messages"]["C0SALES"][0]


def test_a_click_on_an_unfurl_that_does_not_exist_is_refused(world: World) -> None:
    msg = world.fake.post_as_user("C0SALES", "U0ALICE", "hi")
    response = httpx.post(
        f"{world.origin}/console/action",
        json={
            "user": "U0BOB",
            "channel": "C0SALES",
            "message_ts": msg["ts"],
            "block_id": "task",
            "action_id": "complete",
            "unfurl_url": "https://rally.example.com/activities/zzz",
        },
    )
    assert response.status_code == 404 and world.received == []
