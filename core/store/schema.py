"""The durable store's tables (SQLAlchemy 2), one ``MetaData`` for Alembic to migrate.

Ours:

    workspaces          one row per Slack workspace (team): its settings
    rally_connections   the workspace's Rally tenant: base URL, encrypted API key, check state
    personal_keys       a person's own Rally API key (encrypted), so Rally attributes to them
    owner_mappings      Slack user -> Rally owner id (``/rally me``), both ways
    channel_links       channel -> the Rally deal, company or contact it is linked to
    channel_digests     a channel's daily digest: its local time and zone, the last day posted
    record_names        the name a workspace gave a deal, company or contact (``/rally name``)
    audit_events        who did what to which activity, from which surface, when
    store_meta          one-off facts about the store (e.g. that Redis state was carried over)

And slack_sdk's, for OAuth distribution (``slack_installations``, ``slack_bots``,
``slack_oauth_states``), built with slack_sdk's own table builders so its stores read and
write them unchanged, but with room for encrypted tokens (see
:mod:`core.store.installations`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SLACK_INSTALLATIONS: Final = "slack_installations"
SLACK_BOTS: Final = "slack_bots"
SLACK_OAUTH_STATES: Final = "slack_oauth_states"
# Fernet roughly doubles a token's length (and Slack's rotating tokens are long):
# slack_sdk's String(200) would truncate an encrypted one on PostgreSQL.
TOKEN_COLUMNS: Final = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
TOKEN_LENGTH: Final = 1024
NAME_COLUMN: Final = 128
"""Room for a record's name (the app takes at most ``core.store.NAME_MAX`` characters)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Workspace(Base):
    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    # SPEC §6: "people may choose their owner id" (/rally me for oneself); off by default.
    owner_self_service: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RallyConnection(Base):
    __tablename__ = "rally_connections"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(2048))
    api_key: Mapped[str] = mapped_column(Text)  # encrypted (core.secrets)
    key_hint: Mapped[str] = mapped_column(String(16))  # "…abcd": all that is ever shown
    status: Mapped[str] = mapped_column(String(16), default="checking")  # checking|ok|failed
    status_detail: Mapped[str | None] = mapped_column(Text)
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    connected_by: Mapped[str | None] = mapped_column(String(32))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PersonalKey(Base):
    __tablename__ = "personal_keys"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    api_key: Mapped[str] = mapped_column(Text)  # encrypted
    key_hint: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="checking")
    status_detail: Mapped[str | None] = mapped_column(Text)
    # Learned from the first activity created with the key (Rally's ownerId for it).
    owner_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class OwnerMapping(Base):
    __tablename__ = "owner_mappings"
    __table_args__ = (Index(None, "owner_id"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    set_by: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ChannelLink(Base):
    __tablename__ = "channel_links"
    __table_args__ = (Index(None, "kind", "record_id"),)

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # deal | company | contact
    record_id: Mapped[str] = mapped_column(String(64))
    linked_by: Mapped[str | None] = mapped_column(String(32))
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelDigest(Base):
    __tablename__ = "channel_digests"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at_time: Mapped[str] = mapped_column(String(5))  # "HH:MM" on the enabler's clock
    tz: Mapped[str] = mapped_column(String(64))  # the enabler's Slack time zone (IANA)
    enabled_by: Mapped[str | None] = mapped_column(String(32))
    enabled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The local date ("YYYY-MM-DD") whose digest was taken; claimed atomically, so several
    # schedulers post one digest per channel and day.
    last_day: Mapped[str | None] = mapped_column(String(10))


class RecordName(Base):
    __tablename__ = "record_names"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # deal | company | contact
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_COLUMN))
    named_by: Mapped[str | None] = mapped_column(String(32))
    named_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "team_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    activity_id: Mapped[str | None] = mapped_column(String(64))
    surface: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoreMeta(Base):
    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class _WideTokenInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's table builders, with token columns wide enough to hold ciphertext."""

    @classmethod
    def build_installations_table(cls, metadata: MetaData, table_name: str) -> Table:
        return _widened(super().build_installations_table(metadata, table_name))

    @classmethod
    def build_bots_table(cls, metadata: MetaData, table_name: str) -> Table:
        return _widened(super().build_bots_table(metadata, table_name))


def _widened(table: Table) -> Table:
    for name in TOKEN_COLUMNS:
        if name in table.c:
            table.c[name].type = String(TOKEN_LENGTH)
    return table


installations_table: Final = _WideTokenInstallationStore.build_installations_table(
    Base.metadata, SLACK_INSTALLATIONS
)
bots_table: Final = _WideTokenInstallationStore.build_bots_table(Base.metadata, SLACK_BOTS)
oauth_states_table: Final = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, SLACK_OAUTH_STATES
)
metadata: Final = Base.metadata
