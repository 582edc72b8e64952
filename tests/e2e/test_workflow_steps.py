"""Workflow Builder steps through signed ``function_executed`` events, real workers, the
fake Slack (which records ``functions.completeSuccess``/``completeError``) and the sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

from devstack.fake_slack.payloads import event_callback
from slack_ui import ids
from tests.e2e.harness import APP_URL, Rally
from tests.e2e.reminders_support import create_task, get_task

STEP_TOKEN = "xwfp-test-step-token-not-real"


def _step(
    rally: Rally, callback_id: str, inputs: dict[str, Any], *, execution: str = "Fx0STEP1"
) -> Any:
    event = {
        "type": ids.FUNCTION_EXECUTED,
        "function": {"id": "Fn0RALLY", "callback_id": callback_id, "title": "x"},
        "inputs": inputs,
        "function_execution_id": execution,
        "workflow_execution_id": "Wx0RUN",
        "bot_access_token": STEP_TOKEN,
        "event_ts": f"{time.time():.6f}",
    }
    return rally.post(event_callback(event))


def _ended(rally: Rally, execution: str) -> list[Any]:
    return [
        call
        for call in rally.fake.calls()
        if call.method in ("functions.completeSuccess", "functions.completeError")
        and call.params.get("function_execution_id") == execution
    ]


def test_log_an_activity_creates_once_and_completes_once_even_when_delivered_twice(
    rally: Rally,
) -> None:
    inputs = {
        "activity_type": "task",
        "subject": "Send the SOW",
        "priority": "high",
        "due_date": int(time.time()) + 86_400,
    }
    assert _step(rally, ids.LOG_ACTIVITY_STEP, inputs).status_code == 200
    assert _step(rally, ids.LOG_ACTIVITY_STEP, inputs).status_code == 200  # redelivered
    rally.work()
    [task] = rally.activities()
    assert (task["subject"], task["priority"]) == ("Send the SOW", "high")
    [done] = _ended(rally, "Fx0STEP1")
    assert done.method == "functions.completeSuccess"
    outputs = done.params["outputs"]
    outputs = outputs if isinstance(outputs, dict) else json.loads(outputs)
    assert outputs == {
        "activity_id": task["id"],
        "activity_url": f"{APP_URL}/activities/{task['id']}",
    }
    assert done.token == STEP_TOKEN  # ended with the step's own token
    jobs = [str(rally.redis.hgetall(k)) for k in rally.redis.keys("rq:job:*")]
    assert jobs and not any(STEP_TOKEN in job for job in jobs)
    assert rally.fake.ended_step("Fx0STEP1") == {"outputs": outputs}


def test_an_invalid_input_ends_the_step_with_an_error_naming_it_and_creates_nothing(
    rally: Rally,
) -> None:
    _step(
        rally,
        ids.LOG_ACTIVITY_STEP,
        {"activity_type": "note", "subject": "Kickoff", "priority": "high"},
    )
    _step(
        rally, ids.LOG_ACTIVITY_STEP, {"activity_type": "task", "subject": ""}, execution="Fx0STEP2"
    )
    rally.work()
    assert rally.activities() == []
    [first] = _ended(rally, "Fx0STEP1")
    assert first.method == "functions.completeError"
    assert "priority" in first.params["error"] and "task" in first.params["error"]
    [second] = _ended(rally, "Fx0STEP2")
    assert "subject" in second.params["error"]


def test_complete_a_task_completes_it_and_refuses_a_note(rally: Rally) -> None:
    task = create_task(rally, "Chase the contract", 60)
    _step(rally, ids.COMPLETE_TASK_STEP, {"activity_id": task["id"]})
    rally.command("note Not a task")
    rally.work()
    note = next(a for a in rally.activities() if a["activityType"] == "note")
    _step(rally, ids.COMPLETE_TASK_STEP, {"activity_id": note["id"]}, execution="Fx0STEP2")
    rally.work()
    assert get_task(rally, task["id"])["status"] == "completed"
    [done] = _ended(rally, "Fx0STEP1")
    assert done.method == "functions.completeSuccess"
    [refused] = _ended(rally, "Fx0STEP2")
    assert refused.method == "functions.completeError" and "not a task" in refused.params["error"]


def test_a_step_whose_first_try_died_after_rally_committed_creates_once_and_ends_once(
    rally: Rally, monkeypatch: Any
) -> None:
    import pytest

    from workers import steps

    inputs = {"subject": "Logged once, whatever happens"}
    real_end = steps._end

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker was killed here")

    monkeypatch.setattr(steps, "_end", dies)
    with pytest.raises(RuntimeError):
        steps.run_step("Fx0DIED", ids.LOG_ACTIVITY_STEP, "T0RALLY001", inputs)
    monkeypatch.setattr(steps, "_end", real_end)
    assert (
        steps.run_step("Fx0DIED", ids.LOG_ACTIVITY_STEP, "T0RALLY001", inputs)["status"]
        == "completed"
    )
    assert (
        steps.run_step("Fx0DIED", ids.LOG_ACTIVITY_STEP, "T0RALLY001", inputs)["status"]
        == "already"
    )
    [note] = rally.activities()
    assert note["subject"] == "Logged once, whatever happens"
    assert rally.fake.ended_step("Fx0DIED") == {
        "outputs": {"activity_id": note["id"], "activity_url": f"{APP_URL}/activities/{note['id']}"}
    }
