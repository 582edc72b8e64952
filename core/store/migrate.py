"""The store's schema: created at the current revision on first use, migrated by
``rally-slack db upgrade``, and refused by every process when it is not the one it knows.

A database with none of our tables (a fresh SQLite file, an empty PostgreSQL database) is
created from the models at once and stamped with the newest revision, so a fresh machine
runs nothing extra. Any other database must already be at that revision.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DatabaseError

from core.store.schema import metadata

MIGRATIONS: Final = Path(__file__).with_name("migrations")


class SchemaOutOfDate(Exception):
    """The database is at a revision this version does not run on."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of the code knows."""
    script = ScriptDirectory(str(MIGRATIONS))
    revision = script.get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def ensure_schema(engine: Engine, *, wait_s: float = 10.0) -> None:
    """Create an empty database at the newest revision; refuse one at another revision.

    Several processes may start at once on a fresh database (gunicorn's workers, the
    worker and cron): one creates it, and the others, whose own create then fails or
    finds it half made, wait up to ``wait_s`` for its revision to be stamped.

    Raises:
        SchemaOutOfDate: naming the revision found and the command that migrates it.
    """
    try:
        with engine.begin() as connection:
            ours = set(metadata.tables)
            if not ours & set(inspect(connection).get_table_names()):
                metadata.create_all(connection)
                command.stamp(_config(connection), "head")
                return
    except DatabaseError:
        pass  # another process is creating it: its stamp decides, below
    found, wanted = current(engine), head()
    deadline = time.monotonic() + wait_s
    while found is None and time.monotonic() < deadline:
        time.sleep(0.1)
        found = current(engine)
    if found != wanted:
        raise SchemaOutOfDate(
            f"the database at {engine.url.render_as_string(hide_password=True)} is at "
            f"revision {found or 'none'}, this version needs {wanted}: "
            "run `rally-slack db upgrade`"
        )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest revision (creating an empty database); returns (from, to)."""
    before = current(engine)
    with engine.begin() as connection:
        if before is None and not set(metadata.tables) & set(inspect(connection).get_table_names()):
            metadata.create_all(connection)
            command.stamp(_config(connection), "head")
        else:
            command.upgrade(_config(connection), "head")
    return before, head()
