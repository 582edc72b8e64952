"""Fuzz: malformed, missing, oversized and forged values through signed requests.

Every listener the app registers has a well-formed seed request here (a test fails when a
new listener has none). Each seed is then sent again with one value changed at each path
of its payload (a wrong type, an empty or invisible or oversized string, a forged id) or
with that key removed, all signed, to the real ``/slack/events`` endpoint. Whatever the
request, the app must answer below 500 within Slack's 3 seconds, log no traceback and no
error, and what reaches Rally afterwards (burst workers run) must be made only of the
seeds' own well-formed values.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.listeners import all_listeners
from devstack.fake_slack import payloads
from slack_ui import ids
from slack_ui.modals import (
    build_connect_personal,
    build_connect_rally,
    build_log_modal,
    build_thread_note_modal,
    build_type_chooser,
)
from slack_ui.tasks import button_value
from tests.e2e.harness import APP_URL, DEAL_ID, Rally

TASK_ID = "5a1c0de0-ac3e-4d3a-9e55-000000000001"
SUBMISSION_ID = "0" * 32
SUBJECTS = {"Fuzzed note", "Fuzzed task", "Fuzzed call", "Fuzzed meeting", "Seed"}
BODIES = {"Seed body", None}

BAD: tuple[Any, ...] = (
    None,
    0,
    -1,
    True,
    False,
    1e20,
    "",
    " ",
    "\u200b\u200d\u2060",
    "\x00\x07\x1b",
    "x" * 5000,
    "2025-13-45",
    "abc",
    [],
    [1],
    {},
    {"a": {"b": [1]}},
    "1m " * 100 + "!",
    "<!channel> <@U0BOB|bob>",
    "U0ALICE\n",
    TASK_ID + "\n",
    f"{TASK_ID}:99999999999",
    "../../../etc/passwd",
    "https://evil.example/hook",
    '{"not": "the type"}',
)
DELETE = object()
# What a value that is not text would become if something coerced it (the probe saw
# subjects stored as "17", "True" and a dict's repr).
COERCED = {str(v) for v in BAD if not isinstance(v, str)} | {
    json.dumps(v) for v in BAD if not isinstance(v, str)
}
# A text value is a person's text, however odd; it may become a subject if visible.
TYPED = {v.strip() for v in BAD if isinstance(v, str) and v.strip().isprintable() and len(v) <= 500}


def _seeds(rally: Rally) -> list[tuple[str, str, Any]]:
    """(kind, name, payload): one well-formed request per listener."""
    fake = rally.fake
    url = fake.new_response_url(channel="C0SALES", user="U0ALICE")
    seeds: list[tuple[str, str, Any]] = []
    for text in (
        "",
        "note Seed",
        "task Seed due:tomorrow !high",
        'call Seed for:30m dir:out outcome:"left message"',
        "meeting Seed at:friday for:1h",
        "call",
        "tasks",
        f"link deal {DEAL_ID}",
        f'link deal {DEAL_ID} "Seed deal"',
        f'name deal {DEAL_ID} "Seed deal renamed"',
        "link",
        "unlink",
        "me",
        "digest on 08:30",
        "digest",
        "digest off",
    ):
        seeds.append(("command", f"/rally {text}", dict(_command_fields(text, url))))
    message = {"ts": "1700000000.000100", "text": "Seed", "user": "U0BOB"}
    for kind in ids.ACTIVITY_TYPES:
        seeds.append(
            (
                "interactive",
                ids.open_modal_action(kind),
                payloads.block_actions(
                    {"type": "button", "action_id": ids.open_modal_action(kind), "value": kind},
                    channel="C0SALES",
                    message=message,
                    response_url=url,
                    trigger_id=fake.new_trigger_id("U0ALICE"),
                ),
            )
        )
        chooser = build_type_chooser(metadata={"channel": "C0SALES"}).to_dict()
        seeds.append(
            (
                "interactive",
                ids.choose_type_action(kind),
                payloads.block_actions(
                    {"type": "button", "action_id": ids.choose_type_action(kind), "value": kind},
                    view=chooser,
                ),
            )
        )
        view = build_log_modal(kind, metadata={"channel": "C0SALES", "response_url": url}).to_dict()
        values = {ids.SUBJECT: f"Fuzzed {kind}", ids.BODY: "Seed body"}
        if kind == "task":
            values |= {ids.DUE: int(time.time()) + 86_400, ids.PRIORITY: "high"}
        if kind == "call":
            values |= {ids.DURATION: "30", ids.OUTCOME: "connected"}
        if kind == "meeting":
            values |= {ids.START: int(time.time()) + 3600, ids.MEETING_URL: "https://m.example/x"}
        seeds.append(
            (
                "interactive",
                ids.LOG_VIEWS[kind],
                payloads.view_submission(view, payloads.state_values_for(view, values)),
            )
        )
    for action_id in (*ids.TASK_ACTION_IDS, ids.TASKS_MORE, ids.EDIT_AND_RETRY_ACTION):
        value = {
            ids.TASKS_MORE: "10",
            ids.EDIT_AND_RETRY_ACTION: SUBMISSION_ID,
        }.get(action_id, button_value(TASK_ID, 1_900_000_000))
        seeds.append(
            (
                "interactive",
                action_id,
                payloads.block_actions(
                    {"type": "button", "action_id": action_id, "value": value},
                    channel="C0SALES",
                    message=message,
                    response_url=url,
                ),
            )
        )
    seeds.append(
        (
            "interactive",
            ids.LOG_ACTIVITY_SHORTCUT,
            payloads.global_shortcut("log_activity", trigger_id=fake.new_trigger_id("U0ALICE")),
        )
    )
    seeds.append(
        (
            "interactive",
            ids.LOG_AS_NOTE_SHORTCUT,
            payloads.message_shortcut(
                ids.LOG_AS_NOTE_SHORTCUT,
                message,
                "C0SALES",
                response_url=url,
                trigger_id=fake.new_trigger_id("U0ALICE"),
            ),
        )
    )
    # Log thread as note: a thread parent (its ts names no thread the fake holds, so the
    # job tells the person it cannot find it, and nothing is created).
    thread_parent = {**message, "thread_ts": message["ts"], "reply_count": 3}
    seeds.append(
        (
            "interactive",
            ids.LOG_THREAD_SHORTCUT,
            payloads.message_shortcut(
                ids.LOG_THREAD_SHORTCUT,
                thread_parent,
                "C0SALES",
                response_url=url,
                trigger_id=fake.new_trigger_id("U0ALICE"),
            ),
        )
    )
    thread_view = build_thread_note_modal(
        metadata={"channel": "C0SALES", "thread_ts": message["ts"], "response_url": url}
    ).to_dict()
    seeds.append(
        (
            "interactive",
            ids.LOG_THREAD_VIEW,
            payloads.view_submission(
                thread_view,
                payloads.state_values_for(thread_view, {ids.SUBJECT: "Seed", ids.DEAL: DEAL_ID}),
            ),
        )
    )
    seeds.append(
        (
            "event",
            ids.APP_HOME_OPENED,
            json.loads(payloads.event_callback(payloads.app_home_opened())),
        )
    )
    # A workspace leaving: team T0OTHER, so the fuzz never forgets the one under test.
    leaving = {"type": ids.APP_UNINSTALLED}
    seeds.append(
        ("event", ids.APP_UNINSTALLED, json.loads(payloads.event_callback(leaving, team="T0OTHER")))
    )
    revoked = {"type": ids.TOKENS_REVOKED, "tokens": {"oauth": ["U0ALICE"], "bot": []}}
    seeds.append(("event", ids.TOKENS_REVOKED, json.loads(payloads.event_callback(revoked))))
    for step, inputs in (
        (ids.LOG_ACTIVITY_STEP, {"activity_type": "note", "subject": "Seed", "body": "Seed body"}),
        (ids.COMPLETE_TASK_STEP, {"activity_id": TASK_ID}),
    ):
        executed = {
            "type": ids.FUNCTION_EXECUTED,
            "function": {"id": "Fn0SEED", "callback_id": step},
            "inputs": inputs,
            "function_execution_id": f"Fx0{step.upper()[-6:]}",
            "bot_access_token": "xwfp-fuzz-not-real",
        }
        seeds.append(("event", step, json.loads(payloads.event_callback(executed))))
    shared = payloads.link_shared(
        [f"{APP_URL}/activities/{TASK_ID}", f"{APP_URL}/deals/{DEAL_ID}", "https://x.example/"]
    )
    seeds.append(("event", ids.LINK_SHARED, json.loads(payloads.event_callback(shared))))
    csv_share = fake.share_file(
        None, "U0ALICE", "seed.csv", b"activityType,subject,body\nnote,Seed,Seed body\n"
    )
    seeds.append(
        (
            "event",
            ids.MESSAGE,
            json.loads(payloads.event_callback(payloads.file_share(csv_share))),
        )
    )
    seeds.append(
        (
            "interactive",
            ids.IMPORT_CSV_ACTION,
            payloads.block_actions(
                {"type": "button", "action_id": ids.IMPORT_CSV_ACTION, "value": "0" * 32},
                channel=csv_share["channel"],
                message={"ts": "1700000000.000200", "text": "Seed", "user": "U0RALLYBOT"},
                response_url=url,
            ),
        )
    )
    seeds.append(
        (
            "interactive",
            ids.COMPLETE_ACTION,
            payloads.block_actions(
                {
                    "type": "button",
                    "action_id": ids.COMPLETE_ACTION,
                    "value": button_value(TASK_ID, 1_900_000_000),
                },
                channel="C0SALES",
                message=message,
                response_url=url,
                unfurl_url=f"{APP_URL}/activities/{TASK_ID}",
            ),
        )
    )
    seeds.append(
        (
            "interactive",
            ids.COMPLETE_ACTION,
            payloads.block_actions(
                {
                    "type": "button",
                    "action_id": ids.COMPLETE_ACTION,
                    "block_id": ids.digest_row_block(TASK_ID),
                    "value": button_value(TASK_ID, 1_900_000_000),
                },
                channel="C0ACME",
                message=message,
                response_url=url,
            ),
        )
    )
    for action_id in (ids.ACTIVITY_EDIT_ACTION, ids.ACTIVITY_DELETE_ACTION):
        seeds.append(
            (
                "interactive",
                action_id,
                payloads.block_actions(
                    {"type": "button", "action_id": action_id, "value": TASK_ID},
                    channel="C0SALES",
                    is_ephemeral=True,
                    response_url=url,
                    trigger_id=fake.new_trigger_id("U0ALICE"),
                ),
            )
        )
    edit_view = build_log_modal(
        "note",
        metadata={"activity_id": TASK_ID, "type": "note", "response_url": url},
        editing=True,
    ).to_dict()
    seeds.append(
        (
            "interactive",
            ids.EDIT_VIEW,
            payloads.view_submission(
                edit_view, payloads.state_values_for(edit_view, {ids.SUBJECT: "Seed"})
            ),
        )
    )
    for action_id, value in (
        (ids.CONNECT_RALLY_ACTION, "open"),
        (ids.CONNECT_PERSONAL_ACTION, "open"),
        (ids.OWNER_SELF_SERVICE_ACTION, "on"),
    ):
        seeds.append(
            (
                "interactive",
                action_id,
                payloads.block_actions(
                    {"type": "button", "action_id": action_id, "value": value},
                    view={"id": "VHOME", "type": "home"},
                    trigger_id=fake.new_trigger_id("U0ALICE"),
                ),
            )
        )
    log_view = build_log_modal("call", metadata={"channel": "C0SALES"}).to_dict()
    for block, typed in ((ids.DEAL, "acm"), (ids.COMPANY, DEAL_ID), (ids.CONTACT, "")):
        seeds.append(
            (
                "interactive",
                ids.input_action(block),
                payloads.block_suggestion(
                    log_view, block_id=block, action_id=ids.input_action(block), value=typed
                ),
            )
        )
    for callback_id, builder, values in (
        (
            ids.CONNECT_RALLY_VIEW,
            build_connect_rally,
            {ids.RALLY_URL: "https://acme.rallycrm.io", ids.API_KEY: "rk_fuzz_not_a_real_key"},
        ),
        (ids.CONNECT_PERSONAL_VIEW, build_connect_personal, {ids.API_KEY: "rk_fuzz_not_real_2"}),
    ):
        view = builder().to_dict()
        seeds.append(
            (
                "interactive",
                callback_id,
                payloads.view_submission(view, payloads.state_values_for(view, values)),
            )
        )
    return seeds


def _command_fields(text: str, response_url: str) -> dict[str, str]:
    body = payloads.slash_command(text, response_url=response_url)
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def _encode(kind: str, payload: Any) -> bytes:
    if kind == "command":
        if isinstance(payload, dict):
            return urlencode({k: _form_text(v) for k, v in payload.items()}).encode()
        return urlencode({"command": _form_text(payload)}).encode()
    if kind == "event":
        return json.dumps(payload).encode()
    return payloads.interactive_body(payload)  # type: ignore[arg-type]


def _form_text(value: Any) -> str:
    # A form carries only text: a non-string arrives as its JSON spelling.
    return value if isinstance(value, str) else json.dumps(value)


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> Iterator[tuple[Any, ...]]:
    if depth > 6:
        return
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key), depth + 1)
    elif isinstance(value, list):
        for i, child in enumerate(value[:3]):
            yield (*prefix, i)
            yield from _paths(child, (*prefix, i), depth + 1)


def _mutate(payload: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    copy = json.loads(json.dumps(payload))
    target = copy
    for part in path[:-1]:
        target = target[part]
    if replacement is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = replacement
    return copy


class Sender:
    """Sends signed requests and checks every answer is one Slack could live with."""

    def __init__(self, rally: Rally, caplog: pytest.LogCaptureFixture) -> None:
        self.rally = rally
        self.caplog = caplog
        self.sent = 0

    def send(self, body: bytes, what: str) -> None:
        started = time.monotonic()
        response = self.rally.post(body)
        elapsed = time.monotonic() - started
        self.sent += 1
        assert response.status_code < 500, (what, response.status_code, response.data[:300])
        assert elapsed < 2.5, (what, elapsed)
        self.check_logs(what)

    def check_logs(self, what: str) -> None:
        bad = [
            r
            for r in self.caplog.records
            if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()
        ]
        assert not bad, (what, [(r.name, r.getMessage()[:300]) for r in bad])

    def check_rally(self) -> None:
        """Run the workers; whatever reached Rally is made of the seeds' own values."""
        self.rally.work()
        self.check_logs("workers")
        for activity in self.rally.activities():
            assert activity["subject"] in SUBJECTS | TYPED, activity
            assert activity["subject"] not in COERCED, activity
            assert activity["body"] in BODIES | TYPED, activity
            for field in ("dueDate", "scheduledAt"):
                assert (activity.get(field) or "2001") >= "2001", activity
        failed = self.rally.redis.keys("rq:registry:failed:*")
        assert not [k for k in failed if self.rally.redis.zcard(k)], "a job failed"


@pytest.fixture
def sender(rally: Rally, caplog: pytest.LogCaptureFixture) -> Sender:
    caplog.set_level(logging.INFO)
    return Sender(rally, caplog)


def test_every_registered_listener_has_a_seed(rally: Rally) -> None:
    seeded = {name for _, name, _ in _seeds(rally)}
    for listener in all_listeners():
        kind, constraint = listener.kind, listener.constraint
        if kind == "command":
            assert any(name.startswith(constraint) for name in seeded), constraint
        elif hasattr(constraint, "pattern"):
            assert any(constraint.match(name) for name in seeded), constraint.pattern
        else:
            assert constraint in seeded, (kind, constraint)


def test_the_seeds_themselves_are_answered_well(rally: Rally, sender: Sender) -> None:
    for kind, name, payload in _seeds(rally):
        sender.send(_encode(kind, payload), name)
    sender.check_rally()
    assert {a["subject"] for a in rally.activities()} >= {"Fuzzed note", "Seed"}


def test_one_bad_value_at_every_path_of_every_seed(rally: Rally, sender: Sender) -> None:
    choices = (*BAD, DELETE)
    n = 0
    for kind, name, payload in _seeds(rally):
        for path in _paths(payload):
            replacement = choices[n % len(choices)]
            n += 1
            sender.send(_encode(kind, _mutate(payload, path, replacement)), f"{name} {path}")
    assert sender.sent > 500
    sender.check_rally()


@settings(
    # RALLY_FUZZ_EXAMPLES=5000 RALLY_FUZZ_SEED=random for a longer, different hunt.
    max_examples=int(os.environ.get("RALLY_FUZZ_EXAMPLES", "150")),
    derandomize=os.environ.get("RALLY_FUZZ_SEED") != "random",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_bad_values_anywhere(rally: Rally, sender: Sender, data: st.DataObject) -> None:
    seeds = _seeds(rally)
    kind, name, payload = data.draw(st.sampled_from(seeds))
    paths = list(_paths(payload))
    chosen = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True))
    for path in sorted(chosen, key=len, reverse=True):
        with contextlib.suppress(KeyError, IndexError, TypeError):  # removed by an outer change
            payload = _mutate(payload, path, data.draw(st.sampled_from((*BAD, DELETE))))
    sender.send(_encode(kind, payload), f"{name} {chosen}")


@pytest.mark.parametrize(
    ("case", "payload"),
    [
        ("command without team_id", {"command": "/rally", "text": "tasks", "user_id": "U0ALICE"}),
        ("state.values a list", "view_state_list"),
        ("selected_option a string", "selected_option_string"),
        ("datetimepicker 2025-13-45", ("task", "2025-13-45")),
        ("datetimepicker abc", ("task", "abc")),
        ("datetimepicker 1e20", ("task", 1e20)),
        ("datetimepicker dict", ("meeting", {"a": 1})),
        ("datetimepicker true", ("task", True)),
        ("actions empty", "actions_empty"),
        ("event a list", "event_list"),
        ("payload a JSON list", "list"),
    ],
)
def test_the_cases_a_probe_found(rally: Rally, sender: Sender, case: str, payload: Any) -> None:
    seeds = {name: (kind, p) for kind, name, p in _seeds(rally)}
    task_kind, task_seed = seeds[ids.LOG_TASK_VIEW]
    if payload == "view_state_list":
        body = _encode(task_kind, _mutate(task_seed, ("view", "state", "values"), [1, 2]))
    elif payload == "selected_option_string":
        path = ("view", "state", "values", ids.PRIORITY, ids.input_action(ids.PRIORITY))
        body = _encode(task_kind, _mutate(task_seed, (*path, "selected_option"), "high"))
    elif isinstance(payload, tuple):
        kind, value = payload
        field = ids.DUE if kind == "task" else ids.START
        seed_kind, seed = seeds[ids.LOG_VIEWS[kind]]
        path = ("view", "state", "values", field, ids.input_action(field), "selected_date_time")
        body = _encode(seed_kind, _mutate(seed, path, value))
    elif payload == "actions_empty":
        body = _encode("interactive", _mutate(seeds[ids.TASK_ACTION_IDS[0]][1], ("actions",), []))
    elif payload == "event_list":
        body = _encode("event", _mutate(seeds[ids.APP_HOME_OPENED][1], ("event",), [1]))
    elif payload == "list":
        body = urlencode({"payload": "[1, 2]"}).encode()
    else:
        body = urlencode(payload).encode()
    sender.send(body, case)
    sender.check_rally()
    assert rally.activities() == []


def test_a_task_dated_true_is_refused_in_the_modal_with_the_input_kept(rally: Rally) -> None:
    view = rally.open_modal("task")
    values = payloads.state_values_for(view, {ids.SUBJECT: "Keep me"})
    values[ids.DUE][ids.input_action(ids.DUE)]["selected_date_time"] = True
    response = rally.interact(payloads.view_submission(view, values))
    assert response.get_json() == {
        "response_action": "errors",
        "errors": {ids.DUE: "This value couldn't be read. Please enter it again."},
    }
    rally.work()
    assert rally.activities() == []


@pytest.mark.parametrize("subject", ["\u200b\u200b", "\x00\x01\x02", " \u2060 ", "\t\n"])
def test_a_subject_with_nothing_visible_is_refused_on_the_subject(
    rally: Rally, subject: str
) -> None:
    view = rally.open_modal("note")
    response = rally.submit(view, {ids.SUBJECT: subject})
    assert response.get_json()["errors"] == {ids.SUBJECT: "Enter a subject."}
    rally.work()
    assert rally.activities() == []


@pytest.mark.parametrize("value", [17, True, {"a": 1}, ["x"]])
def test_a_subject_that_is_not_text_is_refused(rally: Rally, value: Any) -> None:
    view = rally.open_modal("note")
    values = payloads.state_values_for(view, {ids.SUBJECT: "placeholder"})
    values[ids.SUBJECT][ids.input_action(ids.SUBJECT)]["value"] = value
    response = rally.interact(payloads.view_submission(view, values))
    assert response.get_json() == {
        "response_action": "errors",
        "errors": {ids.SUBJECT: "This value couldn't be read. Please enter it again."},
    }
    rally.work()
    assert rally.activities() == []
