"""The HTTP edge: nothing unverified is parsed, logged whole, or served; an empty signing
secret cannot switch verification off; the web tier keeps answering under hostile input."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import VerificationRequired, create_app
from core.settings import Settings
from devstack.fake_slack import payloads
from tests.e2e.harness import Rally
from tests.fixtures.redis import free_port
from tests.fixtures.slack import SIGNING_SECRET
from tests.fixtures.waiting import wait_until

RALLY_SLACK = str(Path(sys.executable).with_name("rally-slack"))


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.subprocess
def test_web_exits_at_once_naming_an_empty_signing_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RALLY_"))}
    env |= {"SLACK_SIGNING_SECRET": "", "SLACK_BOT_TOKEN": "xoxb-test-not-a-real-token"}
    started = time.monotonic()
    result = subprocess.run(
        [RALLY_SLACK, "web"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert time.monotonic() - started < 30


@pytest.mark.subprocess
def test_a_blank_line_in_dotenv_is_not_a_signing_secret(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_SIGNING_SECRET=   \nSLACK_BOT_TOKEN=xoxb-test-x\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RALLY_"))}
    result = subprocess.run(
        [RALLY_SLACK, "web"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SLACK_SIGNING_SECRET" in result.stderr


def test_the_app_cannot_be_built_unverified_unless_asked(rally_settings: Settings) -> None:
    empty = rally_settings.model_copy(update={"slack_signing_secret": None})
    with pytest.raises(VerificationRequired):
        create_app(empty)
    assert create_app(empty, verify_requests=False) is not None


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"[1, 2, 3]", {"Content-Type": "application/json"}),
        (b"[" * 200_000 + b"]" * 200_000, {"Content-Type": "application/json"}),
        (b"payload=%7Bnot", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}),
        (b"command=%2Frally&text=tasks", {"X-Slack-Request-Timestamp": "\u00b2"}),
        (b"command=%2Frally&text=me", {"Content-Type": "application/x-www-form-urlencoded"}),
        (b"x\nINFO forged log line", {"X-Slack-Signature": "v0=" + "0" * 64}),
    ],
)
def test_unsigned_bodies_are_refused_unparsed_and_never_logged(
    rally: Rally, caplog: pytest.LogCaptureFixture, body: bytes, headers: dict[str, str]
) -> None:
    caplog.set_level(logging.DEBUG)
    response = rally.post(body, headers=headers)
    assert response.status_code == 401
    logged = _logged(caplog)
    assert "forged log line" not in logged and "not json" not in logged
    assert "event=request_refused status=401 error=invalid_signature" in logged
    assert f"length={len(body)}" in logged
    assert not [r for r in caplog.records if r.exc_info]
    rally.work()
    assert rally.activities() == []


def test_a_stale_signature_is_refused(rally: Rally) -> None:
    body = payloads.slash_command("tasks")
    old = payloads.signed_headers(body, SIGNING_SECRET, timestamp=int(time.time()) - 3600)
    assert rally.post(body, headers=old).status_code == 401


def test_a_signed_body_that_is_not_json_is_a_plain_400(rally: Rally) -> None:
    body = b"payload=%7Bnot-json"
    assert rally.post(body).status_code == 400
    body = b"payload=" + b"%5B" * 100_000
    assert rally.post(body).status_code == 400


def test_a_body_over_1_mib_is_413_without_being_read(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    big = b"command=%2Frally&text=" + b"x" * (2 * 1024 * 1024)
    assert rally.post(big).status_code == 413

    assert "xxxx" not in _logged(caplog)


def test_no_static_files_are_served(rally: Rally) -> None:
    assert rally.client.get("/static/README.md").status_code == 404
    assert rally.client.get("/static/../pyproject.toml").status_code == 404


@pytest.fixture
def web(rally_settings: Settings, tmp_path: Path) -> Any:
    """A real ``rally-slack web`` (gunicorn, one worker, four threads); yields its URL."""
    port = free_port()
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen(
        [RALLY_SLACK, "web", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(base), timeout=30)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert "yyyy" not in (tmp_path / "web.log").read_text()


def test_a_chunked_body_over_1_mib_is_413_from_the_real_server(web: str) -> None:
    def chunks() -> Any:
        for _ in range(32):
            yield b"y" * 65_536
        yield b"!"

    response = httpx.post(
        f"{web}/slack/events",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_a_hostile_duration_is_answered_fast_by_the_real_server_and_healthz_stays_up(
    web: str,
) -> None:
    text = 'x for:"' + "1m " * 63 + '!"'
    assert len("call " + text) >= 200
    body = payloads.slash_command("call " + text)
    healthy: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            healthy.append(httpx.get(f"{web}/healthz", timeout=5).status_code)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.monotonic()
    response = httpx.post(
        f"{web}/slack/events",
        content=body,
        headers=payloads.signed_headers(body, SIGNING_SECRET),
        timeout=10,
    )
    elapsed = time.monotonic() - started
    stop.set()
    poller.join(timeout=10)
    assert response.status_code == 200
    assert "duration" in response.text
    assert elapsed < 2.5, elapsed  # it once held a worker for 31 s; Slack allows 3
    assert healthy and set(healthy) == {200}


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
