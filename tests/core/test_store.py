"""The durable store, on SQLite and on PostgreSQL: schema on first use, encrypted
credentials, links and identities, the audit trail, and a workspace leaving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import select, text

from core.secrets import PREFIX, Cipher, CredentialsUnreadable, new_key
from core.store import SchemaOutOfDate, Store, engine_for, open_store, schema
from core.store.migrate import ensure_schema, head, upgrade
from tests.fixtures.database import TEST_KEYS

TOKEN = "xoxb-test-not-a-real-token-1234"


@pytest.fixture
def store(database_url: str) -> Store:
    return open_store(database_url, TEST_KEYS)


def _installation(
    team: str, *, user: str = "U0ADMIN", token: str = TOKEN, at: float = 0
) -> Installation:
    return Installation(
        app_id="A0RALLYAPP",
        team_id=team,
        user_id=user,
        bot_token=token,
        bot_id="B0RALLY",
        bot_user_id="U0RALLYBOT",
        bot_scopes="commands,chat:write",
        bot_refresh_token="xoxe-1-test-refresh-not-real",
        user_token="xoxp-test-user-not-real",
        installed_at=1_800_000_000.0 + at,
    )


def test_an_empty_database_is_created_at_the_newest_revision(database_url: str) -> None:
    engine = engine_for(database_url)
    ensure_schema(engine)
    ensure_schema(engine)  # and is then accepted as it is
    with engine.connect() as connection:
        version = connection.execute(text("select version_num from alembic_version")).scalar()
    assert version == head()


def test_a_database_at_an_unknown_revision_is_refused_with_the_command(database_url: str) -> None:
    engine = engine_for(database_url)
    ensure_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0000-old'"))
    with pytest.raises(SchemaOutOfDate, match="rally-slack db upgrade"):
        ensure_schema(engine)


def test_upgrade_creates_an_empty_database_and_is_then_a_no_op(database_url: str) -> None:
    engine = engine_for(database_url)
    assert upgrade(engine) == (None, head())
    assert upgrade(engine) == (head(), head())
    ensure_schema(engine)


def test_tokens_are_stored_encrypted_and_read_back_plain(store: Store) -> None:
    installations = store.installation_store("1234.5678")
    installations.save(_installation("T0ONE"))
    bot = installations.find_bot(enterprise_id=None, team_id="T0ONE")
    assert bot is not None and bot.bot_token == TOKEN
    found = installations.find_installation(enterprise_id=None, team_id="T0ONE")
    assert found is not None and found.user_token == "xoxp-test-user-not-real"
    with store.engine.connect() as connection:
        rows = [
            *connection.execute(select(schema.installations_table)).mappings(),
            *connection.execute(select(schema.bots_table)).mappings(),
        ]
    for row in rows:
        for column in schema.TOKEN_COLUMNS:
            value = row.get(column)
            assert value is None or value.startswith(PREFIX), (column, value)
        assert "xox" not in " ".join(str(v) for v in row.values())


def test_forgetting_a_team_removes_every_installation_and_its_bot(store: Store) -> None:
    installations = store.installation_store("1234.5678")
    for n in range(3):  # reinstalled twice, by different admins
        installations.save(_installation("T0GONE", user=f"U0ADMIN{n}", at=n))
    installations.save(_installation("T0STAYS"))
    installations.forget(enterprise_id=None, team_id="T0GONE")
    assert installations.find_bot(enterprise_id=None, team_id="T0GONE") is None
    assert installations.find_installation(enterprise_id=None, team_id="T0GONE") is None
    with store.engine.connect() as connection:
        left = connection.execute(
            select(schema.installations_table.c.team_id).where(
                schema.installations_table.c.team_id == "T0GONE"
            )
        ).all()
    assert left == []
    assert installations.find_bot(enterprise_id=None, team_id="T0STAYS") is not None


def test_oauth_state_is_issued_once_and_consumed_once(store: Store) -> None:
    states = store.state_store()
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False


def test_links_replace_and_list_by_record(store: Store) -> None:
    deal = "C8F9A0B1-2D3E-4F56-7890-ABCDEF123456"
    assert store.link_channel("T1", "C1", "deal", deal, by="U1") is None
    store.link_channel("T1", "C2", "deal", deal)
    store.link_channel("T2", "C9", "deal", deal)
    assert store.link("T1", "C1") is not None and store.link("T1", "C1").id == deal.lower()  # type: ignore[union-attr]
    assert store.channels_linked_to("deal", deal) == [("T1", "C1"), ("T1", "C2"), ("T2", "C9")]
    assert store.channels_linked_to("deal", deal, team="T2") == [("T2", "C9")]
    previous = store.link_channel("T1", "C1", "company", "d290f1ee-6c54-4b01-90e6-d701748f0851")
    assert previous is not None and previous.kind == "deal"
    assert store.unlink_channel("T1", "C1") is not None
    assert store.unlink_channel("T1", "C1") is None


def test_owner_mappings_go_both_ways_within_a_team(store: Store) -> None:
    owner = "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1"
    store.set_owner("T1", "U1", owner, by="U0ADMIN")
    store.set_owner("T2", "U7", owner)
    assert store.owner("T1", "U1") == owner
    assert store.user_for_owner("T1", owner) == ("T1", "U1")
    assert store.user_for_owner("T2", owner) == ("T2", "U7")


def test_connections_and_personal_keys_are_encrypted_and_shown_by_their_last_four(
    store: Store,
) -> None:
    store.save_connection("T1", "https://acme.rallycrm.io", "rk_live_secret_value_9f3a", by="U1")
    store.save_personal_key("T1", "U2", "rk_personal_secret_value_77b1")
    with store.engine.connect() as connection:
        raw = [
            *connection.execute(text("select api_key, key_hint from rally_connections")),
            *connection.execute(text("select api_key, key_hint from personal_keys")),
        ]
    assert all(key.startswith(PREFIX) and "secret" not in key for key, _ in raw)
    assert sorted(hint for _, hint in raw) == ["…77b1", "…9f3a"]
    connection_ = store.connection("T1")
    assert connection_ is not None and connection_.api_key == "rk_live_secret_value_9f3a"
    assert connection_.status == "checking"
    store.set_connection_status("T1", "ok", tenant_id="tenant-1")
    assert store.connected_teams() == ["T1"]
    assert store.personal_key("T1", "U2").api_key == "rk_personal_secret_value_77b1"  # type: ignore[union-attr]
    assert store.delete_personal_key("T1", "U2") is True
    assert store.personal_key("T1", "U2") is None


def test_the_audit_trail_is_oldest_first_and_filtered_by_time(store: Store) -> None:
    store.audit("T1", "U1", "logged", surface="modal", activity_id="a1", type="note")
    store.audit("T1", "U2", "completed", surface="reminder", activity_id="a2")
    store.audit("T2", "U9", "logged", surface="command", activity_id="a3")
    trail = store.audit_trail("T1")
    assert [(e.action, e.activity_id) for e in trail] == [("logged", "a1"), ("completed", "a2")]
    assert trail[0].detail == {"type": "note"}
    assert store.audit_trail("T1", since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_a_team_that_leaves_leaves_nothing(store: Store) -> None:
    store.installation_store("1.2").save(_installation("T0GONE"))
    store.save_connection("T0GONE", "https://x.rallycrm.io", "rk_x_not_real_0000", by=None)
    store.save_personal_key("T0GONE", "U1", "rk_y_not_real_1111")
    store.set_owner("T0GONE", "U1", "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1")
    store.link_channel("T0GONE", "C1", "deal", "c8f9a0b1-2d3e-4f56-7890-abcdef123456")
    store.audit("T0GONE", "U1", "logged", surface="modal")
    store.set_owner_self_service("T0GONE", True)
    store.set_digest("T0GONE", "C1", at="09:00", tz="UTC", by="U1")
    store.set_owner("T0STAYS", "U1", "e4d909c2-90d0-4b2b-88c5-8e9a0fa1e4b1")
    store.forget_team("T0GONE")
    with store.engine.connect() as connection:
        for table in schema.metadata.sorted_tables:
            if "team_id" in table.c:
                left = connection.execute(select(table).where(table.c.team_id == "T0GONE")).all()
                assert left == [], table.name
    assert store.owner("T0STAYS", "U1") is not None


def test_migrations_build_the_same_schema_as_the_models(database_url: str) -> None:
    """``db upgrade`` from the first revision ends where a fresh database starts."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.store.migrate import _config

    engine = engine_for(database_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0001")
    assert upgrade(engine) == ("0001", head())
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    assert diff == []


def test_a_digest_day_is_taken_once_and_can_be_given_back(store: Store) -> None:
    assert store.set_digest("T1", "C1", at="08:30", tz="Asia/Tokyo", by="U1") is None
    assert store.claim_digest_day("T1", "C1", "2026-12-01")
    assert not store.claim_digest_day("T1", "C1", "2026-12-01")
    assert not store.claim_digest_day("T1", "C1", "2026-11-30")  # never back in time
    store.release_digest_day("T1", "C1", "2026-12-01", None)
    assert store.claim_digest_day("T1", "C1", "2026-12-01")
    assert store.claim_digest_day("T1", "C1", "2026-12-02")
    assert not store.claim_digest_day("T1", "C2", "2026-12-02")  # no digest there
    digest = store.digest("T1", "C1")
    assert digest is not None and (digest.at, digest.tz, digest.last_day) == (
        "08:30",
        "Asia/Tokyo",
        "2026-12-02",
    )
    assert [d.channel_id for d in store.digests()] == ["C1"]
    assert store.delete_digest("T1", "C1") == digest
    assert store.digests() == [] and store.delete_digest("T1", "C1") is None


def test_keys_rotate_and_an_unknown_key_is_named() -> None:
    old, new = new_key(), new_key()
    stored = Cipher([old]).encrypt("rk_secret_value")
    ring = Cipher([new, old])
    assert ring.decrypt(stored) == "rk_secret_value"
    rotated = ring.rotate(stored)
    assert Cipher([new]).decrypt(rotated) == "rk_secret_value"
    with pytest.raises(CredentialsUnreadable, match="RALLY_SLACK_ENCRYPTION_KEYS"):
        Cipher([new_key()]).decrypt(stored)
    assert ring.encrypt(stored) == stored  # never encrypted twice


def test_a_key_that_is_not_a_fernet_key_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="RALLY_SLACK_ENCRYPTION_KEYS"):
        Cipher(["not-a-key"])


def test_processes_starting_together_on_a_fresh_database_all_start(database_url: str) -> None:
    """gunicorn's workers, a worker and cron may open a fresh store at the same moment."""
    import subprocess
    import sys

    code = (
        "import sys; from core.store import engine_for; "
        "from core.store.migrate import ensure_schema; ensure_schema(engine_for(sys.argv[1]))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=120), p.communicate()[1][-500:]) for p in procs]
    assert [code for code, _ in outcomes] == [0, 0, 0, 0], outcomes
    ensure_schema(engine_for(database_url))
