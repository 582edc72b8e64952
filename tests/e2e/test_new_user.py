"""The bar, tried as a new user would: ``rally-slack web`` running (gunicorn, a real
socket), a signed ``/rally call``, the modal filled and submitted, ``rally-slack worker
--burst``, and the call is in the Activities API with every field entered, the user told.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from devstack.fake_slack.payloads import (
    interactive_body,
    signed_headers,
    slash_command,
    state_values_for,
    view_submission,
)
from devstack.fake_slack.server import FakeSlack
from tests.e2e.harness import APP_URL, DEAL_ID
from tests.fixtures.redis import free_port
from tests.fixtures.sandbox import DEV_API_KEY
from tests.fixtures.slack import SIGNING_SECRET

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_BOT_TOKEN": settings.slack_bot_token.get_secret_value()
            if settings.slack_bot_token
            else "",
            "SLACK_API_URL": settings.slack_api_url,
            "RALLY_BASE_URL": settings.rally_base_url or "",
            "RALLY_API_KEY": DEV_API_KEY,
            "RALLY_APP_URL": APP_URL,
            "REDIS_URL": settings.redis_url,
            "JOB_RETRY_INTERVALS": "0,0",
        }
    )
    return env


@pytest.fixture
def web(rally_settings: Settings, tmp_path: Path) -> Iterator[str]:
    """``rally-slack web`` as a subprocess on a free port; yields its base URL."""
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        [RALLY_SLACK, "web", "--port", str(port), "--workers", "2", "--host", "127.0.0.1"],
        env=_env(rally_settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "web.log").read_text())
            time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def _post(base: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{base}/slack/events",
        content=body,
        headers=signed_headers(body, SIGNING_SECRET),
        timeout=5,
    )


def test_a_new_user_logs_a_call_through_the_running_web_and_a_burst_worker(
    web: str, rally_settings: Settings, fake_slack: FakeSlack
) -> None:
    # /rally link first, so the modal comes pre-filled with the channel's deal.
    linked = _post(
        web, slash_command(f"link deal {DEAL_ID}", trigger_id=fake_slack.new_trigger_id("U0ALICE"))
    )
    assert linked.status_code == 200 and DEAL_ID in linked.text

    response_url = fake_slack.new_response_url(channel="C0SALES", user="U0ALICE")
    started = time.monotonic()
    ack = _post(
        web,
        slash_command(
            "call", trigger_id=fake_slack.new_trigger_id("U0ALICE"), response_url=response_url
        ),
    )
    assert ack.status_code == 200
    assert time.monotonic() - started < 3
    opened = fake_slack.wait_for("views.open")
    assert opened.response["ok"], opened.response
    view = opened.response["view"]

    values = {
        "subject": "Discovery call with Sarah Chen",
        "body": "Discussed enterprise licensing needs & timeline <3",
        "direction": "inbound",
        "outcome": "connected",
        "duration": "45",
        "contact": "d290f1ee-6c54-4b01-90e6-d701748f0851",
        "company": "b5c7e1a2-3d4f-5678-9abc-def012345678",
        "status": "completed",
    }
    submitted = _post(web, interactive_body(view_submission(view, state_values_for(view, values))))
    assert submitted.status_code == 200
    assert submitted.text in ("", "{}")

    worker = subprocess.run(
        [RALLY_SLACK, "worker", "--burst"],
        env=_env(rally_settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr

    listed = httpx.get(
        f"{rally_settings.rally_base_url}/api/v1/activities", headers={"X-Api-Key": DEV_API_KEY}
    ).json()
    assert listed, (worker.stderr, [p.body for p in fake_slack.response_posts()])
    [call] = listed
    assert {
        k: call[k] for k in ("activityType", "subject", "body", "callDirection", "callOutcome")
    } == {
        "activityType": "call",
        "subject": "Discovery call with Sarah Chen",
        "body": "Discussed enterprise licensing needs & timeline <3",
        "callDirection": "inbound",
        "callOutcome": "connected",
    }
    assert call["callDurationSeconds"] == 45 * 60
    assert call["contactId"] == "d290f1ee-6c54-4b01-90e6-d701748f0851"
    assert call["companyId"] == "b5c7e1a2-3d4f-5678-9abc-def012345678"
    assert call["dealId"] == DEAL_ID  # from the channel binding
    assert call["status"] == "completed"

    [told] = [p for p in fake_slack.response_posts(response_url)]
    text = json.dumps(told.body)
    assert f"{APP_URL}/activities/{call['id']}" in text
    assert "Discovery call with Sarah Chen" in text and "45 min" in text and "inbound" in text
