"""SQLite storage of the sandbox: activities, per-tenant clocks and idempotency records.

One connection per thread (gunicorn's threads and processes, werkzeug's request threads
each get their own), WAL so readers never wait for the writer, and every write in one
``BEGIN IMMEDIATE`` transaction. Writers queue on a lock of their own first (a thread
lock, then ``flock`` on a file beside the database for other processes): SQLite's own
busy handler waits by sleeping 1, 2, 5, 10... ms and retrying, which under a few
concurrent writers costs far more than the writes themselves. Times are stored as integer microseconds since the Unix epoch: exact, cheap to
compare and index, and precise enough that ``updatedAt`` can strictly increase.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from api_client.models import ActivityResponse

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy handler does the queueing
    fcntl = None  # type: ignore[assignment]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_ONE_US: Final = timedelta(microseconds=1)

IDEMPOTENCY_WINDOW_US: Final = 24 * 3600 * 1_000_000
_CURSORS_KEPT: Final = 4096
_PURGE_CHANCE: Final = 0.001

# Column name (snake_case) for every wire field of ActivityResponse, in wire order.
COLUMNS: Final[tuple[str, ...]] = tuple(ActivityResponse.model_fields)
WIRE_NAMES: Final[dict[str, str]] = {
    name: field.alias or name for name, field in ActivityResponse.model_fields.items()
}
COLUMN_FOR_WIRE: Final[dict[str, str]] = {wire: col for col, wire in WIRE_NAMES.items()}
TIME_COLUMNS: Final = frozenset(
    {"scheduled_at", "due_date", "completed_at", "created_at", "updated_at"}
)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS activities (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT,
    contact_id TEXT,
    company_id TEXT,
    deal_id TEXT,
    scheduled_at INTEGER,
    due_date INTEGER,
    priority TEXT,
    status TEXT NOT NULL,
    call_direction TEXT,
    call_outcome TEXT,
    call_duration_seconds INTEGER,
    duration_minutes INTEGER,
    location TEXT,
    meeting_url TEXT,
    owner_id TEXT,
    completed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- The list order, and the cursor a sync walks: updatedSince, then updatedAt, then id.
CREATE INDEX IF NOT EXISTS activities_by_update ON activities (tenant_id, updated_at, id);
-- The last updatedAt handed out per tenant, so the next write can be strictly later.
CREATE TABLE IF NOT EXISTS tenant_clocks (
    tenant_id TEXT PRIMARY KEY,
    last_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at);
"""

_INSERT_SQL: Final = (
    f"INSERT INTO activities ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)
_WRITABLE: Final = tuple(c for c in COLUMNS if c not in ("id", "tenant_id", "created_at"))
_UPDATE_SQL: Final = (
    f"UPDATE activities SET {', '.join(f'{c} = ?' for c in _WRITABLE)} "
    "WHERE id = ? AND tenant_id = ?"
)
_SELECT_ALL: Final = f"SELECT {', '.join(COLUMNS)} FROM activities"

Row = dict[str, Any]
"""An activity as stored: column names to values, times in microseconds."""


def now_us() -> int:
    """The current time in microseconds since the Unix epoch."""
    return time.time_ns() // 1000


def to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    return (value - EPOCH) // _ONE_US


def format_us(value: int) -> str:
    """Render microseconds since the epoch as UTC ISO 8601 with a trailing ``Z``."""
    return (_NAIVE_EPOCH + timedelta(microseconds=value)).isoformat() + "Z"


def to_wire(row: Row | Sequence[Any], columns: Sequence[str] = COLUMNS) -> dict[str, Any]:
    """Turn a stored row (a dict, or a tuple in ``columns`` order) into its JSON object."""
    values = [row[c] for c in columns] if isinstance(row, dict) else row
    out: dict[str, Any] = {}
    for column, value in zip(columns, values, strict=True):
        if value is not None and column in TIME_COLUMNS:
            value = format_us(value)
        out[WIRE_NAMES[column]] = value
    return out


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A stored first response to a POST carrying an ``Idempotency-Key``."""

    request_hash: str
    status: int
    response: bytes


class Store:
    """The sandbox database. Thread-safe: each thread uses its own connection."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        # (tenant, updatedSince, offset) -> (tenant clock, updated_at, id) of the row before.
        self._cursors: OrderedDict[tuple[str, int | None, int], tuple[int, int, str]] = (
            OrderedDict()
        )
        self._lock_fd: int | None = None
        if path != ":memory:" and fcntl is not None:
            self._lock_fd = os.open(f"{path}.writelock", os.O_RDWR | os.O_CREAT, 0o644)
        conn = self._connect()
        # WAL is a property of the database file; setting it once is enough, and doing it
        # here keeps it out of the hot path.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        self.purge_idempotency()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=30000")
        # In WAL mode NORMAL loses no committed data on a process crash, only on power loss,
        # and saves an fsync per commit: right for a development server.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # -- reads ---------------------------------------------------------------------------

    def get(self, tenant_id: str, activity_id: str) -> Row | None:
        """One activity of a tenant, or None."""
        return _fetch(self.conn, tenant_id, activity_id)

    def page(
        self,
        tenant_id: str,
        *,
        limit: int,
        offset: int,
        since_us: int | None,
        columns: Sequence[str] = COLUMNS,
    ) -> list[tuple[Any, ...]]:
        """A page of a tenant's activities ordered by updatedAt then id, as tuples.

        ``OFFSET n`` makes SQLite step over n index entries, so reading 100k activities
        page by page costs O(n²). A client paging through a list asks for the page that
        starts where the last one ended, so each page remembers the (updatedAt, id) it
        ended at, and the next one seeks there instead (keyset pagination), as long as
        the tenant has not written since: every write moves the tenant's clock, which
        is the cache's generation. The answer is the same either way.
        """
        select = f"SELECT {', '.join(columns)}, updated_at, id FROM activities WHERE tenant_id = ?"
        params: list[Any] = [tenant_id]
        if since_us is not None:
            select += " AND updated_at >= ?"
            params.append(since_us)
        conn = self.conn
        # One read transaction: the generation and the rows come from the same snapshot.
        conn.execute("BEGIN")
        try:
            row = conn.execute(
                "SELECT last_us FROM tenant_clocks WHERE tenant_id = ?", (tenant_id,)
            ).fetchone()
            generation = int(row[0]) if row else 0
            key = (tenant_id, since_us, offset)
            with self._cursor_lock:
                seek = self._cursors.get(key) if offset else None
            if seek is not None and seek[0] == generation:
                sql = f"{select} AND (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT ?"
                rows = conn.execute(sql, [*params, seek[1], seek[2], limit]).fetchall()
            else:
                sql = f"{select} ORDER BY updated_at, id LIMIT ? OFFSET ?"
                rows = conn.execute(sql, [*params, limit, offset]).fetchall()
        finally:
            conn.execute("COMMIT")
        if rows:
            last = rows[-1]
            with self._cursor_lock:
                self._cursors[(tenant_id, since_us, offset + len(rows))] = (
                    generation,
                    last[-2],
                    last[-1],
                )
                while len(self._cursors) > _CURSORS_KEPT:
                    self._cursors.popitem(last=False)
        return [r[:-2] for r in rows]

    def idempotency(self, tenant_id: str, key: str) -> IdempotencyRecord | None:
        """The stored first response for a key, if it is younger than 24 hours."""
        return _idempotency(self.conn, tenant_id, key)

    # -- writes --------------------------------------------------------------------------

    @contextmanager
    def write(self, tenant_id: str) -> Iterator[WriteTx]:
        """One write transaction for a tenant; commits on success, rolls back on error."""
        conn = self.conn
        with self._write_lock, self._process_lock():
            conn.execute("BEGIN IMMEDIATE")
            tx = WriteTx(conn, tenant_id)
            try:
                yield tx
                tx.save_clock()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._lock_fd is None or fcntl is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def purge_idempotency(self) -> int:
        """Forget idempotency records older than the 24-hour window."""
        cursor = self.conn.execute(
            "DELETE FROM idempotency WHERE created_at < ?", (now_us() - IDEMPOTENCY_WINDOW_US,)
        )
        return cursor.rowcount

    def count(self, tenant_id: str) -> int:
        """How many activities a tenant has (for tests and the CLI)."""
        row = self.conn.execute(
            "SELECT COUNT(*) FROM activities WHERE tenant_id = ?", (tenant_id,)
        ).fetchone()
        return int(row[0])


class WriteTx:
    """The operations allowed inside one write transaction of one tenant."""

    def __init__(self, conn: sqlite3.Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._last_us: int | None = None
        self._clock_dirty = False

    def tick(self) -> int:
        """A timestamp strictly later than any this tenant has been given before.

        The write lock is held, so no other writer can hand out the same instant; a clock
        that stands still (or steps back) is bumped by one microsecond.
        """
        if self._last_us is None:
            row = self.conn.execute(
                "SELECT last_us FROM tenant_clocks WHERE tenant_id = ?", (self.tenant_id,)
            ).fetchone()
            self._last_us = int(row[0]) if row else 0
        stamp = max(now_us(), self._last_us + 1)
        self._last_us = stamp
        self._clock_dirty = True
        return stamp

    def save_clock(self) -> None:
        """Persist the last timestamp handed out (called on commit)."""
        if self._clock_dirty:
            self.conn.execute(
                "INSERT INTO tenant_clocks (tenant_id, last_us) VALUES (?, ?) "
                "ON CONFLICT (tenant_id) DO UPDATE SET last_us = excluded.last_us",
                (self.tenant_id, self._last_us),
            )

    def get(self, activity_id: str) -> Row | None:
        """One activity of this tenant, or None."""
        return _fetch(self.conn, self.tenant_id, activity_id)

    def insert(self, row: Row) -> None:
        """Store a new activity (``row`` has every column)."""
        self.conn.execute(_INSERT_SQL, [row[c] for c in COLUMNS])

    def update(self, row: Row) -> None:
        """Overwrite the writable columns of an existing activity of this tenant."""
        self.conn.execute(_UPDATE_SQL, [row[c] for c in _WRITABLE] + [row["id"], self.tenant_id])

    def delete(self, activity_id: str) -> bool:
        """Delete one activity of this tenant; False when there was none."""
        cursor = self.conn.execute(
            "DELETE FROM activities WHERE id = ? AND tenant_id = ?",
            (activity_id, self.tenant_id),
        )
        if cursor.rowcount == 0:
            return False
        self.tick()  # a delete shifts list positions too, so it moves the tenant's clock
        return True

    def idempotency(self, key: str) -> IdempotencyRecord | None:
        """The stored first response for a key, if younger than 24 hours."""
        return _idempotency(self.conn, self.tenant_id, key)

    def remember(self, key: str, request_hash: str, status: int, response: bytes) -> None:
        """Store the first response for a key (replacing an expired record)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO idempotency "
            "(tenant_id, key, request_hash, status, response, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.tenant_id, key, request_hash, status, response, now_us()),
        )
        # Now and then, in the same transaction, forget what is past the 24-hour window,
        # so a long-running sandbox does not keep every response it ever gave.
        if random.random() < _PURGE_CHANCE:
            self.conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?",
                (now_us() - IDEMPOTENCY_WINDOW_US,),
            )


def _fetch(conn: sqlite3.Connection, tenant_id: str, activity_id: str) -> Row | None:
    values = conn.execute(
        f"{_SELECT_ALL} WHERE id = ? AND tenant_id = ?", (activity_id, tenant_id)
    ).fetchone()
    return dict(zip(COLUMNS, values, strict=True)) if values else None


def _idempotency(conn: sqlite3.Connection, tenant_id: str, key: str) -> IdempotencyRecord | None:
    values = conn.execute(
        "SELECT request_hash, status, response FROM idempotency "
        "WHERE tenant_id = ? AND key = ? AND created_at >= ?",
        (tenant_id, key, now_us() - IDEMPOTENCY_WINDOW_US),
    ).fetchone()
    if values is None:
        return None
    return IdempotencyRecord(request_hash=values[0], status=int(values[1]), response=values[2])
