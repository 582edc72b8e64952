"""channel digests: a channel's daily digest time, zone and the last day it was taken

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_digests",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("at_time", sa.String(length=5), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("enabled_by", sa.String(length=32), nullable=True),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_day", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "channel_id", name=op.f("pk_channel_digests")),
    )


def downgrade() -> None:
    op.drop_table("channel_digests")
