"""The Redis index of pending tasks, and the claim protocol that makes reminders exactly-once.

One namespace's index is one :class:`TaskIndex`; everything lives under
``rally:rem:<namespace>:`` (see :func:`namespace_for`)::

    due                  ZSET  task id -> due epoch (s): every pending task with a due date
    unsent               ZSET  task id -> due epoch (s): the subset not yet reminded for that due
    task:<id>            HASH  the reminder fields of one task (wire names, strings) plus
                               ``due`` (epoch s), ``updatedUs`` (epoch µs) and ``reminded``
                               (the due epoch it was last reminded for, if any)
    sent:<id>:<due>      STR   durable "reminded for this due date" marker (expires 30 days
                               after the due date, so it outlives any tick that could see it)
    lease:<id>:<due>     STR   in-flight claim (SET NX PX, holds a random token)
    owner:<ownerId>      ZSET  task id -> due epoch (s): the pending tasks of one Rally owner
                               (``/rally tasks`` and App Home list them without a scan)
    deal:<id>, company:<id>, contact:<id>
                         ZSET  task id -> due epoch (s): the pending tasks of one record
                               (unfurls and digests list them without a scan)
    cursor               HASH  the sync cursor: ``since`` (ISO time), ``lastId``, ``atSince``
    sync-lock            STR   one sync at a time per namespace (a redis-py lock, renewed per page)

The writes that must agree with each other (index a task / mark it reminded / claim it)
are Lua scripts, so a sync that re-indexes a task while a tick marks it sent can never put
a reminded task back into ``unsent``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

import redis
from redis.commands.core import Script
from redis.lock import Lock

from api_client import Cursor
from api_client.models import (
    ActivityResponse,
    ActivityType,
    PartialActivityResponse,
    Status,
    format_utc,
)

PREFIX: Final = "rally:rem:"
NAMESPACES: Final = f"{PREFIX}namespaces"
"""SET of every namespace a sync or tick has served (read by the reminder-lag metric)."""
SENT_KEEP_SECONDS: Final = 30 * 24 * 3600
DEFAULT_LEASE_SECONDS: Final = 300

# The fields a reminder needs, by wire name; what the sync asks the list for (``fields=``).
REMINDER_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "activityType",
    "status",
    "dueDate",
    "subject",
    "priority",
    "ownerId",
    "dealId",
    "companyId",
    "contactId",
    "updatedAt",
)

Activity = ActivityResponse | PartialActivityResponse
RECORD_KINDS: Final = ("deal", "company", "contact")


def namespace_for(base_url: str, api_key: str) -> str:
    """The index namespace of one tenant: derived from its API URL and a hash of its key.

    The key itself never reaches Redis; two tenants on one API, or one key on two APIs,
    get separate indexes.

    Args:
        base_url: The tenant's Rally base URL (``RALLY_BASE_URL``).
        api_key: The tenant's API key (``RALLY_API_KEY``).

    Returns:
        16 hex characters.
    """
    key_hash = hashlib.sha256(api_key.encode()).hexdigest()
    material = f"{base_url.strip().rstrip('/').lower()}\n{key_hash}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names of one namespace."""

    namespace: str

    @property
    def base(self) -> str:
        return f"{PREFIX}{self.namespace}:"

    @property
    def due(self) -> str:
        return f"{self.base}due"

    @property
    def unsent(self) -> str:
        return f"{self.base}unsent"

    @property
    def cursor(self) -> str:
        return f"{self.base}cursor"

    @property
    def sync_lock(self) -> str:
        return f"{self.base}sync-lock"

    def task(self, task_id: str) -> str:
        return f"{self.base}task:{task_id}"

    def owner(self, owner_id: str) -> str:
        return f"{self.base}owner:{owner_id}"

    def record(self, kind: str, record_id: str) -> str:
        """The set of one deal, company or contact (``kind`` is one of :data:`RECORD_KINDS`)."""
        if kind not in RECORD_KINDS:
            raise ValueError(f"not a record kind: {kind!r}")
        return f"{self.base}{kind}:{record_id}"

    def sent(self, task_id: str, due_epoch: int) -> str:
        return f"{self.base}sent:{task_id}:{due_epoch}"

    def lease(self, task_id: str, due_epoch: int) -> str:
        return f"{self.base}lease:{task_id}:{due_epoch}"


def due_epoch(when: datetime) -> int:
    """Whole seconds since the epoch: the due date's identity for "once per due date"."""
    return int(when.timestamp())


def _micros(when: datetime) -> int:
    delta = when.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def is_remindable(activity: Activity) -> bool:
    """A pending task with a due date: what the index holds."""
    return (
        activity.activity_type == ActivityType.TASK
        and activity.status == Status.PENDING
        and activity.due_date is not None
    )


# The per-owner and per-record sets are named from the namespace's base (KEYS[1] minus its
# 'due'), since the owner and records are only known inside the script (they may change
# between versions). An array, not a table, so every run touches keys in the same order.
_LINKED_SETS = """
local base = string.sub(KEYS[1], 1, #KEYS[1] - 3)
local linked = {{'ownerId', 'owner:'}, {'dealId', 'deal:'}, {'companyId', 'company:'},
                {'contactId', 'contact:'}}
"""

# KEYS: due, unsent, task, sent(id, due)   ARGV: id, due, updatedUs, field, value, ...
# An older version (smaller updatedUs) than the one indexed is ignored, so a slow reader
# can never roll the index back.
_UPSERT = (
    _LINKED_SETS
    + """
local cur = redis.call('HGET', KEYS[3], 'updatedUs')
if cur and tonumber(cur) > tonumber(ARGV[3]) then return 0 end
local reminded = redis.call('HGET', KEYS[3], 'reminded')
local old = {}
for i, link in ipairs(linked) do old[i] = redis.call('HGET', KEYS[3], link[1]) end
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 4))
if reminded then redis.call('HSET', KEYS[3], 'reminded', reminded) end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if reminded == ARGV[2] or redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
for i, link in ipairs(linked) do
  local new = redis.call('HGET', KEYS[3], link[1])
  if old[i] and old[i] ~= new then redis.call('ZREM', base .. link[2] .. old[i], ARGV[1]) end
  if new then redis.call('ZADD', base .. link[2] .. new, ARGV[2], ARGV[1]) end
end
return 1
"""
)

# KEYS: due, unsent, task   ARGV: id, updatedUs ('' = unconditionally)
_REMOVE = (
    _LINKED_SETS
    + """
if ARGV[2] ~= '' then
  local cur = redis.call('HGET', KEYS[3], 'updatedUs')
  if cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
end
for _, link in ipairs(linked) do
  local value = redis.call('HGET', KEYS[3], link[1])
  if value then redis.call('ZREM', base .. link[2] .. value, ARGV[1]) end
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[3])
"""
)

# KEYS: sent, lease   ARGV: token, lease ms.  -1 already sent, 0 someone else holds it, 1 ours.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# KEYS: sent, unsent, task, lease   ARGV: id, due, token, expire-at (epoch s)
_MARK_SENT = """
redis.call('SET', KEYS[1], '1', 'EXAT', ARGV[4])
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[2], ARGV[1]) end
if redis.call('HGET', KEYS[3], 'due') == ARGV[2] then
  redis.call('HSET', KEYS[3], 'reminded', ARGV[2])
end
if redis.call('GET', KEYS[4]) == ARGV[3] then redis.call('DEL', KEYS[4]) end
return 1
"""

# KEYS: lease   ARGV: token.  Deletes it only if still ours: the lease is set by _CLAIM, in
# one step with the check of the sent marker, so it is no redis-py lock to release as one.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Bytes, so no client is needed to hash them; every call names its client (or pipeline,
# which loads the scripts it queued before it runs).
_SCRIPTS: Final[dict[str, Script]] = {
    name: Script(None, text.encode())  # type: ignore[arg-type]
    for name, text in {
        "upsert": _UPSERT,
        "remove": _REMOVE,
        "claim": _CLAIM,
        "mark_sent": _MARK_SENT,
        "release": _RELEASE,
    }.items()
}


def _script(name: str) -> Script:
    return _SCRIPTS[name]


def _hash_fields(activity: Activity) -> list[str]:
    assert activity.due_date is not None
    values: dict[str, str | None] = {
        "id": activity.id,
        "subject": activity.subject,
        "dueDate": format_utc(activity.due_date),
        "due": str(due_epoch(activity.due_date)),
        "priority": activity.priority.value if activity.priority else None,
        "ownerId": activity.owner_id,
        "dealId": activity.deal_id,
        "companyId": activity.company_id,
        "contactId": activity.contact_id,
        "updatedAt": format_utc(activity.updated_at) if activity.updated_at else None,
        "updatedUs": str(_micros(activity.updated_at)) if activity.updated_at else "0",
    }
    flat: list[str] = []
    for name, value in values.items():
        if value is not None:
            flat += [name, value]
    return flat


@dataclass(frozen=True, slots=True)
class DueTask:
    """A task the index says is due for a reminder.

    Attributes:
        task_id: The activity id.
        due_epoch: Its due date in epoch seconds (the claim is per task and this value).
        fields: The indexed reminder fields by wire name (``subject``, ``dueDate``,
            ``priority``, ``ownerId``, ``dealId``, ``companyId``, ``contactId``, ...).
    """

    task_id: str
    due_epoch: int
    fields: Mapping[str, str]


class TaskIndex:
    """The reminder index of one namespace: every read and write of it goes through here.

    Args:
        conn: Redis.
        namespace: From :func:`namespace_for`.
    """

    def __init__(self, conn: redis.Redis, namespace: str) -> None:
        self.conn = conn
        self.namespace = namespace
        self.keys = Keys(namespace)

    def __repr__(self) -> str:
        return f"TaskIndex(namespace={self.namespace!r})"

    # -- what the sync and the clicks write ---------------------------------------------

    def apply(self, activity: Activity, *, pipe: redis.client.Pipeline | None = None) -> str:
        """Index, refresh or drop one activity as read from the API (idempotent).

        Args:
            activity: The activity as listed (with at least :data:`REMINDER_FIELDS`) or read.
            pipe: Queue the write on this pipeline (the sync's transaction) instead of
                running it now.

        Returns:
            ``"indexed"`` for a pending task with a due date, ``"removed"`` for a task that
            is not (completed, or its due date cleared), ``"ignored"`` for other types,
            which can never become tasks.
        """
        if activity.activity_type is not None and activity.activity_type != ActivityType.TASK:
            return "ignored"
        client = self.conn if pipe is None else pipe
        keys = self.keys
        updated = str(_micros(activity.updated_at)) if activity.updated_at else ""
        if not is_remindable(activity):
            _script("remove")(
                keys=[keys.due, keys.unsent, keys.task(activity.id)],
                args=[activity.id, updated],
                client=client,
            )
            return "removed"
        assert activity.due_date is not None
        due = due_epoch(activity.due_date)
        _script("upsert")(
            keys=[keys.due, keys.unsent, keys.task(activity.id), keys.sent(activity.id, due)],
            args=[activity.id, due, updated or "0", *_hash_fields(activity)],
            client=client,
        )
        return "indexed"

    def remove(self, task_id: str) -> None:
        """Drop a task from the index unconditionally (it was deleted in Rally)."""
        keys = self.keys
        _script("remove")(
            keys=[keys.due, keys.unsent, keys.task(task_id)], args=[task_id, ""], client=self.conn
        )

    def cursor(self) -> Cursor | None:
        """Where the last sync stopped, or ``None`` before its first page."""
        raw = _texts(self.conn.hgetall(self.keys.cursor))
        if not raw.get("since"):
            return None
        return Cursor(
            since=datetime.fromisoformat(raw["since"]),
            last_id=raw["lastId"],
            at_since=int(raw["atSince"]),
        )

    def save_cursor(
        self, cursor: Cursor, *, run_at: datetime, pipe: redis.client.Pipeline | None = None
    ) -> None:
        """Store the sync's cursor and the time of its run (on ``pipe`` when given)."""
        fields = {
            "since": format_utc(cursor.since),
            "lastId": cursor.last_id,
            "atSince": str(cursor.at_since),
            "lastRunAt": format_utc(run_at),
        }
        (self.conn if pipe is None else pipe).hset(self.keys.cursor, mapping=cast(Any, fields))

    def sync_lock(self, *, timeout: float) -> Lock:
        """The lock that lets one sync of this namespace run at a time (not yet acquired)."""
        lock: Lock = self.conn.lock(self.keys.sync_lock, timeout=timeout, blocking=False)
        return lock

    # -- the claim protocol ---------------------------------------------------------------

    def due(self, *, now: datetime, lead_minutes: int, limit: int | None = None) -> list[DueTask]:
        """The tasks due within ``lead_minutes`` of ``now`` (overdue ones too) not yet reminded.

        Reads Redis only. Soonest due first.

        Args:
            now: The tick's time (aware).
            lead_minutes: ``REMINDER_LEAD_MINUTES``.
            limit: At most this many (the rest wait for the next tick).

        Returns:
            The due tasks with their indexed fields.
        """
        horizon = due_epoch(now) + lead_minutes * 60
        if limit is None:
            pairs = self.conn.zrangebyscore(self.keys.unsent, "-inf", horizon, withscores=True)
        else:
            pairs = self.conn.zrangebyscore(
                self.keys.unsent, "-inf", horizon, start=0, num=limit, withscores=True
            )
        scored: list[tuple[str, int]] = [(_text(member), int(score)) for member, score in pairs]  # type: ignore[str-unpack]
        pipe = self.conn.pipeline(transaction=False)
        for task_id, _ in scored:
            pipe.hgetall(self.keys.task(task_id))
        hashes = pipe.execute() if scored else []
        return [
            DueTask(task_id=task_id, due_epoch=score, fields=_texts(raw))
            for (task_id, score), raw in zip(scored, hashes, strict=True)
        ]

    def claim(
        self, task_id: str, due_epoch: int, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> str | None:
        """Take the in-flight lease on reminding ``task_id`` for ``due_epoch``.

        At most one holder at a time, and never once the reminder is marked sent. Whoever
        gets a token must end with :meth:`mark_sent` (posted) or :meth:`release` (not
        posted); a holder that dies loses the lease after ``lease_seconds`` and a later
        tick retries.

        Returns:
            A token to pass to :meth:`mark_sent` / :meth:`release`, or ``None`` when the
            reminder was already sent or someone else is sending it.
        """
        token = secrets.token_hex(16)
        got = _script("claim")(
            keys=[self.keys.sent(task_id, due_epoch), self.keys.lease(task_id, due_epoch)],
            args=[token, max(1, int(lease_seconds * 1000))],
            client=self.conn,
        )
        return token if int(got) == 1 else None

    def mark_sent(self, task_id: str, due_epoch: int, token: str) -> None:
        """Record, durably, that ``task_id`` was reminded for ``due_epoch``; free the lease."""
        keys = self.keys
        expire_at = max(due_epoch, int(datetime.now(UTC).timestamp())) + SENT_KEEP_SECONDS
        _script("mark_sent")(
            keys=[
                keys.sent(task_id, due_epoch),
                keys.unsent,
                keys.task(task_id),
                keys.lease(task_id, due_epoch),
            ],
            args=[task_id, due_epoch, token, expire_at],
            client=self.conn,
        )

    def release(self, task_id: str, due_epoch: int, token: str) -> None:
        """Give the lease back without marking sent, so the next tick tries again."""
        _script("release")(
            keys=[self.keys.lease(task_id, due_epoch)], args=[token], client=self.conn
        )

    def was_sent(self, task_id: str, due_epoch: int) -> bool:
        """Whether the reminder for this task and due date was posted."""
        return bool(self.conn.exists(self.keys.sent(task_id, due_epoch)))

    # -- reads for /rally tasks, App Home and the buttons -------------------------------

    def task(self, task_id: str) -> dict[str, str] | None:
        """The indexed fields of one task, or ``None`` when it is not in the index."""
        raw = self.conn.hgetall(self.keys.task(task_id))
        if not raw:
            return None
        return _texts(raw)

    def tasks(self, task_ids: list[str]) -> list[dict[str, str]]:
        """The indexed fields of each of ``task_ids`` still in the index, in the given order."""
        pipe = self.conn.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(self.keys.task(task_id))
        return [_texts(raw) for raw in (pipe.execute() if task_ids else []) if raw]

    def owner_tasks(self, owner_id: str) -> list[tuple[str, int]]:
        """The indexed tasks of one Rally owner as (id, due epoch), soonest due first."""
        pairs = self.conn.zrange(self.keys.owner(owner_id), 0, -1, withscores=True)
        return [(_text(member), int(score)) for member, score in pairs]  # type: ignore[str-unpack]

    def record_tasks(self, kind: str, record_id: str) -> list[tuple[str, int]]:
        """The indexed tasks of one deal, company or contact as (id, due epoch), soonest first."""
        pairs = self.conn.zrange(self.keys.record(kind, record_id), 0, -1, withscores=True)
        return [(_text(member), int(score)) for member, score in pairs]  # type: ignore[str-unpack]

    def due_epochs(self, task_ids: list[str]) -> dict[str, int]:
        """The indexed due epoch of each of ``task_ids`` that is in the index."""
        if not task_ids:
            return {}
        scores = self.conn.zmscore(self.keys.due, task_ids)
        return {
            task_id: int(score)
            for task_id, score in zip(task_ids, scores, strict=True)
            if score is not None
        }

    def ids(self) -> set[str]:
        """Every task id in the index (pending, with a due date)."""
        return {_text(member) for member in self.conn.zrange(self.keys.due, 0, -1)}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _texts(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}
