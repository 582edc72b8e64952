"""People as themselves (SPEC §6): a person's own key logs as them, is kept encrypted and
never shown; the operator's commands connect, audit and migrate; a host not allowed is
refused before any request leaves."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from cli.main import main as rally_slack
from devstack.fake_slack.payloads import state_values_for, view_submission
from sandbox.tenants import DEV_API_KEY, parse_key_spec
from slack_ui import ids
from tests.e2e.harness import TEAM_ID, Rally
from workers.state import State

ALICE_KEY = "rk_test_alice_own_key_not_real"
EVE_KEY = "rk_test_eve_other_tenant_not_real"
ALICE_OWNER = parse_key_spec(f"{ALICE_KEY}=acme:alice")[1].owner_id


@pytest.fixture
def sandbox_app(make_sandbox_app: Callable[..., Flask]) -> Flask:
    """One tenant, acme, where the workspace's key and Alice's own are two owners; and
    Eve's key of another tenant, globex."""
    return make_sandbox_app(
        api_keys=[
            f"{DEV_API_KEY}=acme:workspace",
            f"{ALICE_KEY}=acme:alice",
            f"{EVE_KEY}=globex:eve",
        ]
    )


def _connect_own_key(rally: Rally, key: str, user: str = "U0ALICE") -> dict[str, Any]:
    before = len(rally.fake.calls("views.open"))
    assert rally.command("connect", user=user).status_code == 200
    call = rally.fake.wait_until(
        lambda: len(rally.fake.calls("views.open")) > before and rally.fake.calls("views.open")[-1]
    )
    view = dict(call.response["view"])
    assert view["callback_id"] == ids.CONNECT_PERSONAL_VIEW
    response = rally.interact(
        view_submission(view, state_values_for(view, {ids.API_KEY: key}), user=user)
    )
    assert response.status_code == 200
    rally.work()
    return view


def test_a_person_with_their_own_key_logs_a_note_owned_by_their_own_owner_id(
    rally: Rally,
) -> None:
    _connect_own_key(rally, ALICE_KEY)
    key = rally.store.personal_key(TEAM_ID, "U0ALICE")
    assert key is not None and key.status == "ok"
    assert any("Your own Rally key works" in t for t in rally.shown_to("U0ALICE"))

    rally.command("note Pricing call with Acme", user="U0ALICE")
    rally.command("note Logged by the team", user="U0BOB")
    rally.work()
    owners = {a["subject"]: a["ownerId"] for a in rally.activities()}
    assert owners["Pricing call with Acme"] == ALICE_OWNER
    assert (
        owners["Logged by the team"] == parse_key_spec(f"{DEV_API_KEY}=acme:workspace")[1].owner_id
    )
    # From now on Alice's reminders mention her: the owner id she logs as is hers.
    assert rally.store.user_for_owner(TEAM_ID, ALICE_OWNER) == (TEAM_ID, "U0ALICE")

    assert "your own Rally key" in rally.command("me", user="U0ALICE").get_data(as_text=True)
    assert "gone" in rally.command("disconnect", user="U0ALICE").get_data(as_text=True)
    assert rally.store.personal_key(TEAM_ID, "U0ALICE") is None
    trail = [e.action for e in rally.store.audit_trail(TEAM_ID)]
    assert {"connected_key", "logged", "disconnected_key"} <= set(trail)


def test_a_key_of_another_tenant_is_refused_and_the_workspace_key_stays(rally: Rally) -> None:
    rally.command("note Already in the workspace's tenant", user="U0BOB")
    rally.work()
    _connect_own_key(rally, EVE_KEY, user="U0BOB")
    key = rally.store.personal_key(TEAM_ID, "U0BOB")
    assert key is not None and key.status == "failed"
    assert "another Rally tenant" in (key.status_detail or "")
    rally.command("note Still the workspace's", user="U0BOB")
    rally.work()
    assert [a["subject"] for a in rally.activities()][-1] == "Still the workspace's"


def test_no_key_or_token_is_ever_in_a_log_a_job_a_message_or_a_column(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [ALICE_KEY, DEV_API_KEY, rally.fake.bot_token]
    caplog.set_level("DEBUG")
    _connect_own_key(rally, ALICE_KEY)
    rally.command("task Follow up with Acme due:tomorrow", user="U0ALICE")
    rally.work()
    shown = json.dumps([(c.method, c.params, c.response) for c in rally.fake.calls()])
    shown += json.dumps([p.body for p in rally.fake.response_posts()])
    logged = "\n".join(r.getMessage() for r in caplog.records)
    redis_dump = " ".join(_redis_values(rally))
    with rally.store.engine.connect() as connection:
        tables = connection.execute(text("select name from sqlite_master where type='table'"))
        rows = [
            json.dumps(
                [list(map(str, row)) for row in connection.execute(text(f'select * from "{name}"'))]
            )
            for (name,) in tables
        ]
    for secret in secrets:
        for where, haystack in (
            ("slack", shown),
            ("log", logged),
            ("redis", redis_dump),
            ("db", " ".join(rows)),
        ):
            # The bot token is what authenticates calls to the fake Slack: only there.
            if where == "slack" and secret == rally.fake.bot_token:
                continue
            assert secret not in haystack, (where, secret[:6])


def _redis_values(rally: Rally) -> list[str]:
    """Every value held in Redis, read by type (DUMP's format may compress them)."""
    out = []
    for key in rally.redis.keys("*"):
        kind = rally.redis.type(key).decode()
        if kind == "string":
            out.append(str(rally.redis.get(key)))
        elif kind == "hash":
            out.append(str(rally.redis.hgetall(key)))
        elif kind == "list":
            out.append(str(rally.redis.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(str(rally.redis.smembers(key)))
        elif kind == "zset":
            out.append(str(rally.redis.zrange(key, 0, -1)))
    assert any("create-" in value or "rq" in value for value in out)  # jobs were read
    return out


# -- the operator's commands ------------------------------------------------------------------


class _Trap(BaseHTTPRequestHandler):
    """A server nobody should call: it counts whoever does."""

    hits: list[str] = []

    def do_GET(self) -> None:
        _Trap.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def trap() -> Iterator[str]:
    _Trap.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_connect_refuses_a_host_not_allowed_before_any_request(
    rally: Rally, trap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("RALLY_ALLOWED_HOSTS", "*.rallycrm.io")
    monkeypatch.setenv("RALLY_BASE_URL", "https://acme.rallycrm.io")
    key_file = tmp_path / "key"
    key_file.write_text(DEV_API_KEY)
    internal = trap.replace("127.0.0.1", "localhost")  # not RALLY_BASE_URL's host either
    with pytest.raises(SystemExit, match="not an allowed Rally host"):
        rally_slack(
            ["connect", "--team", "T0NEW", "--rally-url", internal, "--api-key-file", str(key_file)]
        )
    assert _Trap.hits == []
    assert rally.store.connection("T0NEW") is None
    assert DEV_API_KEY not in capsys.readouterr().out


def test_connect_checks_the_key_with_one_list_call_and_prints_the_tenant_never_the_key(
    rally: Rally, tmp_path: Path, capsys: Any
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(ALICE_KEY + "\n")
    assert (
        rally_slack(
            [
                "connect",
                "--team",
                "T0NEW",
                "--rally-url",
                rally.api_url,
                "--api-key-file",
                str(key_file),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "T0NEW" in out and ALICE_KEY not in out and ALICE_KEY[-4:] in out
    stored = rally.store.connection("T0NEW")
    assert stored is not None and (stored.status, stored.api_key) == ("ok", ALICE_KEY)
    key_file.write_text("rk_not_a_key_the_sandbox_knows")
    with pytest.raises(SystemExit, match="refused the key"):
        rally_slack(
            [
                "connect",
                "--team",
                "T0BAD",
                "--rally-url",
                rally.api_url,
                "--api-key-file",
                str(key_file),
            ]
        )
    assert rally.store.connection("T0BAD") is None


def test_audit_prints_the_trail_oldest_first(rally: Rally, capsys: Any) -> None:
    rally.command("note First")
    rally.command("note Second")
    rally.work()
    assert rally_slack(["audit", "--team", TEAM_ID]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines] == ["logged", "logged"]
    assert all("U0ALICE" in line and "via " in line for line in lines)
    assert rally_slack(["audit", "--team", TEAM_ID, "--since", "2999-01-01T00:00:00Z"]) == 0
    assert capsys.readouterr().out == ""


def test_db_upgrade_carries_links_and_owners_over_from_redis_once(
    rally: Rally, capsys: Any
) -> None:
    deal = "c8f9a0b1-2d3e-4f56-7890-abcdef123456"
    owner = "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1"
    rally.redis.set("rally:link:T0OLD:C0OLD", json.dumps({"kind": "deal", "id": deal}))
    rally.redis.sadd(f"rally:linked:deal:{deal}", "T0OLD:C0OLD")
    rally.redis.set("rally:owner:T0OLD:U0OLD", owner)
    rally.redis.set(f"rally:owner-user:{owner}", "T0OLD:U0OLD")
    assert rally_slack(["db", "upgrade"]) == 0
    assert "1 channel links, 1 owner mappings" in capsys.readouterr().out
    assert rally.store.link("T0OLD", "C0OLD") is not None
    assert rally.store.owner("T0OLD", "U0OLD") == owner
    assert State(rally.redis).legacy_links() == [] and not rally.redis.keys("rally:owner*")
    assert rally_slack(["db", "upgrade"]) == 0
    assert "carried over" not in capsys.readouterr().out


def test_keys_rotate_and_the_old_key_can_then_go(
    rally: Rally, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from core.secrets import new_key
    from core.store import open_store
    from tests.fixtures.database import TEST_KEYS

    _connect_own_key(rally, ALICE_KEY)
    fresh = new_key()
    monkeypatch.setenv("RALLY_SLACK_ENCRYPTION_KEYS", f"{fresh},{TEST_KEYS[0]}")
    assert rally_slack(["db", "rotate-keys"]) == 0
    assert "re-encrypted 1 stored credentials" in capsys.readouterr().out
    only_new = open_store(rally.settings.database_url, [fresh])
    key = only_new.personal_key(TEAM_ID, "U0ALICE")
    assert key is not None and key.api_key == ALICE_KEY


def test_a_workflow_step_never_borrows_the_own_key_of_the_person_it_names(rally: Rally) -> None:
    """Whoever builds a workflow picks its ``logged_by``: it may choose the owner a person
    is mapped to, never their key (SPEC §6: people log as themselves only themselves)."""
    from tests.e2e.test_workflow_steps import _step

    workspace_owner = parse_key_spec(f"{DEV_API_KEY}=acme:workspace")[1].owner_id
    _connect_own_key(rally, ALICE_KEY)
    inputs = {"activity_type": "note", "subject": "Claimed to be Alice's", "logged_by": "U0ALICE"}
    assert _step(rally, ids.LOG_ACTIVITY_STEP, inputs, execution="Fx0ALICE").status_code == 200
    rally.work()
    [note] = rally.activities()
    assert note["ownerId"] == workspace_owner  # the workspace's key, not Alice's

    rally.store.set_owner(TEAM_ID, "U0DAVE", ALICE_OWNER, by="U0CAROL")  # as an admin's /rally me
    inputs = {"activity_type": "note", "subject": "Dave's, as mapped", "logged_by": "U0DAVE"}
    assert _step(rally, ids.LOG_ACTIVITY_STEP, inputs, execution="Fx0DAVE").status_code == 200
    rally.work()
    owners = {a["subject"]: a["ownerId"] for a in rally.activities()}
    assert owners["Dave's, as mapped"] == ALICE_OWNER
    entries = [e for e in rally.store.audit_trail(TEAM_ID) if e.surface == "workflow"]
    assert [e.user_id for e in entries] == ["U0ALICE", "U0DAVE"]
