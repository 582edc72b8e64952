"""Lanes: a durable queue of small items per key, drained a batch at a time by one job chain.

SPEC §8. A *lane* holds work that is better done together than one job each: the creates
of one person (``workers.coalesce``, sent as one bulk request) and the outcomes waiting to
be told to one person (``workers.outbox``, sent as one message). Every operation that
decides something is one Lua script, so a push and a drainer's "is there more?" can never
interleave into an item nobody drains.

- ``push`` appends an item (once per item id) and answers whether a drainer must be
  started: the lane's *active* flag is set by the push that finds none, and only that
  push queues a drainer job.
- ``take`` fixes a batch's membership and stores it **before** anything is sent: it either
  resumes the batch in flight (a drainer died, or was re-scheduled after a failure) or
  moves up to ``size`` items from the list into a new batch. When the lane is empty it
  clears the active flag in the same step, so the next push starts a new drainer.
- ``finish`` drops the batch in flight once every member's outcome is kept elsewhere.

One drainer works a lane at a time: ``take`` also holds the lane's lock, with the
drainer's RQ job id as its token, so the same job re-run by RQ after its worker died takes
the batch straight back, while any other drainer waits for the lock to expire. A lane whose
drainer was lost altogether (its job gave up) is restarted by :func:`sweep` from the
minute's cron.

Keys (``rally:lane:{kind}:{lane}:…``)::

    …:items      LIST of JSON items waiting
    …:batch      JSON: the batch in flight (``{"id", "since", "attempts", "items": [...], ...}``)
    …:active     a drainer chain is live (TTL: refreshed by every take)
    …:lock       the drainer working the lane right now (token: its job id)
    rally:lanes:{kind}           SET of lanes that may have work (for the sweep)
    rally:lane-item:{kind}:{id}  an item id already pushed (dedupes a repeated delivery)
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, cast

import redis
from rq import get_current_job

from api_client.models import format_utc

log = logging.getLogger(__name__)

Kind = Literal["create", "tell"]

ACTIVE_TTL_SECONDS: Final = 15 * 60
"""A chain that died without trace is restarted by the sweep after at most this long."""
LOCK_SECONDS: Final = 60
"""Longer than one batch's request and bookkeeping; a dead holder blocks others this long."""
SEEN_TTL_SECONDS: Final = 24 * 3600

PUSH_SCRIPT: Final = """
local n = #KEYS - 3
local pushed = 0
for i = 1, n do
  if redis.call('SET', KEYS[3 + i], '1', 'NX', 'EX', ARGV[n + 1]) then
    redis.call('RPUSH', KEYS[1], ARGV[i])
    pushed = pushed + 1
  end
end
if pushed == 0 then return -1 end
redis.call('SADD', KEYS[3], ARGV[n + 3])
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[n + 2]) then return 1 end
return 0
"""
"""Push items onto one lane, each once per item id; answers 1 when the lane was idle (the
caller starts its drainer), 0 when a drainer is live, -1 when every item was pushed
before. KEYS: items, active, lanes, then each item's seen key; ARGV: each item, seen
ttl, active ttl, lane name."""

# KEYS: items, batch, active, lock, lanes; ARGV: size, batch id, since, active ttl,
# token, lock ttl, lane name
_TAKE = """
local holder = redis.call('GET', KEYS[4])
if holder and holder ~= ARGV[5] then return {3, redis.call('PTTL', KEYS[4])} end
local current = redis.call('GET', KEYS[2])
if current then
  redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  return {1, current}
end
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items == 0 then
  redis.call('DEL', KEYS[3])
  redis.call('DEL', KEYS[4])
  redis.call('SREM', KEYS[5], ARGV[7])
  return {0}
end
redis.call('LTRIM', KEYS[1], #items, -1)
local batch = '{"id":' .. cjson.encode(ARGV[2]) .. ',"since":' .. cjson.encode(ARGV[3])
  .. ',"attempts":0,"items":[' .. table.concat(items, ',') .. ']}'
redis.call('SET', KEYS[2], batch)
redis.call('SET', KEYS[4], ARGV[5], 'PX', ARGV[6])
redis.call('SET', KEYS[3], '1', 'EX', ARGV[4])
return {2, batch}
"""

# KEYS: batch, lock, items; ARGV: token. Drop the batch; the lock stays with its holder.
_FINISH = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return redis.call('LLEN', KEYS[3])
"""

# KEYS: lock, active; ARGV: token, active ttl. Let go of the lane, keeping it active.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return 1
"""

# KEYS: batch, lock; ARGV: token, new batch JSON, lock ttl. Save a batch's progress, if
# still ours, and renew the hold: a save comes before each send and after each answer.
_SAVE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"""


@dataclass(slots=True)
class Batch:
    """A lane's batch in flight: its members are fixed, and kept before anything is sent.

    Attributes:
        id: Names the batch (its Idempotency-Key derives from it).
        since: When it was formed (UTC, RFC 3339): reconciliation lists from just before.
        attempts: Sends that failed transiently so far (for the backoff).
        items: The members, as pushed.
        state: Whatever the drainer keeps between attempts (``unanswered``, results).
    """

    id: str
    since: str
    attempts: int
    items: list[dict[str, Any]]
    state: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "since": self.since,
                "attempts": self.attempts,
                "items": self.items,
                "state": self.state,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Batch:
        data = json.loads(raw)
        return cls(
            id=str(data["id"]),
            since=str(data["since"]),
            attempts=int(data.get("attempts") or 0),
            items=list(data.get("items") or []),
            state=dict(data.get("state") or {}),
        )


@dataclass(frozen=True, slots=True)
class Taken:
    """What :meth:`Lane.take` found.

    Attributes:
        batch: The batch to work on, or None.
        resumed: The batch was already in flight (formed by an earlier run).
        busy_ms: Another drainer holds the lane for this much longer (``batch`` is None).
    """

    batch: Batch | None
    resumed: bool = False
    busy_ms: int = 0


class Lane:
    """One lane of ``kind`` (see the module docstring)."""

    def __init__(self, conn: redis.Redis, kind: Kind, name: str) -> None:
        self.conn, self.kind, self.name = conn, kind, name
        base = f"rally:lane:{kind}:{name}"
        self.items_key, self.batch_key = f"{base}:items", f"{base}:batch"
        self.active_key, self.lock_key = f"{base}:active", f"{base}:lock"
        self.lanes_key = f"rally:lanes:{kind}"

    def push(self, item_id: str, item: dict[str, Any]) -> int:
        """Append ``item`` once per ``item_id``.

        Returns:
            1 when the caller must start a drainer, 0 when one is live, -1 when this
            item was pushed before (nothing done).
        """
        return self.push_many([(item_id, item)])

    def push_many(self, items: list[tuple[str, dict[str, Any]]]) -> int:
        """:meth:`push` for many ``(item id, item)`` at once; the same answer, for all."""
        script = self.conn.register_script(PUSH_SCRIPT)
        keys = [self.items_key, self.active_key, self.lanes_key]
        keys += [f"rally:lane-item:{self.kind}:{item_id}" for item_id, _ in items]
        args: list[Any] = [json.dumps(item, separators=(",", ":")) for _, item in items]
        args += [SEEN_TTL_SECONDS, ACTIVE_TTL_SECONDS, self.name]
        return int(cast(int, script(keys=keys, args=args)))

    def take(self, size: int, token: str) -> Taken:
        """The batch in flight, else a new one of up to ``size`` items; see the module."""
        script = self.conn.register_script(_TAKE)
        answer = cast(
            list[Any],
            script(
                keys=[
                    self.items_key,
                    self.batch_key,
                    self.active_key,
                    self.lock_key,
                    self.lanes_key,
                ],
                args=[
                    size,
                    uuid.uuid4().hex,
                    format_utc(datetime.now(UTC)),
                    ACTIVE_TTL_SECONDS,
                    token,
                    LOCK_SECONDS * 1000,
                    self.name,
                ],
            ),
        )
        code = int(answer[0])
        if code == 3:
            return Taken(None, busy_ms=max(int(answer[1]), 1))
        if code == 0:
            return Taken(None)
        return Taken(Batch.from_json(answer[1]), resumed=code == 1)

    def save(self, batch: Batch, token: str) -> bool:
        """Keep ``batch``'s progress (before a send, after an answer); False if not ours."""
        script = self.conn.register_script(_SAVE)
        return bool(
            script(
                keys=[self.batch_key, self.lock_key],
                args=[token, batch.to_json(), LOCK_SECONDS * 1000],
            )
        )

    def finish(self, token: str) -> int:
        """Drop the batch in flight; returns how many items still wait."""
        script = self.conn.register_script(_FINISH)
        return int(
            cast(int, script(keys=[self.batch_key, self.lock_key, self.items_key], args=[token]))
        )

    def release(self, token: str, *, keep_active_for: float) -> None:
        """Let go of the lane until a re-scheduled drainer comes back for it."""
        script = self.conn.register_script(_RELEASE)
        script(
            keys=[self.lock_key, self.active_key],
            args=[token, int(keep_active_for) + ACTIVE_TTL_SECONDS],
        )

    def waiting(self) -> int:
        return int(self.conn.llen(self.items_key))


def job_token() -> str:
    """The running RQ job's id: a drainer's hold on its lane (a re-run of it takes it back)."""
    job = get_current_job()
    return job.id if job is not None else f"inline-{uuid.uuid4().hex}"


def orphans(conn: redis.Redis, kind: Kind) -> list[str]:
    """Lanes with work (waiting items or a batch in flight) and no live drainer chain."""
    names = sorted(m.decode() for m in cast(set[bytes], conn.smembers(f"rally:lanes:{kind}")))
    if not names:
        return []
    pipe = conn.pipeline(transaction=False)
    for name in names:
        lane = Lane(conn, kind, name)
        pipe.exists(lane.active_key)
        pipe.exists(lane.items_key, lane.batch_key)
    answers = pipe.execute()
    return [
        name
        for name, active, work in zip(names, answers[0::2], answers[1::2], strict=True)
        if not active and work
    ]


def claim_orphan(conn: redis.Redis, kind: Kind, name: str) -> bool:
    """Set an orphan lane's active flag; True if the caller must start its drainer."""
    return bool(conn.set(Lane(conn, kind, name).active_key, "1", nx=True, ex=ACTIVE_TTL_SECONDS))


def waiting_items(conn: redis.Redis, kind: Kind) -> list[dict[str, Any]]:
    """Every item waiting in (or in flight on) a lane of ``kind``, lane by lane."""
    found: list[dict[str, Any]] = []
    for name in sorted(m.decode() for m in cast(set[bytes], conn.smembers(f"rally:lanes:{kind}"))):
        lane = Lane(conn, kind, name)
        raw_batch = conn.get(lane.batch_key)
        if raw_batch is not None:
            found.extend(Batch.from_json(raw_batch).items)
        found.extend(
            json.loads(raw) for raw in cast(list[bytes], conn.lrange(lane.items_key, 0, -1))
        )
    return found


def depth(conn: redis.Redis, kind: Kind) -> int:
    """How many items wait on lanes of ``kind`` (not counting batches in flight)."""
    names = [m.decode() for m in cast(set[bytes], conn.smembers(f"rally:lanes:{kind}"))]
    if not names:
        return 0
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.llen(Lane(conn, kind, name).items_key)
    return sum(int(n) for n in pipe.execute())
