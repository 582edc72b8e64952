"""The durable store (SPEC §6): one ``Store`` over ``DATABASE_URL``.

SQLite by default (a file under ``.data/``, created at the current schema on first use),
PostgreSQL in production. Everything a workspace set up lives here: its Slack
installation (tokens encrypted), its Rally connection and people's own keys (encrypted),
owner mappings, channel links and the audit trail. Redis keeps only queues, caches and
the reminder index, which can be rebuilt from Rally.

    store = open_store(settings)
    store.link_channel(team, channel, "deal", deal_id, by=user)
    store.audit(team, user, "completed", surface="reminder", activity_id=task_id)

Every method opens and commits its own short transaction; values going in and out are
plain data (:class:`Link`, :class:`Connection`, ...), never ORM objects.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.secrets import Cipher, last4
from core.store import schema
from core.store.installations import EncryptedInstallationStore, StateStore
from core.store.migrate import SchemaOutOfDate, ensure_schema

__all__ = [
    "NAME_MAX",
    "AuditEntry",
    "Connection",
    "Digest",
    "Link",
    "PersonalKey",
    "SchemaOutOfDate",
    "Store",
    "engine_for",
    "open_store",
]


NAME_MAX = 75
"""The longest name a record may be given: what a Slack menu option shows in full."""


@dataclass(frozen=True)
class Link:
    """A channel's binding to one Rally record."""

    kind: str
    id: str


@dataclass(frozen=True)
class Connection:
    """A workspace's Rally tenant. ``api_key`` is decrypted: never log or show it."""

    team_id: str
    base_url: str
    api_key: str
    key_hint: str
    status: str
    status_detail: str | None
    tenant_id: str | None
    checked_at: datetime | None
    connected_by: str | None


@dataclass(frozen=True)
class PersonalKey:
    """A person's own Rally key. ``api_key`` is decrypted: never log or show it."""

    team_id: str
    user_id: str
    api_key: str
    key_hint: str
    status: str
    status_detail: str | None
    owner_id: str | None


@dataclass(frozen=True)
class Digest:
    """A channel's daily digest: posted at ``at`` ("HH:MM") on working days in ``tz``."""

    team_id: str
    channel_id: str
    at: str
    tz: str
    enabled_by: str | None
    last_day: str | None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    team_id: str
    user_id: str | None
    action: str
    surface: str
    activity_id: str | None
    detail: dict[str, Any]


def engine_for(url: str) -> Engine:
    """An engine for ``DATABASE_URL``; a SQLite file gets its folder, WAL and a busy wait."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # Several processes (web, workers, cron) share the file: readers never block the
        # writer, and a writer waits for another instead of failing at once.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class Store:
    """Typed access to the durable store."""

    def __init__(self, engine: Engine, cipher: Cipher | None) -> None:
        self.engine = engine
        self._cipher = cipher
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @property
    def cipher(self) -> Cipher:
        if self._cipher is None:
            raise RuntimeError(
                "RALLY_SLACK_ENCRYPTION_KEYS is not set: it is needed to store or read a "
                "credential (see README, Configuration)"
            )
        return self._cipher

    # -- Slack installations (OAuth) ----------------------------------------------------

    def installation_store(self, client_id: str) -> EncryptedInstallationStore:
        return EncryptedInstallationStore(client_id, self.engine, self.cipher)

    def state_store(self) -> StateStore:
        return StateStore(self.engine)

    # -- workspaces -----------------------------------------------------------------------

    def owner_self_service(self, team: str) -> bool:
        with self._session() as session:
            workspace = session.get(schema.Workspace, team)
            return bool(workspace and workspace.owner_self_service)

    def set_owner_self_service(self, team: str, allowed: bool) -> None:
        with self._session() as session:
            workspace = session.get(schema.Workspace, team) or schema.Workspace(team_id=team)
            workspace.owner_self_service = allowed
            session.add(workspace)

    # -- Rally connections ----------------------------------------------------------------

    def save_connection(self, team: str, base_url: str, api_key: str, *, by: str | None) -> None:
        """Keep a workspace's tenant (the key encrypted), to be checked (status ``checking``)."""
        with self._session() as session:
            row = session.get(schema.RallyConnection, team) or schema.RallyConnection(team_id=team)
            row.base_url = base_url
            row.api_key = self.cipher.encrypt(api_key)
            row.key_hint = last4(api_key)
            row.status, row.status_detail, row.tenant_id = "checking", None, None
            row.connected_by, row.checked_at = by, None
            session.add(row)

    def connection(self, team: str) -> Connection | None:
        with self._session() as session:
            row = session.get(schema.RallyConnection, team)
            if row is None:
                return None
            return Connection(
                team_id=row.team_id,
                base_url=row.base_url,
                api_key=self.cipher.decrypt(row.api_key),
                key_hint=row.key_hint,
                status=row.status,
                status_detail=row.status_detail,
                tenant_id=row.tenant_id,
                checked_at=row.checked_at,
                connected_by=row.connected_by,
            )

    def connection_status(self, team: str) -> tuple[str, str | None, str | None] | None:
        """(status, base URL's host, key hint) of a team's connection, without its key."""
        with self._session() as session:
            row = session.get(schema.RallyConnection, team)
            if row is None:
                return None
            from urllib.parse import urlsplit

            return row.status, urlsplit(row.base_url).hostname, row.key_hint

    def set_connection_status(
        self, team: str, status: str, *, detail: str | None = None, tenant_id: str | None = None
    ) -> None:
        with self._session() as session:
            row = session.get(schema.RallyConnection, team)
            if row is None:
                return
            row.status, row.status_detail = status, detail
            row.tenant_id = tenant_id or row.tenant_id
            row.checked_at = datetime.now(UTC)

    def connected_teams(self) -> list[str]:
        """Every workspace with a working (checked) Rally connection."""
        with self._session() as session:
            query = select(schema.RallyConnection.team_id).where(
                schema.RallyConnection.status == "ok"
            )
            return sorted(session.scalars(query))

    # -- personal keys --------------------------------------------------------------------

    def save_personal_key(self, team: str, user: str, api_key: str) -> None:
        with self._session() as session:
            row = session.get(schema.PersonalKey, (team, user)) or schema.PersonalKey(
                team_id=team, user_id=user
            )
            row.api_key = self.cipher.encrypt(api_key)
            row.key_hint = last4(api_key)
            row.status, row.status_detail, row.owner_id = "checking", None, None
            session.add(row)

    def personal_key(self, team: str, user: str) -> PersonalKey | None:
        with self._session() as session:
            row = session.get(schema.PersonalKey, (team, user))
            if row is None:
                return None
            return PersonalKey(
                team_id=row.team_id,
                user_id=row.user_id,
                api_key=self.cipher.decrypt(row.api_key),
                key_hint=row.key_hint,
                status=row.status,
                status_detail=row.status_detail,
                owner_id=row.owner_id,
            )

    def set_personal_key_status(
        self,
        team: str,
        user: str,
        status: str,
        *,
        detail: str | None = None,
        owner_id: str | None = None,
    ) -> None:
        with self._session() as session:
            row = session.get(schema.PersonalKey, (team, user))
            if row is not None:
                row.status, row.status_detail = status, detail
                row.owner_id = owner_id or row.owner_id

    def delete_personal_key(self, team: str, user: str) -> bool:
        with self._session() as session:
            result = session.execute(
                delete(schema.PersonalKey).where(
                    schema.PersonalKey.team_id == team, schema.PersonalKey.user_id == user
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- owner mappings -------------------------------------------------------------------

    def set_owner(self, team: str, user: str, owner_id: str, *, by: str | None = None) -> None:
        """Map a Slack user to a Rally owner id (``/rally me``)."""
        with self._session() as session:
            row = session.get(schema.OwnerMapping, (team, user)) or schema.OwnerMapping(
                team_id=team, user_id=user
            )
            row.owner_id, row.set_by = owner_id.lower(), by
            session.add(row)

    def owner(self, team: str, user: str) -> str | None:
        with self._session() as session:
            row = session.get(schema.OwnerMapping, (team, user))
            return row.owner_id if row else None

    def user_for_owner(self, team: str | None, owner_id: str) -> tuple[str, str] | None:
        """The (team, user) mapped to a Rally owner id, in ``team`` if given; the latest."""
        with self._session() as session:
            query = select(schema.OwnerMapping).where(
                schema.OwnerMapping.owner_id == owner_id.lower()
            )
            if team is not None:
                query = query.where(schema.OwnerMapping.team_id == team)
            row = session.scalars(
                query.order_by(schema.OwnerMapping.updated_at.desc()).limit(1)
            ).first()
            return (row.team_id, row.user_id) if row else None

    # -- channel links --------------------------------------------------------------------

    def link_channel(
        self, team: str, channel: str, kind: str, record_id: str, *, by: str | None = None
    ) -> Link | None:
        """Bind a channel to a record; returns the binding it replaced, if any."""
        with self._session() as session:
            row = session.get(schema.ChannelLink, (team, channel))
            previous = Link(row.kind, row.record_id) if row else None
            row = row or schema.ChannelLink(team_id=team, channel_id=channel)
            row.kind, row.record_id, row.linked_by = kind, record_id.lower(), by
            row.linked_at = datetime.now(UTC)
            session.add(row)
            return previous

    def unlink_channel(self, team: str, channel: str) -> Link | None:
        """Remove a channel's binding; returns the one removed, if any."""
        with self._session() as session:
            row = session.get(schema.ChannelLink, (team, channel))
            if row is None:
                return None
            session.delete(row)
            return Link(row.kind, row.record_id)

    def link(self, team: str, channel: str) -> Link | None:
        with self._session() as session:
            row = session.get(schema.ChannelLink, (team, channel))
            return Link(row.kind, row.record_id) if row else None

    def channels_linked_to(
        self, kind: str, record_id: str, *, team: str | None = None
    ) -> list[tuple[str, str]]:
        """Every (team, channel) bound to a record, sorted (in ``team`` only, if given)."""
        with self._session() as session:
            query = select(schema.ChannelLink.team_id, schema.ChannelLink.channel_id).where(
                schema.ChannelLink.kind == kind,
                schema.ChannelLink.record_id == record_id.lower(),
            )
            if team is not None:
                query = query.where(schema.ChannelLink.team_id == team)
            return sorted((t, c) for t, c in session.execute(query))

    # -- channel digests ------------------------------------------------------------------

    def set_digest(
        self,
        team: str,
        channel: str,
        *,
        at: str,
        tz: str,
        by: str | None,
        last_day: str | None = None,
    ) -> Digest | None:
        """Turn a channel's digest on (or move it); returns the setting it replaced."""
        with self._session() as session:
            row = session.get(schema.ChannelDigest, (team, channel))
            previous = _digest(row) if row else None
            row = row or schema.ChannelDigest(team_id=team, channel_id=channel)
            row.at_time, row.tz, row.enabled_by = at, tz, by
            row.enabled_at, row.last_day = datetime.now(UTC), last_day
            session.add(row)
            return previous

    def delete_digest(self, team: str, channel: str) -> Digest | None:
        """Turn a channel's digest off; returns the setting removed, if any."""
        with self._session() as session:
            row = session.get(schema.ChannelDigest, (team, channel))
            if row is None:
                return None
            session.delete(row)
            return _digest(row)

    def digest(self, team: str, channel: str) -> Digest | None:
        with self._session() as session:
            row = session.get(schema.ChannelDigest, (team, channel))
            return _digest(row) if row else None

    def digests(self) -> list[Digest]:
        """Every channel's digest setting, every workspace's (for the scheduler)."""
        with self._session() as session:
            rows = session.scalars(
                select(schema.ChannelDigest).order_by(
                    schema.ChannelDigest.team_id, schema.ChannelDigest.channel_id
                )
            )
            return [_digest(row) for row in rows]

    def claim_digest_day(self, team: str, channel: str, day: str) -> bool:
        """Take ``day``'s digest of a channel: True for exactly one caller per day.

        One conditional UPDATE, so two schedulers racing (or two databases' worth of
        isolation levels) cannot both win.
        """
        table = schema.ChannelDigest
        with self._session() as session:
            result = session.execute(
                update(table)
                .where(
                    table.team_id == team,
                    table.channel_id == channel,
                    or_(table.last_day.is_(None), table.last_day < day),
                )
                .values(last_day=day)
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def release_digest_day(self, team: str, channel: str, day: str, back_to: str | None) -> None:
        """Give back a claimed day whose digest could not be posted (tried again later)."""
        table = schema.ChannelDigest
        with self._session() as session:
            session.execute(
                update(table)
                .where(table.team_id == team, table.channel_id == channel, table.last_day == day)
                .values(last_day=back_to)
            )

    # -- record names ---------------------------------------------------------------------

    def name_record(
        self, team: str, kind: str, record_id: str, name: str, *, by: str | None
    ) -> str | None:
        """Give a record its name in this workspace; returns the name it replaced, if any."""
        if not 0 < len(name) <= NAME_MAX:
            raise ValueError(f"a name is 1 to {NAME_MAX} characters")
        with self._session() as session:
            row = session.get(schema.RecordName, (team, kind, record_id.lower()))
            previous = row.name if row else None
            row = row or schema.RecordName(team_id=team, kind=kind, record_id=record_id.lower())
            row.name, row.named_by, row.named_at = name, by, datetime.now(UTC)
            session.add(row)
            return previous

    def record_names(
        self, team: str | None, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """The names of the given (kind, id) records in a workspace (unnamed ones left out);
        ``team`` None (the one workspace of ``SLACK_BOT_TOKEN``): the latest name given."""
        wanted = {(kind, rid.lower()) for kind, rid in pairs if rid}
        if not wanted:
            return {}
        table = schema.RecordName
        with self._session() as session:
            query = select(table.kind, table.record_id, table.name).where(
                table.record_id.in_(sorted({rid for _, rid in wanted}))
            )
            if team is not None:
                query = query.where(table.team_id == team)
            rows = session.execute(query.order_by(table.named_at))
            return {(k, r): n for k, r, n in rows if (k, r) in wanted}

    def named_records(self, team: str) -> list[tuple[str, str, str]]:
        """Every (kind, id, name) a workspace named (to rebuild the type-ahead's index)."""
        table = schema.RecordName
        with self._session() as session:
            rows = session.execute(
                select(table.kind, table.record_id, table.name).where(table.team_id == team)
            )
            return [(k, r, n) for k, r, n in rows]

    # -- audit ----------------------------------------------------------------------------

    def audit(
        self,
        team: str,
        user: str | None,
        action: str,
        *,
        surface: str,
        activity_id: str | None = None,
        **detail: Any,
    ) -> None:
        """Write one entry of the audit trail (who, what, which activity, where, when)."""
        with self._session() as session:
            session.add(
                schema.AuditEvent(
                    team_id=team,
                    user_id=user,
                    action=action,
                    surface=surface,
                    activity_id=activity_id,
                    detail=detail,
                    at=datetime.now(UTC),
                )
            )

    def audit_many(
        self,
        team: str,
        user: str | None,
        action: str,
        *,
        surface: str,
        activities: list[tuple[str, dict[str, Any]]],
    ) -> None:
        """:meth:`audit` for many activities in one statement (a coalesced batch)."""
        if not activities:
            return
        at = datetime.now(UTC)
        rows = [
            {
                "team_id": team,
                "user_id": user,
                "action": action,
                "surface": surface,
                "activity_id": activity_id,
                "detail": detail,
                "at": at,
            }
            for activity_id, detail in activities
        ]
        with self._session() as session:
            session.execute(insert(schema.AuditEvent), rows)

    def audit_trail(self, team: str, *, since: datetime | None = None) -> list[AuditEntry]:
        """The team's audit trail, oldest first."""
        with self._session() as session:
            query = select(schema.AuditEvent).where(schema.AuditEvent.team_id == team)
            if since is not None:
                query = query.where(schema.AuditEvent.at >= since)
            rows = session.scalars(query.order_by(schema.AuditEvent.at, schema.AuditEvent.id))
            return [
                AuditEntry(
                    at=_aware(row.at),
                    team_id=row.team_id,
                    user_id=row.user_id,
                    action=row.action,
                    surface=row.surface,
                    activity_id=row.activity_id,
                    detail=dict(row.detail or {}),
                )
                for row in rows
            ]

    # -- meta -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self._session() as session:
            row = session.get(schema.StoreMeta, key)
            return row.value if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._session() as session:
            session.merge(schema.StoreMeta(key=key, value=value))

    # -- a workspace leaves ---------------------------------------------------------------

    def forget_team(self, team: str, *, enterprise_id: str | None = None) -> dict[str, int]:
        """Delete every row kept for a team (uninstall); returns rows deleted per table."""
        counts: dict[str, int] = {}
        with self._session() as session:
            for model in (
                schema.RallyConnection,
                schema.PersonalKey,
                schema.OwnerMapping,
                schema.ChannelLink,
                schema.ChannelDigest,
                schema.RecordName,
                schema.AuditEvent,
                schema.Workspace,
            ):
                result = session.execute(delete(model).where(model.team_id == team))
                counts[model.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
            for table in (schema.installations_table, schema.bots_table):
                result = session.execute(delete(table).where(table.c.team_id == team))
                counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
        return counts


def _digest(row: schema.ChannelDigest) -> Digest:
    return Digest(
        team_id=row.team_id,
        channel_id=row.channel_id,
        at=row.at_time,
        tz=row.tz,
        enabled_by=row.enabled_by,
        last_day=row.last_day,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_OPEN: dict[tuple[int, str, tuple[str, ...]], Store] = {}
_CHECKED: set[str] = set()
"""Databases whose schema this process, or the process it was forked from, has checked."""


def open_store(database_url: str, encryption_keys: list[str] | None) -> Store:
    """The process's store on ``database_url`` (schema created or checked on first use).

    One per process and URL: an engine is never carried across a fork (RQ's work horses
    open their own). The schema check (Alembic's, tens of milliseconds) is made once per
    process tree: a work horse whose worker checked it before forking skips it, so a job
    does not pay for it (``workers.runner.preload`` opens the store in the worker).

    Raises:
        SchemaOutOfDate: the database needs ``rally-slack db upgrade``.
    """
    key = (os.getpid(), database_url, tuple(encryption_keys or ()))
    if key not in _OPEN:
        engine = engine_for(database_url)
        if database_url not in _CHECKED:
            ensure_schema(engine)
            _CHECKED.add(database_url)
        _OPEN[key] = Store(engine, Cipher(encryption_keys) if encryption_keys else None)
    return _OPEN[key]
