"""Helpers for the reminder tests: log tasks through /rally, run ``remind --once``, click buttons."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from cli.main import main as rally_slack
from devstack.fake_slack.payloads import block_actions
from slack_ui.ids import TASK_ACTIONS_BLOCK
from tests.e2e.harness import Rally
from tests.fixtures.sandbox import DEV_API_KEY

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))


def iso_in(minutes: float) -> str:
    """A due date ``minutes`` from now, in the quick-create grammar's ISO form."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_task(
    rally: Rally, text: str, *, user: str = "U0ALICE", channel: str = "C0SALES"
) -> dict[str, Any]:
    """``/rally task <text>`` in ``channel``, workers run; returns the task from the API."""
    response = rally.command(f"task {text}", user=user, channel=channel)
    assert response.status_code == 200, response.data
    assert "Logging task" in response.get_data(as_text=True), response.data
    rally.work()
    return newest(rally)


def newest(rally: Rally) -> dict[str, Any]:
    return max(rally.activities(), key=lambda a: (a["createdAt"], a["id"]))


def api(rally: Rally, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(
        method,
        f"{rally.api_url}/api/v1/activities{path}",
        headers={"X-Api-Key": DEV_API_KEY},
        **kwargs,
    )
    response.raise_for_status()
    return response.json() if response.content else None


def create_task(
    rally: Rally, subject: str, due_minutes: float | None, **fields: Any
) -> dict[str, Any]:
    """A task created in Rally directly (not from Slack)."""
    body: dict[str, Any] = {"activityType": "task", "subject": subject, **fields}
    if due_minutes is not None:
        body["dueDate"] = iso_in(due_minutes)
    return dict(api(rally, "POST", "", json=body))


def get_task(rally: Rally, task_id: str) -> dict[str, Any]:
    return dict(api(rally, "GET", f"/{task_id}"))


def remind_once() -> str:
    """``rally-slack remind --once`` in-process; returns what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert rally_slack(["remind", "--once"]) == 0
    return out.getvalue().strip()


def cli_env(rally: Rally) -> dict[str, str]:
    env = dict(os.environ)  # the harness put the test's configuration there
    env["RALLY_API_KEY"] = DEV_API_KEY
    return env


def reminders(rally: Rally, channel: str) -> list[dict[str, Any]]:
    """The reminder messages in a channel (live or already acted on), oldest first."""
    return [
        m
        for m in rally.fake.messages(channel)
        if any(b.get("block_id") == TASK_ACTIONS_BLOCK for b in m.get("blocks", []))
        or "was due" in json.dumps(m.get("blocks", []))
    ]


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for block in message.get("blocks", []):
        if block.get("type") == "actions" and block.get("block_id") == TASK_ACTIONS_BLOCK:
            return {e["action_id"]: {"block_id": block["block_id"], **e} for e in block["elements"]}
    return {}


def click(
    rally: Rally,
    message: dict[str, Any],
    action_id: str,
    *,
    user: str = "U0ALICE",
    work: bool = True,
) -> str:
    """Click a button of a channel message; returns the response URL of the click."""
    channel = message["channel"]
    response_url = rally.fake.new_response_url(channel=channel, user=user)
    payload = block_actions(
        buttons(message)[action_id],
        user=user,
        channel=channel,
        message=message,
        response_url=response_url,
        trigger_id=rally.fake.new_trigger_id(user),
    )
    response = rally.interact(payload)
    assert response.status_code == 200, response.data
    if work:
        rally.work()
    return response_url


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", [])) + message.get("text", "")


def due_epoch_of(task: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(task["dueDate"].replace("Z", "+00:00")).timestamp())


def update_task(rally: Rally, task_id: str, **changes: Any) -> None:
    """Change a task in Rally (the client's merge update) as someone in the CRM would."""
    from api_client import RallyClient

    with RallyClient(rally.api_url, DEV_API_KEY) as client:
        client.change_activity(task_id, changes)
