"""The console in front of the real bot, and a headless Chromium to use it.

``console_stack`` is what ``rally-slack dev`` serves, stood up in-process on a loopback
port: the bot's Flask app and the console (with its fake Slack) on one server, real
Redis, the sandbox as the Activities API; ``work()`` runs burst workers. ``page`` is a
Playwright page on the system's Chromium (Debian's ``chromium``); the browser tests skip
with the reason when it or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from core.settings import Settings
from devstack.console.app import Console
from devstack.dev import DEV_BOT_TOKEN, DEV_SIGNING_SECRET, bind_web, build_web
from devstack.fake_slack.server import FakeSlack
from tests.fixtures.sandbox import DEV_API_KEY
from workers import queues
from workers.runner import run_burst

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
]


@dataclass
class ConsoleStack:
    """The console and the bot behind it, plus the hands to run the workers."""

    origin: str
    console: Console
    redis: redis.Redis
    sandbox_url: str
    settings: Settings

    @property
    def fake(self) -> FakeSlack:
        return self.console.fake

    @property
    def url(self) -> str:
        return f"{self.origin}/console/"

    def work(self, *, expect: bool = True, timeout: float = 10.0) -> int:
        """Run burst workers until nothing is queued or due.

        With ``expect``, first wait (polling, with a deadline) for a job to be queued:
        the bot acknowledges Slack before it enqueues, and the page posts asynchronously.
        """
        if expect:
            deadline = time.monotonic() + timeout
            while not any(queues.queue(n, self.redis).count for n in queues.ALL_QUEUES):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nothing was queued within {timeout}s")
                time.sleep(0.05)
        return run_burst(self.redis, queues.ALL_QUEUES, log_level="WARNING")


@pytest.fixture
def rally_app_url() -> str | None:
    """``RALLY_APP_URL`` of the stack: none (no links), unless a test parametrizes it."""
    return None


@pytest.fixture
def console_stack(
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_conn: redis.Redis,
    sandbox_url: str,
    rally_app_url: str | None,
    tmp_path: Path,
) -> Iterator[ConsoleStack]:
    server, slot = bind_web("127.0.0.1", 0)
    origin = f"http://127.0.0.1:{server.server_port}"
    env = {
        "SLACK_SIGNING_SECRET": DEV_SIGNING_SECRET,
        "SLACK_BOT_TOKEN": DEV_BOT_TOKEN,
        "SLACK_API_URL": f"{origin}/console/api/",
        "RALLY_BASE_URL": sandbox_url,
        "RALLY_API_KEY": DEV_API_KEY,
        "REDIS_URL": redis_url,
        "JOB_RETRY_INTERVALS": "0,0",
        # The store of this test alone (not .data/ of the working directory).
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rally-slack.db'}",
    }
    if rally_app_url:
        env["RALLY_APP_URL"] = rally_app_url
    # The workers (run here, forking work horses) read the same settings from the env.
    monkeypatch.delenv("RALLY_APP_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app, console = build_web(origin, env)
    slot.app = app
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="console-http", daemon=True
    )
    thread.start()
    try:
        yield ConsoleStack(
            origin,
            console,
            redis_conn,
            sandbox_url,
            Settings(_env_file=None),  # type: ignore[call-arg]
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _chromium() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured
    for candidate in CHROMIUM_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The system's Chromium under Playwright, once per session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the Python 'playwright' package (pip install playwright)")
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "browser tests need Chromium: Debian's 'chromium' package "
            "(scripts/ensure-browser installs it; CHROMIUM=/path overrides)"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
