"""``rally-slack socket`` end to end, through the network edge.

The app runs as a real process and reaches the fake Slack the way it reaches Slack:
``apps.connections.open`` with the app-level token over HTTP, then a WebSocket to the URL
it got back (a ``ws://`` URL on the fake's loopback server; slack_sdk's builtin client
speaks plain TCP to any port but 443). The test plays Slack's side of that socket, as
bolt-python's own Socket Mode tests do: it pushes envelopes (``slash_commands``,
``interactive``) and reads the app's acks by ``envelope_id``. Workers run as
``rally-slack worker --burst``; the sandbox is the Activities API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_sock  # noqa: F401  (the fake's WebSocket server: fail loudly, never skip, without it)
import httpx
import pytest

from core.settings import Settings
from devstack.fake_slack.payloads import slash_command, state_values_for, view_submission
from devstack.fake_slack.server import FakeSlack
from devstack.fake_slack.socket_mode import DEFAULT_APP_TOKEN, Ack, form_payload
from tests.e2e.harness import APP_URL, CONTACT_ID, DEAL_ID
from tests.fixtures.redis import free_port
from tests.fixtures.sandbox import DEV_API_KEY
from tests.fixtures.slack import BOT_TOKEN

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))
APP_TOKEN = DEFAULT_APP_TOKEN  # "xapp-test-not-a-real-token"


def _env(settings: Settings, **overrides: str | None) -> dict[str, str]:
    """The environment of a ``rally-slack`` process: Socket Mode needs no signing secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RALLY_"))}
    env.update(
        {
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": settings.slack_api_url,
            "RALLY_BASE_URL": settings.rally_base_url or "",
            "RALLY_API_KEY": DEV_API_KEY,
            "RALLY_APP_URL": APP_URL,
            "REDIS_URL": settings.redis_url,
            "JOB_RETRY_INTERVALS": "0,0",
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class SocketApp:
    """``rally-slack socket`` running, and Slack's side of its WebSocket."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, fake: FakeSlack) -> None:
        self.proc = proc
        self.log = log
        self.fake = fake

    def output(self) -> str:
        return self.log.read_text()

    def send(self, envelope_type: str, payload: dict[str, Any]) -> Ack:
        """Push one envelope and wait for the app's ack (Slack gives it 3 seconds)."""
        envelope_id = self.fake.socket_mode.push(envelope_type, payload)
        try:
            ack = self.fake.socket_mode.wait_for_ack(envelope_id, timeout=10)
        except TimeoutError:
            raise AssertionError(f"no ack of {envelope_type}:\n{self.output()}") from None
        assert ack.envelope_id == envelope_id
        return ack

    def command(self, text: str, **kwargs: Any) -> Ack:
        """``/rally <text>`` as a ``slash_commands`` envelope."""
        kwargs.setdefault("trigger_id", self.fake.new_trigger_id("U0ALICE"))
        return self.send("slash_commands", form_payload(slash_command(text, **kwargs)))

    def stop(self, signum: int) -> int:
        """Send ``signum`` and return the exit code (the process must exit on its own)."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after signal {signum}:\n{self.output()}") from None


@pytest.fixture
def socket_app(
    rally_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> Iterator[SocketApp]:
    """``rally-slack socket`` as a subprocess, connected (``hello`` received)."""
    log = tmp_path / "socket.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [RALLY_SLACK, "socket"],
            env=_env(rally_settings),
            cwd=tmp_path,  # no stray .env
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = SocketApp(proc, log, fake_slack)
    try:
        try:
            fake_slack.socket_mode.wait_connected(timeout=30)
        except TimeoutError:
            raise AssertionError(f"never connected (rc={proc.poll()}):\n{app.output()}") from None
        yield app
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _worker_burst(settings: Settings) -> None:
    worker = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr


def _activities(settings: Settings) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{settings.rally_base_url}/api/v1/activities",
        headers={"X-Api-Key": DEV_API_KEY},
        params={"limit": 100},
    )
    response.raise_for_status()
    return list(response.json())


def test_socket_mode_logs_a_call_from_slash_command_to_rally_and_tells_the_user(
    socket_app: SocketApp, rally_settings: Settings, fake_slack: FakeSlack
) -> None:
    # Connected the way Slack's Socket Mode works: apps.connections.open with the
    # app-level token (not the bot token), then one WebSocket that got a hello.
    [opened] = fake_slack.calls("apps.connections.open")
    assert opened.ok and opened.token == APP_TOKEN
    [conn] = fake_slack.socket_mode.connections()
    assert conn.hello_sent and not conn.closed

    help_ack = socket_app.command("help")
    assert help_ack.payload is not None
    help_text = json.dumps(help_ack.payload["blocks"])
    assert "Rally for Slack" in help_text and "/rally call" in help_text

    response_url = fake_slack.new_response_url(channel="C0SALES", user="U0ALICE")
    socket_app.command("call", response_url=response_url)
    shown = fake_slack.wait_for("views.open")
    assert shown.ok, shown.response
    view = shown.response["view"]
    assert [v["id"] for v in fake_slack.view_stack("U0ALICE")] == [view["id"]]

    values = {
        "subject": "Discovery call over Socket Mode",
        "body": "Pricing & rollout <3 @channel",
        "direction": "outbound",
        "outcome": "connected",
        "duration": "25",
        "deal": DEAL_ID,  # a pasted link: the menu offers it back as the deal's id
        "contact": CONTACT_ID,
        "status": "completed",
    }
    submitted = socket_app.send(
        "interactive", view_submission(view, state_values_for(view, values))
    )
    assert submitted.payload in (None, {})  # an empty ack: Slack closes the modal
    assert _activities(rally_settings) == []  # nothing reaches Rally during the request

    _worker_burst(rally_settings)

    [call] = _activities(rally_settings)
    assert {k: call.get(k) for k in ("activityType", "subject", "body", "status")} == {
        "activityType": "call",
        "subject": "Discovery call over Socket Mode",
        "body": "Pricing & rollout <3 @channel",
        "status": "completed",
    }
    assert call["callDirection"] == "outbound"
    assert call["callOutcome"] == "connected"
    assert call["callDurationSeconds"] == 25 * 60
    assert call["dealId"] == DEAL_ID
    assert call["contactId"] == CONTACT_ID

    [told] = fake_slack.response_posts(response_url)
    text = json.dumps(told.body)
    assert f"{APP_URL}/activities/{call['id']}" in text
    assert "Discovery call over Socket Mode" in text and "25 min" in text
    assert "@channel" not in text.replace("&lt;", "<").replace("<!channel>", "")  # no ping

    assert socket_app.stop(signal.SIGTERM) == 0
    fake_slack.socket_mode.wait_until(lambda: conn.closed, timeout=10)
    output = socket_app.output()
    assert "socket_mode_stopped" in output
    assert APP_TOKEN not in output and BOT_TOKEN not in output


def test_socket_mode_reconnects_when_slack_asks_and_stops_on_sigint(
    socket_app: SocketApp, fake_slack: FakeSlack
) -> None:
    first = fake_slack.socket_mode.wait_connected()
    assert socket_app.command("help").payload is not None

    # Slack refreshes Socket Mode connections: a "disconnect" message, after which the
    # app must fetch a new URL and carry on on the new socket.
    fake_slack.socket_mode.disconnect("refresh_requested")
    second = fake_slack.socket_mode.wait_until(
        lambda: (live := fake_slack.socket_mode.live()) is not first and live,
        timeout=15,
    )
    assert len(fake_slack.calls("apps.connections.open")) == 2
    ack = socket_app.command("help")
    assert ack.connection_id == second.id and ack.payload is not None

    assert socket_app.stop(signal.SIGINT) == 0
    assert "Traceback" not in socket_app.output()


@pytest.mark.parametrize(
    ("app_token", "expected"),
    [
        (None, "SLACK_APP_TOKEN"),
        ("xapp-test-revoked-not-a-real-token", "invalid_auth"),
        (BOT_TOKEN, "not_allowed_token_type"),
    ],
    ids=["missing", "revoked", "bot-token-instead"],
)
def test_socket_mode_without_a_usable_app_token_exits_with_a_clear_error(
    rally_settings: Settings,
    fake_slack: FakeSlack,
    tmp_path: Path,
    app_token: str | None,
    expected: str,
) -> None:
    result = subprocess.run(
        [RALLY_SLACK, "socket"],
        env=_env(rally_settings, SLACK_APP_TOKEN=app_token),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_slack.socket_mode.connections() == []
    refused = fake_slack.calls("apps.connections.open")
    if app_token is None:
        assert refused == []  # stopped before talking to Slack
    else:
        assert [c.response.get("error") for c in refused] == [expected]
        assert app_token not in result.stderr


def test_socket_mode_with_slack_unreachable_exits_with_a_clear_error(
    rally_settings: Settings, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    result = subprocess.run(
        [RALLY_SLACK, "socket"],
        env=_env(rally_settings, SLACK_API_URL=nowhere),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"cannot reach {nowhere}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_workflow_step_runs_over_socket_mode_too(
    socket_app: SocketApp, rally_settings: Settings, fake_slack: FakeSlack
) -> None:
    from devstack.fake_slack.payloads import event_callback
    from slack_ui import ids

    event = {
        "type": ids.FUNCTION_EXECUTED,
        "function": {"id": "Fn0RALLY", "callback_id": ids.LOG_ACTIVITY_STEP},
        "inputs": {"subject": "Logged by a workflow over Socket Mode"},
        "function_execution_id": "Fx0SOCKET",
        "bot_access_token": "xwfp-test-socket-step-not-real",
    }
    acked = socket_app.send("events_api", json.loads(event_callback(event)))
    assert acked.payload in (None, {})
    _worker_burst(rally_settings)
    [note] = _activities(rally_settings)
    assert note["subject"] == "Logged by a workflow over Socket Mode"
    assert fake_slack.ended_step("Fx0SOCKET") == {
        "outputs": {"activity_id": note["id"], "activity_url": f"{APP_URL}/activities/{note['id']}"}
    }
