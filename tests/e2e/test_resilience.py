"""What happens when things go wrong: duplicates, an absent bot, a down or refusing API,
forged requests and a down Redis. The user always learns the outcome, and nothing they
typed is lost."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from flask import Flask

from bot.server import create_flask_app
from core.settings import Settings
from devstack.fake_slack.payloads import (
    block_actions,
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from slack_ui import ids
from tests.e2e.harness import DEAL_ID, Rally
from tests.fixtures.redis import free_port
from tests.fixtures.slack import SIGNING_SECRET
from workers import lanes, queues

BAD_DEAL = "0badbad0-0000-4000-8000-000000000000"


def _failure_message(rally: Rally) -> dict[str, Any]:
    """The last response-URL post telling the user their submission failed."""
    posts = [p.body for p in rally.fake.response_posts() if "not logged" in json.dumps(p.body)]
    assert posts, [p.body for p in rally.fake.response_posts()]
    return posts[-1]


def _edit_and_retry(rally: Rally, failure: dict[str, Any]) -> dict[str, Any]:
    """Click the failure's "Edit and retry" button; returns the reopened modal."""
    blocks = (
        failure["blocks"] if isinstance(failure["blocks"], list) else json.loads(failure["blocks"])
    )
    actions = next(b for b in blocks if b["type"] == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == ids.EDIT_AND_RETRY_ACTION)
    before = len(rally.fake.calls("views.open"))
    click = block_actions(
        {"block_id": actions["block_id"], **button},
        channel="C0SALES",
        is_ephemeral=True,
        trigger_id=rally.fake.new_trigger_id("U0ALICE"),
        response_url=rally.fake.new_response_url(channel="C0SALES", user="U0ALICE"),
    )
    assert rally.interact(click).status_code == 200
    call = rally.fake.wait_until(
        lambda: (
            len(rally.fake.calls("views.open")) > before and rally.fake.calls("views.open")[before]
        )
    )
    assert call.response["ok"], call.response
    return dict(call.response["view"])


def _initial_values(view: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        if "initial_option" in element:
            out[block["block_id"]] = element["initial_option"]["value"]
        else:
            out[block["block_id"]] = element.get("initial_value", element.get("initial_date_time"))
    return {k: v for k, v in out.items() if v is not None}


# -- duplicates -------------------------------------------------------------------------


def test_the_same_modal_submission_delivered_twice_creates_one_activity(rally: Rally) -> None:
    view = rally.open_modal("call")
    payload = view_submission(view, state_values_for(view, {"subject": "Double-clicked call"}))
    first = rally.interact(payload)
    second = rally.interact(payload)  # Slack's re-delivery, or a double click: same view id + hash
    assert first.status_code == second.status_code == 200
    assert rally.queued()["rally-activities"] == 1
    rally.work()
    assert len(rally.activities()) == 1
    rally.interact(payload)  # and again after it was created
    rally.work()
    assert len(rally.activities()) == 1
    confirmations = [p for p in rally.fake.response_posts() if "Logged call" in json.dumps(p.body)]
    assert len(confirmations) == 1


def test_the_same_quick_create_delivered_twice_creates_one_activity(rally: Rally) -> None:
    trigger = rally.fake.new_trigger_id("U0ALICE")
    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    for _ in range(2):
        assert (
            rally.command("note Sent twice", trigger_id=trigger, response_url=url).status_code
            == 200
        )
    rally.work()
    assert [a["subject"] for a in rally.activities()] == ["Sent twice"]


def test_a_create_job_run_twice_still_creates_one_activity(rally: Rally) -> None:
    """A worker that died after the API call re-runs the job: the Idempotency-Key holds."""
    from workers.jobs import create_activity

    request = {"activityType": "note", "subject": "Crash-retried"}
    origin = {"team": "T0RALLY001", "channel": "C0SALES", "user": "U0ALICE"}
    first = create_activity("sub-crash-1", request, origin)
    second = create_activity("sub-crash-1", request, origin)
    assert first["id"] == second["id"]
    assert len(rally.activities()) == 1


# -- where the user is told -------------------------------------------------------------


def test_confirmation_reaches_the_user_by_ephemeral_when_the_response_url_expired(
    rally: Rally,
) -> None:
    dead_url = f"{rally.fake.base_url}/response/expired0000"
    rally.command("note Via ephemeral", response_url=dead_url)
    rally.work()
    [ephemeral] = rally.fake.ephemerals(channel="C0SALES", user="U0ALICE")
    assert "Via ephemeral" in ephemeral["text"]


def test_confirmation_reaches_the_user_by_dm_when_the_bot_is_not_in_the_channel(
    rally: Rally,
) -> None:
    rally.fake.remove_bot_from("C0SALES")
    dead_url = f"{rally.fake.base_url}/response/expired0000"
    rally.command("note Via DM", response_url=dead_url)
    rally.work()
    assert rally.fake.ephemerals(user="U0ALICE") == []
    [dm] = rally.fake.messages("D0ALICE")
    assert "Via DM" in dm["text"]
    post_ephemeral = rally.fake.calls("chat.postEphemeral")
    assert post_ephemeral and post_ephemeral[0].response["error"] == "not_in_channel"


def test_the_response_url_works_even_when_the_bot_is_not_in_the_channel(rally: Rally) -> None:
    rally.fake.remove_bot_from("C0SALES")
    rally.command("note Via response URL")
    rally.work()
    assert any("Via response URL" in json.dumps(p.body) for p in rally.fake.response_posts())
    assert rally.fake.calls("chat.postEphemeral") == []


# -- the API down, or refusing --------------------------------------------------------


def test_api_down_is_retried_then_the_user_is_told_and_can_retry_with_input_kept(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    make_sandbox_app: Callable[..., Flask],
    serve_app: Callable[[Any], str],
) -> None:
    down_url = serve_app(make_sandbox_app(fail_rate=1.0))
    monkeypatch.setenv("RALLY_BASE_URL", down_url)
    view = rally.open_modal("call")
    rally.submit(
        view, {"subject": "Call while Rally is down", "duration": "12", "outcome": "connected"}
    )
    rally.work()

    # JOB_RETRY_INTERVALS="0,0": 3 attempts in all, then the batch gives up (coalesce.py)
    failure = _failure_message(rally)
    assert "could not be reached after 3 tries" in json.dumps(failure)
    assert lanes.waiting_items(rally.redis, "create") == []
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}
    assert rally.activities() == []  # the good sandbox saw nothing

    monkeypatch.setenv("RALLY_BASE_URL", rally.api_url)
    modal = _edit_and_retry(rally, failure)
    assert _initial_values(modal) == {
        "subject": "Call while Rally is down",
        "duration": "12",
        "outcome": "connected",
        "direction": "outbound",
        "status": "completed",
    }
    rally.submit(modal)
    rally.work()
    [call] = rally.activities()
    assert (call["subject"], call["callDurationSeconds"]) == ("Call while Rally is down", 720)


REFUSED: list[bytes] = []


def _refusing_api(sandbox: Flask) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """The sandbox behind a rule it does not know: deal ``BAD_DEAL`` does not exist (400)."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if environ["REQUEST_METHOD"] == "POST" and BAD_DEAL.encode() in body:
            REFUSED.append(body)
            problem = {
                "type": "about:blank",
                "title": "Validation failed",
                "status": 400,
                "errors": {"dealId": ["no deal with this id"]},
            }
            start_response("400 Bad Request", [("Content-Type", "application/problem+json")])
            return [json.dumps(problem).encode()]
        environ["wsgi.input"] = io.BytesIO(body)
        return sandbox.wsgi_app(environ, start_response)

    return app


def test_a_4xx_is_told_at_once_without_retries_and_edit_and_retry_keeps_the_input(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_app: Flask,
    serve_app: Callable[[Any], str],
) -> None:
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(_refusing_api(sandbox_app)))
    REFUSED.clear()
    view = rally.open_modal("task")
    rally.submit(
        view,
        {"subject": "Send the contract", "deal": BAD_DEAL, "priority": "high", "body": "by Friday"},
    )
    rally.work()

    failure = _failure_message(rally)
    shown = json.dumps(failure)
    assert "Deal: no deal with this id" in shown
    assert "tries" not in shown  # not retried
    assert len(REFUSED) == 1  # sent once, never again
    REFUSED.clear()

    modal = _edit_and_retry(rally, failure)
    assert "no deal with this id" in json.dumps(modal["blocks"][0])
    assert _initial_values(modal) == {
        "subject": "Send the contract",
        "deal": BAD_DEAL,
        "priority": "high",
        "body": "by Friday",
    }
    rally.submit(modal, {"deal": DEAL_ID})
    rally.work()
    [task] = rally.activities()
    assert (task["subject"], task["dealId"], task["priority"]) == (
        "Send the contract",
        DEAL_ID,
        "high",
    )


# -- forged and stale requests -------------------------------------------------------------


@pytest.mark.parametrize("forgery", ["unsigned", "wrong_secret", "stale", "tampered"])
def test_unsigned_or_stale_requests_are_401_and_do_nothing(rally: Rally, forgery: str) -> None:
    body = slash_command("note Forged", trigger_id=rally.fake.new_trigger_id("U0ALICE"))
    if forgery == "unsigned":
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    elif forgery == "wrong_secret":
        headers = signed_headers(body, "not-the-secret")
    elif forgery == "stale":
        headers = signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 10 * 60)
    else:
        headers = signed_headers(body, SIGNING_SECRET)
        body = body.replace(b"Forged", b"Forgex")
    response = rally.post(body, headers=headers)
    assert response.status_code == 401
    assert rally.queued() == {name: 0 for name in queues.ALL_QUEUES}
    assert rally.redis.keys("rally:*") == []
    assert rally.fake.calls("views.open") == []


# -- Redis down at submission -------------------------------------------------------------


@pytest.fixture
def redis_down_client(rally_settings: Settings) -> Any:
    settings = rally_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with create_flask_app(settings).test_client() as client:
        yield client


def test_redis_down_at_modal_submission_keeps_the_modal_open_with_a_clear_error(
    rally: Rally, redis_down_client: Any
) -> None:
    rally.client = redis_down_client
    view = rally.open_modal("note")  # still opens: the channel binding is just not pre-filled
    started = time.monotonic()
    response = rally.submit(view, {"subject": "Typed while Redis is down"})
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    answer = response.get_json()
    assert answer["response_action"] == "errors"
    assert "your input is kept" in answer["errors"][ids.SUBJECT]


def test_redis_down_at_quick_create_answers_in_time_with_the_command_to_send_again(
    rally: Rally, redis_down_client: Any
) -> None:
    rally.client = redis_down_client
    started = time.monotonic()
    body = slash_command(
        "task Call Acme back !high", trigger_id=rally.fake.new_trigger_id("U0ALICE")
    )
    response = redis_down_client.post(
        "/slack/events", data=body, headers=signed_headers(body, SIGNING_SECRET)
    )
    assert time.monotonic() - started < 2.0
    text = response.get_data(as_text=True)
    assert "couldn't take this right now" in text
    assert "/rally task Call Acme back !high" in text


def test_healthz_reports_redis(rally: Rally, redis_down_client: Any) -> None:
    ok = rally.client.get("/healthz")
    assert (ok.status_code, ok.get_json()["redis"]) == (200, "ok")
    down = redis_down_client.get("/healthz")
    assert (down.status_code, down.get_json()["redis"]) == (503, "down")


def test_interactive_body_helper_is_what_slack_sends(rally: Rally) -> None:
    # Guard for the helpers above: a block_actions body round-trips through Bolt.
    payload = block_actions({"type": "button", "action_id": "nobody_listens", "block_id": "b"})
    assert rally.post(interactive_body(payload)).status_code == 404
