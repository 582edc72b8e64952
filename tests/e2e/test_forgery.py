"""Buttons do not trust their values: a forged Complete, an oversized value, someone else's
"Edit and retry", and failures after the acknowledgement are all told, and change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from devstack.fake_slack.payloads import block_actions
from slack_ui import ids
from slack_ui.ids import COMPLETE_ACTION, SNOOZE_HOUR_ACTION
from slack_ui.tasks import button_value
from tests.e2e.harness import Rally
from tests.e2e.reminders_support import (
    api,
    buttons,
    click,
    create_task,
    get_task,
    iso_in,
    log_task,
    remind_once,
    reminders,
)
from tests.e2e.test_resilience import BAD_DEAL, _failure_message, _refusing_api
from workers.state import State
from workers.task_actions import NOT_A_TASK, NOT_SHOWN, act_on_task


def _press(
    rally: Rally,
    action_id: str,
    value: str,
    *,
    user: str = "U0MALLORY",
    channel: str = "C0SALES",
    ts: str = "1700000000.000200",
    ephemeral: bool = False,
) -> str:
    """A signed click on a button the app may never have shown; returns its response URL."""
    url = rally.fake.new_response_url(channel=channel, user=user)
    payload = block_actions(
        {"type": "button", "action_id": action_id, "value": value, "block_id": "forged"},
        user=user,
        channel=channel,
        message=None if ephemeral else {"ts": ts, "text": "forged"},
        is_ephemeral=ephemeral,
        response_url=url,
        trigger_id=rally.fake.new_trigger_id(user),
    )
    response = rally.interact(payload)
    assert response.status_code == 200, response.data
    rally.work()
    return url


def _told(rally: Rally, url: str) -> str:
    return json.dumps([p.body for p in rally.fake.response_posts(url.rsplit("/", 1)[-1])])


def test_a_forged_complete_on_a_note_changes_nothing(rally: Rally) -> None:
    note = api(rally, "POST", "", json={"activityType": "note", "subject": "Pricing notes"})
    url = _press(rally, COMPLETE_ACTION, button_value(note["id"], 1_900_000_000))
    after = get_task(rally, note["id"])
    assert (after["status"], after["updatedAt"]) == (note["status"], note["updatedAt"])
    assert "nothing changed" in _told(rally, url)


@pytest.mark.parametrize("ephemeral", [False, True], ids=["message", "tasks list"])
def test_a_forged_complete_on_someone_elses_task_changes_nothing(
    rally: Rally, ephemeral: bool
) -> None:
    task = create_task(rally, "Their private task", 5)
    remind_once()  # indexed; nobody linked this channel, so it is reminded nowhere
    url = _press(
        rally, COMPLETE_ACTION, button_value(task["id"], 1_900_000_000), ephemeral=ephemeral
    )
    assert get_task(rally, task["id"])["status"] == "pending"
    assert NOT_SHOWN.split(",")[0] in _told(rally, url)


def test_a_reminder_anyone_in_the_channel_sees_can_be_completed_by_them(rally: Rally) -> None:
    task = log_task(rally, f"Shared follow-up due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")
    click(rally, message, COMPLETE_ACTION, user="U0BOB")
    assert get_task(rally, task["id"])["status"] == "completed"


def test_a_forged_copy_of_a_real_reminder_in_another_channel_changes_nothing(
    rally: Rally,
) -> None:
    task = log_task(rally, f"Only in sales due:{iso_in(5)}")
    remind_once()
    [message] = reminders(rally, "C0SALES")
    value = buttons(message)[SNOOZE_HOUR_ACTION]["value"]
    _press(rally, SNOOZE_HOUR_ACTION, value, channel="C0GENERAL", ts=message["ts"])
    assert get_task(rally, task["id"])["dueDate"] == task["dueDate"]


def test_the_job_completes_only_tasks_even_if_asked_directly(rally: Rally) -> None:
    note = api(rally, "POST", "", json={"activityType": "note", "subject": "Not a task"})
    # As if a copy of a reminder had been recorded for it (it never is): the job still
    # re-reads the activity and refuses anything that is not a task.
    State(rally.redis).record_reminder_post(note["id"], 1_900_000_000, "C0SALES", "1.2")
    result = act_on_task(
        COMPLETE_ACTION,
        note["id"],
        1_900_000_000,
        team="T0RALLY001",
        user="U0ALICE",
        channel="C0SALES",
        message_ts="1.2",
        response_url=rally.fake.new_response_url(channel="C0SALES", user="U0ALICE"),
    )
    assert result == {"status": "refused"}
    assert get_task(rally, note["id"])["status"] == note["status"]
    assert any(NOT_A_TASK in json.dumps(p.body) for p in rally.fake.response_posts())


@pytest.mark.parametrize(
    "value",
    ["x" * 100_000, "not-a-guid:123", "5A1C0DE0-AC3E-4D3A-9E55-000000000001:1", "a:b:c", ""],
)
def test_button_values_the_app_never_wrote_enqueue_nothing(rally: Rally, value: str) -> None:
    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    payload = block_actions(
        {"type": "button", "action_id": COMPLETE_ACTION, "value": value},
        channel="C0SALES",
        message={"ts": "1.1", "text": "x"},
        response_url=url,
    )
    response = rally.interact(payload)
    assert response.status_code in (200, 400)
    assert sum(rally.queued().values()) == 0
    assert not [k for k in rally.redis.keys("rq:job:*") if len(k) > 200]


def test_edit_and_retry_opens_only_for_whoever_submitted(
    rally: Rally,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_app: Flask,
    serve_app: Callable[[Any], str],
) -> None:
    monkeypatch.setenv("RALLY_BASE_URL", serve_app(_refusing_api(sandbox_app)))
    view = rally.open_modal("task")
    rally.submit(view, {"subject": "Alice's secret deal", "deal": BAD_DEAL})
    rally.work()
    failure = _failure_message(rally)
    blocks = (
        failure["blocks"] if isinstance(failure["blocks"], list) else json.loads(failure["blocks"])
    )
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"])
    opened = len(rally.fake.calls("views.open"))
    url = _press(rally, ids.EDIT_AND_RETRY_ACTION, button["value"], user="U0BOB", ephemeral=True)
    assert len(rally.fake.calls("views.open")) == opened
    shown = _told(rally, url)
    assert "Only the person who submitted this" in shown
    assert "secret deal" not in shown


def test_a_button_whose_modal_cannot_open_tells_the_clicker(rally: Rally) -> None:
    rally.fake.fail_next("views.open", "expired_trigger_id")
    url = rally.fake.new_response_url(channel="C0SALES", user="U0ALICE")
    payload = block_actions(
        {"type": "button", "action_id": ids.open_modal_action("call"), "value": "call"},
        channel="C0SALES",
        message={"ts": "1.1", "text": "help"},
        response_url=url,
        trigger_id=rally.fake.new_trigger_id("U0ALICE"),
    )
    response = rally.interact(payload)
    assert response.status_code == 200
    rally.fake.wait_until(lambda: "expired_trigger_id" in _told(rally, url))


def test_a_chooser_that_cannot_be_updated_tells_the_clicker(rally: Rally) -> None:
    rally.fake.fail_next("views.update", "hash_conflict")
    payload = block_actions(
        {"type": "button", "action_id": ids.choose_type_action("note"), "value": "note"},
        view={"id": "V0CHOOSER", "type": "modal", "callback_id": ids.CHOOSE_TYPE_VIEW},
        trigger_id=rally.fake.new_trigger_id("U0ALICE"),
    )
    assert rally.interact(payload).status_code == 200
    rally.fake.wait_until(
        lambda: any("hash_conflict" in json.dumps(m) for m in rally.fake.messages("D" + "0ALICE"))
    )
