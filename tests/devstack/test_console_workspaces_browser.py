"""``rally-slack dev`` distributes the app with OAuth: in the browser, a newcomer sees
attribution work in the dev workspace, installs Rally into a second workspace through the
consent page the console plays, connects it to a second sandbox tenant from its App Home,
and logs there.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from flask import Flask

from core.settings import Settings
from devstack.dev import (
    ALICE_DEV_KEY,
    BOB_DEV_KEY,
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_SIGNING_SECRET,
    SECOND_TENANT_KEY,
    _Printer,
    _sandbox_keys,
    _set_up_dev_workspace,
    bind_web,
    build_web,
)
from sandbox.tenants import parse_key_spec
from slack_ui import ids
from tests.devstack.conftest import ConsoleStack
from tests.fixtures.database import TEST_KEYS
from tests.fixtures.sandbox import DEV_API_KEY
from workers.workspace import connection_state

pytestmark = pytest.mark.browser


@pytest.fixture
def sandbox_app(make_sandbox_app: Callable[..., Flask]) -> Flask:
    """The sandbox as ``rally-slack dev`` starts it: its four keys, two tenants."""
    keys = _sandbox_keys()
    return make_sandbox_app(api_keys=keys[1::2])


@pytest.fixture
def oauth_console(
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    redis_conn: redis.Redis,
    sandbox_url: str,
    tmp_path: Path,
) -> Iterator[ConsoleStack]:
    """What ``rally-slack dev`` serves, in-process: OAuth mode, the dev workspace
    installed (through the consent page), connected, Alice and Bob with their own keys."""
    server, slot = bind_web("127.0.0.1", 0)
    origin = f"http://127.0.0.1:{server.server_port}"
    env = {
        "SLACK_SIGNING_SECRET": DEV_SIGNING_SECRET,
        "SLACK_CLIENT_ID": DEV_CLIENT_ID,
        "SLACK_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "SLACK_API_URL": f"{origin}/console/api/",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rally-slack.db'}",
        "RALLY_SLACK_ENCRYPTION_KEYS": TEST_KEYS[0],
        "RALLY_ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": redis_url,
        "JOB_RETRY_INTERVALS": "0,0",
    }
    for name in ("SLACK_BOT_TOKEN", "RALLY_BASE_URL", "RALLY_API_KEY", "RALLY_APP_URL"):
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app, console = build_web(origin, env)
    slot.app = app
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="console-http", daemon=True
    )
    thread.start()
    try:
        _set_up_dev_workspace(origin, env, sandbox_url, tmp_path, _Printer(sys.stdout))
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


def _activities(stack: ConsoleStack, key: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.sandbox_url}/api/v1/activities", headers={"X-Api-Key": key}, params={"limit": 100}
    )
    response.raise_for_status()
    return list(response.json())


def _type(page: Any, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("composer").press("Enter")


def test_attribution_then_a_second_workspace_installed_connected_and_logging(
    oauth_console: ConsoleStack, page: Any
) -> None:
    stack = oauth_console
    context = page.context
    # Alice and Bob log with their own keys: Rally says each is theirs.
    for user, subject in (("U0ALICE", "Alice's own note"), ("U0BOB", "Bob's own note")):
        page.goto(f"{stack.url}?team=&user={user}&channel=C0SALES")
        page.get_by_test_id("title").filter(has_text="#").wait_for()
        _type(page, f"/rally note {subject}")
        stack.work()
        page.get_by_test_id("feed").get_by_text(f"Logged note {subject}").wait_for()
    owners = {a["subject"]: a["ownerId"] for a in _activities(stack, DEV_API_KEY)}
    assert owners["Alice's own note"] == parse_key_spec(f"{ALICE_DEV_KEY}=dev:alice")[1].owner_id
    assert owners["Bob's own note"] == parse_key_spec(f"{BOB_DEV_KEY}=dev:bob")[1].owner_id

    # A second workspace, and Rally installed into it through Slack's consent page.
    page.get_by_test_id("new-workspace-name").fill("Globex Sales")
    page.get_by_test_id("add-workspace").click()
    page.get_by_alt_text("Add to Slack").click()  # Bolt's /slack/install page
    page.locator("#consent-title").filter(has_text="Install Rally into Globex Sales").wait_for()
    page.locator("#consent-allow").click()
    page.wait_for_url("**/slack/oauth_redirect?**")
    # Bolt's "Thank you!" page hands over to the Slack app (a slack:// link, which a
    # browser asks about in a dialog of its own): the person goes back to the console,
    # here in a tab of its own.
    page.close()
    page = context.new_page()
    (team,) = [t.team_id for t in stack.fake.teams() if t.team_name == "Globex Sales"]
    assert [t.team for t in stack.fake.tokens() if t.team == team]

    # Its admin connects it to the second tenant from App Home.
    (admin,) = [p.id for p in stack.fake.team(team).people.values() if p.is_admin]
    page.goto(f"{stack.url}?team={team}&user={admin}&channel=app")
    page.get_by_test_id("workspace").filter(has_text="Globex Sales").wait_for()
    names = page.get_by_test_id("workspace").locator("option").all_inner_texts()
    assert names == ["Rally Dev", "Globex Sales"]
    home = page.get_by_test_id("home")
    home.get_by_role("button", name="Connect Rally").click()
    modal = page.get_by_test_id("modal")
    modal.locator(f"[data-block-id='{ids.RALLY_URL}'] input").fill(stack.sandbox_url)
    modal.locator(f"[data-block-id='{ids.API_KEY}'] input").fill(SECOND_TENANT_KEY)
    page.get_by_test_id("modal-submit").click()
    modal.wait_for(state="detached")
    stack.work()
    assert connection_state(stack.settings, team).connected
    home.get_by_text("127.0.0.1").first.wait_for()

    # And a note logged there lands in the second tenant, not the first.
    page.get_by_test_id("channel-sales").click()
    _type(page, "/rally note Kickoff with Globex")
    stack.work()
    page.get_by_test_id("feed").get_by_text("Logged note Kickoff with Globex").wait_for()
    assert [a["subject"] for a in _activities(stack, SECOND_TENANT_KEY)] == ["Kickoff with Globex"]
    assert "Kickoff with Globex" not in {a["subject"] for a in _activities(stack, DEV_API_KEY)}
    # Every call the bot made for the new workspace used the token it was given.
    theirs = {t.value for t in stack.fake.tokens(team)}
    calls = [c for c in stack.fake.all_calls() if c.team == team]
    assert calls and all(c.token in theirs and c.ok for c in calls)
