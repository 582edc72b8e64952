"""Two workspaces, installed as a new customer would: OAuth against the fake Slack (SPEC §6).

Each workspace goes through the app's real ``/slack/install`` (Bolt's page and its state
cookie), the fake Slack's consent page (Allow, into the chosen workspace) and back to
``/slack/oauth_redirect`` (state checked, ``oauth.v2.access`` over HTTP); each is
connected to its own sandbox tenant with ``rally-slack connect``; and then people log from
both. The store-touching assertions run on SQLite and on PostgreSQL (``database_url``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import Engine, inspect, text, update

from bot.server import create_flask_app
from cli.main import main as rally_slack
from core.settings import Settings
from core.store import schema
from devstack.fake_slack.payloads import event_callback
from devstack.fake_slack.server import BOT_USER_ID, TEAM_ID, Channel, FakeSlack, Person
from tests.e2e.harness import APP_URL, Rally
from tests.fixtures.database import TEST_KEYS
from tests.fixtures.sandbox import DEV_API_KEY, OTHER_API_KEY
from tests.fixtures.slack import SIGNING_SECRET

CLIENT_ID = "1234567890.0987654321"
CLIENT_SECRET = "test-client-secret-not-real"
REDIRECT = "http://localhost/slack/oauth_redirect"
GLOBEX = "T0GLOBEX01"


def _globex_people() -> list[Person]:
    return [
        Person("U1ERIN", "erin", "Erin Vance", "Europe/Berlin", "Account Executive"),
        Person("U1FRANK", "frank", "Frank Osei", "America/Chicago", "Sales Manager"),
        Person(BOT_USER_ID, "rally", "Rally", "America/Los_Angeles", is_bot=True),
    ]


def _globex_channels(people: list[Person]) -> list[Channel]:
    everyone = {p.id for p in people}
    return [Channel("C1SALES", "sales", members=set(everyone))]


@dataclass
class Workspaces:
    """The app in OAuth mode, the fake Slack with two workspaces, and a hand in each."""

    client: FlaskClient
    fake: FakeSlack
    settings: Settings
    redis: redis.Redis
    acme: Rally
    globex: Rally
    tmp_path: Path
    sandbox_url: str

    def work(self) -> int:
        return self.acme.work()

    @property
    def engine(self) -> Engine:
        return self.acme.store.engine

    def install(self, team: str) -> str:
        """Install the app into ``team`` through the whole OAuth dance; its bot token."""
        page = self.client.get("/slack/install")
        assert page.status_code == 200, page.data
        authorize = html.unescape(
            re.search(r'href="([^"]+/oauth/v2/authorize[^"]*)"', page.get_data(as_text=True))[1]  # type: ignore[index]
        )
        consent = httpx.get(f"{authorize}&team={team}")
        assert consent.status_code == 200, consent.text
        name = self.fake.team(team).team_name
        assert f"Install Rally into {name}" in consent.text
        form = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
        form = {k: html.unescape(v) for k, v in form.items()}
        decided = httpx.post(
            f"{self.fake.base_url}/oauth/v2/authorize",
            data={**form, "team": team, "decision": "allow"},
        )
        assert decided.status_code == 302, decided.text
        back = urlsplit(decided.headers["location"])
        assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
        finished = self.client.get(f"{back.path}?{back.query}")
        assert finished.status_code == 200, finished.data
        tokens = [t.value for t in self.fake.tokens(team) if not t.revoked]
        assert tokens, "no token was issued"
        return tokens[-1]

    def connect(self, team: str, api_key: str) -> None:
        key_file = self.tmp_path / f"{team}.key"
        key_file.write_text(api_key + "\n")
        code = rally_slack(
            [
                "connect",
                "--team",
                team,
                "--rally-url",
                self.sandbox_url,
                "--api-key-file",
                str(key_file),
            ]
        )
        assert code == 0

    def event(self, event: dict[str, Any], team: str) -> Any:
        return self.acme.post(event_callback(event, team=team))


@pytest.fixture
def workspaces(
    monkeypatch: pytest.MonkeyPatch,
    fake_slack: FakeSlack,
    redis_url: str,
    redis_conn: redis.Redis,
    sandbox_url: str,
    database_url: str,
    tmp_path: Path,
) -> Iterator[Workspaces]:
    """OAuth distribution (no ``SLACK_BOT_TOKEN``), the store on SQLite or PostgreSQL."""
    env = {
        "DATABASE_URL": database_url,
        "RALLY_SLACK_ENCRYPTION_KEYS": TEST_KEYS[0],
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "RALLY_ALLOWED_HOSTS": "127.0.0.1",
        "RALLY_APP_URL": APP_URL,
        "REDIS_URL": redis_url,
        "JOB_RETRY_INTERVALS": "0,0",
    }
    for name in ("SLACK_BOT_TOKEN", "RALLY_BASE_URL", "RALLY_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.distributed
    fake_slack.register_app(CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT)
    people = _globex_people()
    globex_fake = fake_slack.add_team(
        GLOBEX, "Globex Sales", people=people, channels=_globex_channels(people)
    )
    with create_flask_app(settings).test_client() as client:
        yield Workspaces(
            client=client,
            fake=fake_slack,
            settings=settings,
            redis=redis_conn,
            acme=Rally(client, fake_slack, redis_conn, sandbox_url, settings),
            globex=Rally(
                client,
                globex_fake,
                redis_conn,
                sandbox_url,
                settings,
                team=GLOBEX,
                api_key=OTHER_API_KEY,
            ),
            tmp_path=tmp_path,
            sandbox_url=sandbox_url,
        )


# -- what the tests read ------------------------------------------------------------------


def _rows(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, each as one string of its values."""
    out: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            result = connection.execute(text(f'select * from "{table}"'))
            out[table] = [json.dumps([str(v) for v in row]) for row in result]
    return out


def _redis_dump(conn: redis.Redis) -> dict[str, str]:
    """Every Redis key, with its value read by type."""
    out: dict[str, str] = {}
    for raw in conn.scan_iter(match="*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        kind = conn.type(raw)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        readers = {
            "string": lambda k: conn.get(k),
            "hash": lambda k: conn.hgetall(k),
            "list": lambda k: conn.lrange(k, 0, -1),
            "set": lambda k: conn.smembers(k),
            "zset": lambda k: conn.zrange(k, 0, -1),
        }
        out[key] = str(readers[kind](raw)) if kind in readers else ""
    return out


def _subjects(rally: Rally) -> set[str]:
    return {a["subject"] for a in rally.activities()}


def _seen_by(fake: FakeSlack, user: str) -> str:
    posts = [p.body for p in fake.response_posts()]
    posts += fake.ephemerals(user=user)
    for channel in list(fake.channels):
        posts += fake.messages(channel)
    return json.dumps(posts)


def _web_api_calls(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.all_calls() if c.method != "oauth.v2.access"]


# -- the tests ----------------------------------------------------------------------------


def test_two_workspaces_installed_through_oauth_each_log_into_their_own_tenant(
    workspaces: Workspaces, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    acme_token = workspaces.install(TEAM_ID)
    globex_token = workspaces.install(GLOBEX)
    assert acme_token != globex_token
    store = workspaces.acme.store
    installations = store.installation_store(CLIENT_ID)
    for team, token in ((TEAM_ID, acme_token), (GLOBEX, globex_token)):
        bot = installations.find_bot(enterprise_id=None, team_id=team)
        assert bot is not None and bot.bot_token == token

    workspaces.connect(TEAM_ID, DEV_API_KEY)
    workspaces.connect(GLOBEX, OTHER_API_KEY)
    acme, globex = workspaces.acme, workspaces.globex
    assert acme.command("note Pricing call with Acme").status_code == 200
    assert (
        globex.command("note Kickoff with Globex", user="U1ERIN", channel="C1SALES").status_code
        == 200
    )
    workspaces.work()

    assert _subjects(acme) == {"Pricing call with Acme"}
    assert _subjects(globex) == {"Kickoff with Globex"}
    # Each confirmation reached its own workspace, and only that one.
    assert "Kickoff with Globex" in _seen_by(globex.fake, "U1ERIN")
    assert "Kickoff with Globex" not in _seen_by(acme.fake, "U0ALICE")
    assert "Pricing call with Acme" in _seen_by(acme.fake, "U0ALICE")
    assert "Pricing call with Acme" not in _seen_by(globex.fake, "U1ERIN")

    # Every Web API call came with a token issued to the workspace that answered it.
    issued = {t.value: t.team for t in workspaces.fake.tokens()}
    calls = _web_api_calls(workspaces.fake)
    assert {c.team for c in calls} == {TEAM_ID, GLOBEX}
    for call in calls:
        assert call.token in issued, (call.method, call.response.get("error"))
        assert issued[call.token] == call.team, call.method
        assert call.ok, (call.method, call.response)
    assert {c.token for c in calls if c.team == GLOBEX} == {globex_token}
    assert {c.token for c in calls if c.team == TEAM_ID} == {acme_token}

    # No token, key or client secret in clear: not in a column, a log line or Redis
    # (job arguments included).
    rows = json.dumps(_rows(workspaces.engine))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    held = json.dumps(_redis_dump(workspaces.redis))
    for secret in (acme_token, globex_token, DEV_API_KEY, OTHER_API_KEY, CLIENT_SECRET):
        for where, haystack in (("db", rows), ("log", logged), ("redis", held)):
            assert secret not in haystack, (where, secret[:8])


def test_the_install_flow_checks_its_state(workspaces: Workspaces) -> None:
    page = workspaces.client.get("/slack/install")
    authorize = html.unescape(
        re.search(r'href="([^"]+)"', page.get_data(as_text=True).split("<body>")[1])[1]  # type: ignore[index]
    )
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    # A forged state, or the real one from a browser without the install cookie: refused.
    forged = workspaces.client.get("/slack/oauth_redirect?code=1.abc&state=forged")
    assert forged.status_code == 400
    with create_flask_app(workspaces.settings).test_client() as stranger:
        assert stranger.get(f"/slack/oauth_redirect?code=1.abc&state={state}").status_code == 400
    # Cancelling on the consent page installs nothing.
    consent = httpx.get(f"{authorize}&team={GLOBEX}")
    form = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', consent.text))
    cancelled = httpx.post(
        f"{workspaces.fake.base_url}/oauth/v2/authorize",
        data={**{k: html.unescape(v) for k, v in form.items()}, "decision": "deny"},
    )
    back = urlsplit(cancelled.headers["location"])
    assert parse_qs(back.query)["error"] == ["access_denied"]
    assert workspaces.client.get(f"{back.path}?{back.query}").status_code != 500
    store = workspaces.acme.store.installation_store(CLIENT_ID)
    assert store.find_bot(enterprise_id=None, team_id=GLOBEX) is None
    assert workspaces.fake.tokens() == []
    # The client secret is what oauth.v2.access checks.
    wrong = httpx.post(
        workspaces.fake.api_url + "oauth.v2.access",
        data={"code": "1.abc"},
        auth=(CLIENT_ID, "not-the-secret"),
    )
    assert wrong.json() == {"ok": False, "error": "bad_client_secret"}


def test_an_expired_token_is_rotated_by_bolt_and_the_call_works(workspaces: Workspaces) -> None:
    workspaces.fake.register_app(
        CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT, token_rotation=True
    )
    old = workspaces.install(TEAM_ID)
    assert old.startswith("xoxe.xoxb-")
    workspaces.connect(TEAM_ID, DEV_API_KEY)
    # Twelve hours pass: Slack now refuses the token, and the installation says it expired.
    _expire(workspaces, old)
    before = len(workspaces.fake.all_calls())

    acme = workspaces.acme
    assert acme.command("note After twelve hours").status_code == 200
    workspaces.work()

    assert _subjects(acme) == {"After twelve hours"}
    assert "After twelve hours" in _seen_by(acme.fake, "U0ALICE")
    after = workspaces.fake.all_calls()[before:]
    refreshes = [c for c in after if c.method == "oauth.v2.access"]
    assert len(refreshes) == 1 and refreshes[0].ok
    assert refreshes[0].params["grant_type"] == "refresh_token"
    new = refreshes[0].response["access_token"]
    assert new != old
    web = [c for c in after if c.method != "oauth.v2.access"]
    assert web and all(c.token == new and c.ok for c in web)
    bot = acme.store.installation_store(CLIENT_ID).find_bot(enterprise_id=None, team_id=TEAM_ID)
    assert bot is not None and bot.bot_token == new
    rows = json.dumps(_rows(workspaces.engine))
    assert new not in rows and refreshes[0].response["refresh_token"] not in rows

    # Twelve more hours pass while a job waits: the worker refreshes the token itself.
    assert acme.command("note Queued before the expiry").status_code == 200
    _expire(workspaces, new)
    before = len(workspaces.fake.all_calls())
    workspaces.work()
    assert "Queued before the expiry" in _subjects(acme)
    after = workspaces.fake.all_calls()[before:]
    (refresh,) = [c for c in after if c.method == "oauth.v2.access"]
    assert refresh.ok and refresh.params["grant_type"] == "refresh_token"
    newest = refresh.response["access_token"]
    assert all(c.token == newest and c.ok for c in after if c.method != "oauth.v2.access")
    stored = acme.store.installation_store(CLIENT_ID).find_bot(enterprise_id=None, team_id=TEAM_ID)
    assert stored is not None and stored.bot_token == newest
    assert "Queued before the expiry" in _seen_by(acme.fake, "U0ALICE")


def _expire(workspaces: Workspaces, token: str) -> None:
    """Time passes: Slack refuses ``token``, and the installation says it expired."""
    workspaces.fake.expire_token(token)
    past = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    with workspaces.engine.begin() as connection:
        for table in (schema.bots_table, schema.installations_table):
            connection.execute(
                update(table).where(table.c.team_id == TEAM_ID).values(bot_token_expires_at=past)
            )


@pytest.mark.parametrize(
    "leaving",
    [
        {"type": "app_uninstalled"},
        {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER_ID]}},
    ],
    ids=["app_uninstalled", "tokens_revoked"],
)
def test_after_one_is_uninstalled_nothing_of_it_remains_and_the_other_still_works(
    workspaces: Workspaces, leaving: dict[str, Any]
) -> None:
    workspaces.install(TEAM_ID)
    workspaces.install(GLOBEX)
    workspaces.connect(TEAM_ID, DEV_API_KEY)
    workspaces.connect(GLOBEX, OTHER_API_KEY)
    acme, globex = workspaces.acme, workspaces.globex
    acme.command("task Send the proposal due:tomorrow")
    acme.command("link deal c8f9a0b1-2d3e-4f56-7890-abcdef123456", channel="C0ACME")
    globex.command("note Globex kickoff", user="U1ERIN", channel="C1SALES")
    workspaces.work()
    rows = _rows(workspaces.engine)
    assert any(TEAM_ID in row for table in rows.values() for row in table)
    assert any(TEAM_ID in key for key in _redis_dump(workspaces.redis))

    # Slack revokes the workspace's tokens and tells the app.
    workspaces.fake.uninstall(TEAM_ID)
    response = workspaces.event(leaving, team=TEAM_ID)
    assert response.status_code == 200
    workspaces.work()

    left = {
        table: [row for row in found if TEAM_ID in row]
        for table, found in _rows(workspaces.engine).items()
    }
    assert not any(left.values()), left
    dump = _redis_dump(workspaces.redis)
    assert [key for key in dump if TEAM_ID in key] == []
    # The app's own state (not RQ's finished-job records) holds nothing of it either.
    assert [k for k, v in dump.items() if k.startswith("rally:") and TEAM_ID in v] == []

    # The other workspace still works, with its own token and tenant.
    before = len(workspaces.fake.all_calls())
    globex.command("note Still here", user="U1ERIN", channel="C1SALES")
    workspaces.work()
    assert _subjects(globex) == {"Globex kickoff", "Still here"}
    after = [c for c in workspaces.fake.all_calls()[before:] if c.method != "oauth.v2.access"]
    assert after and all(c.team == GLOBEX and c.ok for c in after)
    # And a command from the uninstalled workspace is refused without touching anything.
    acme.command("note Ghost")
    workspaces.work()
    assert "Ghost" not in _subjects(acme) | _subjects(globex)
