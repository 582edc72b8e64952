"""``rally-slack db upgrade`` and ``rally-slack db rotate-keys``.

``upgrade`` creates or migrates the store's schema (Alembic), then carries over, once,
the channel links and owner mappings an earlier version kept in Redis. ``rotate-keys``
re-encrypts every stored credential with the first key of ``RALLY_SLACK_ENCRYPTION_KEYS``
(put the new key first, restart, rotate, then drop the old key).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from sqlalchemy import Table, select

from core.redis import worker_redis
from core.secrets import Cipher
from core.settings import load_settings
from core.store import Store, engine_for, schema
from core.store.migrate import upgrade
from workers.state import State
from workers.workspace import store_of

CARRIED_OVER = "redis_carryover_v1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", help="create or migrate the schema; carry Redis state over once")
    actions.add_parser("rotate-keys", help="re-encrypt every credential with the first key")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.action == "upgrade":
        before, after = upgrade(engine_for(settings.database_url))
        print(f"database at revision {after}" + (f" (was {before})" if before != after else ""))
        store = store_of(settings)
        links, owners = carry_over(store, State(worker_redis(settings.redis_url)))
        if links or owners:
            print(f"carried over from Redis: {links} channel links, {owners} owner mappings")
        return 0
    if not settings.encryption_keys():
        raise SystemExit("RALLY_SLACK_ENCRYPTION_KEYS is not set: there is nothing to rotate to")
    count = rotate(store_of(settings), Cipher(settings.encryption_keys()))
    print(f"re-encrypted {count} stored credentials with the first key")
    return 0


def carry_over(store: Store, state: State) -> tuple[int, int]:
    """Links and owner mappings from Redis into the store, once (then gone from Redis).

    A link or mapping already in the store wins: it was made after the upgrade.
    """
    if store.meta(CARRIED_OVER):
        return 0, 0
    links = owners = 0
    for team, channel, link in state.legacy_links():
        if store.link(team, channel) is None:
            store.link_channel(team, channel, link.kind, link.id)
            links += 1
    for team, user, owner in state.legacy_owners():
        if store.owner(team, user) is None:
            store.set_owner(team, user, owner)
            owners += 1
    store.set_meta(CARRIED_OVER, datetime.now(UTC).isoformat())
    state.forget_legacy()
    return links, owners


def rotate(store: Store, cipher: Cipher) -> int:
    """Re-encrypt every stored credential (tokens and keys) with the first key."""
    count = 0
    with store.engine.begin() as connection:
        tables: list[tuple[Table, tuple[str, ...]]] = [
            (schema.installations_table, schema.TOKEN_COLUMNS),
            (schema.bots_table, schema.TOKEN_COLUMNS),
            (schema.metadata.tables["rally_connections"], ("api_key",)),
            (schema.metadata.tables["personal_keys"], ("api_key",)),
        ]
        for table, columns in tables:
            key = list(table.primary_key.columns)
            present = [c for c in columns if c in table.c]
            for row in connection.execute(select(*key, *(table.c[c] for c in present))).mappings():
                changes = {
                    c: cipher.rotate(row[c]) for c in present if isinstance(row[c], str) and row[c]
                }
                if changes:
                    where = [column == row[column.name] for column in key]
                    connection.execute(table.update().where(*where).values(**changes))
                    count += len(changes)
    return count
