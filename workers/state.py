"""Everything the app remembers between requests, kept in Redis under ``rally:``.

One module owns the key layout so the bot, the workers and later features (reminders,
App Home) read and write the same shapes. Values are JSON strings or Redis sets/lists
of plain strings; nothing here holds a secret.

Keys::

    (channel links and owner mappings live in the durable store, ``core.store``; an
    earlier version kept them under rally:link, rally:linked, rally:owner and
    rally:owner-user, which ``rally-slack db upgrade`` carries over once)
    rally:tz:{team}:{user}                 the user's IANA time zone from users.info (TTL 1 day)
    rally:role:{team}:{user}               "admin" or "member" from users.info (TTL 1 hour)
    rally:name:{team}:{id}                 a person's or channel's name, users.info / conversations.info (TTL 1 day)
    rally:thread-body:{submission_id}      a thread read for its note, the same on every retry (TTL 1 day)
    rally:origin:{activity_id}             JSON: where an activity came from (see ``Origin``)
    rally:recent:{team}:{user}             LIST of activity ids, newest first, capped
    rally:logged-tasks:{team}:{user}       SET of task ids the user logged from Slack (``/rally tasks``)
    rally:reminder:{task_id}:{due}         HASH channel -> ts of each posted copy of a reminder
    rally:unfurl:{task_id}:{due}           HASH "channel ts" -> url of each message that unfurled the task
    rally:digest:{team}:{channel}:{ts}     JSON: what a posted daily digest showed (record, tasks)
    rally:acted:{task_id}:{due}            JSON: who completed/snoozed a task from Slack, for that due
    rally:acting:{task_id}:{due}           a redis-py lock: one Complete/Snooze of that due at a time
    rally:submission:{submission_id}       JSON: a pending submission, for "Edit and retry" (TTL 7 days)
    rally:undelivered:{team}:{user}        LIST of JSON outcomes Slack never let us tell (App Home shows them)
    rally:create:{submission_id}           JSON: a create's delivery (``CreateAttempt``: since when,
                                           whether an attempt went unanswered, the activity) (TTL 1 day)
    rally:adopted:{tenant}:{activity_id}   the submission that owns this activity (SET NX, TTL 1 day)
    rally:creating:{tenant}:{content}      a redis-py lock: one create of the same content at a time
    rally:key-owner:{namespace}            the Rally owner an API key creates as (learnt from a create)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

import redis
from redis.lock import Lock

PREFIX = "rally:"
RecordKind = Literal["deal", "company", "contact"]
RECORD_KINDS: tuple[RecordKind, ...] = ("deal", "company", "contact")

TZ_TTL_SECONDS = 24 * 3600
ROLE_TTL_SECONDS = 3600
SUBMISSION_TTL_SECONDS = 7 * 24 * 3600
UNDELIVERED_LIMIT = 20
UNDELIVERED_TTL_SECONDS = 30 * 24 * 3600
RECENT_LIMIT = 50
ORIGIN_TTL_SECONDS = 180 * 24 * 3600
REMINDER_POSTS_TTL_SECONDS = 30 * 24 * 3600
# As long as an API may honour an Idempotency-Key, and far longer than a create's retries.
CREATE_TTL_SECONDS = 24 * 3600


_SET_ALL_EX = """
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1]) end
return #KEYS
"""
"""SET each of KEYS to its value (ARGV[2..]) with the TTL ARGV[1]: one command for a batch."""

_CLAIM_ALL = """
local lost = {}
for i, key in ipairs(KEYS) do
  if not redis.call('SET', key, ARGV[i + 1], 'NX', 'EX', ARGV[1]) then
    local owner = redis.call('GET', key)
    if owner and owner ~= ARGV[i + 1] then
      table.insert(lost, i)
      table.insert(lost, owner)
    end
  end
end
return lost
"""
"""``claim_activity`` for each of KEYS (ARGV: TTL, then each claimant); returns the claims
lost to another owner, as (1-based position, owner) pairs, flattened."""


@dataclass(frozen=True)
class Link:
    """A channel's binding to one Rally record."""

    kind: RecordKind
    id: str


@dataclass
class Origin:
    """Where an activity was logged from, so later messages can go back there.

    ``confirmation_channel``/``confirmation_ts`` are set only when the confirmation was a
    real message (a DM or a channel post), which reminders can thread under.
    """

    team: str
    channel: str | None
    user: str
    activity_type: str
    subject: str
    logged_at: str
    confirmation_channel: str | None = None
    confirmation_ts: str | None = None


@dataclass
class Submission:
    """One Slack submission waiting for (or having met) its fate at the API.

    ``values`` are the form values as the user entered them (modal field names), so a
    failed submission can reopen the modal with everything kept.
    """

    id: str
    activity_type: str
    team: str
    user: str
    channel: str | None
    values: dict[str, Any]
    response_url: str | None = None
    source: str = "modal"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CreateAttempt:
    """What a create job must know across its runs (a retry may run in another worker).

    Attributes:
        since: UTC ISO time just before the first attempt was sent, minus a margin for
            clock skew: reconciliation lists what changed from then on.
        unanswered: An attempt was (or may have been) sent and no answer came, so Rally
            may hold the activity: look before sending again.
        activity_id: The activity this submission owns, once known.
    """

    since: str
    unanswered: bool = False
    activity_id: str | None = None


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _k(*parts: str) -> str:
    return PREFIX + ":".join(parts)


class State:
    """Typed access to the app's Redis state."""

    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn

    # -- what an earlier version kept here (links, owners): now in the store ------------

    def legacy_links(self) -> list[tuple[str, str, Link]]:
        """(team, channel, link) of every channel link an earlier version kept in Redis."""
        found = []
        for key in self.conn.scan_iter(match=_k("link", "*"), count=500):
            _, _, team, channel = _text(key).split(":", 3)
            raw = self.conn.get(key)
            if raw is not None:
                data = json.loads(raw)
                found.append((team, channel, Link(kind=data["kind"], id=data["id"])))
        return found

    def legacy_owners(self) -> list[tuple[str, str, str]]:
        """(team, user, owner id) of every ``/rally me`` an earlier version kept in Redis."""
        found = []
        for key in self.conn.scan_iter(match=_k("owner", "*"), count=500):
            _, _, team, user = _text(key).split(":", 3)
            raw = self.conn.get(key)
            if raw is not None:
                found.append((team, user, _text(raw)))
        return found

    def forget_legacy(self) -> int:
        """Delete the links and owners an earlier version kept here (after carrying over)."""
        patterns = ("link", "linked", "owner", "owner-user")
        keys = [k for p in patterns for k in self.conn.scan_iter(match=_k(p, "*"), count=500)]
        return int(self.conn.delete(*keys)) if keys else 0

    def set_role(self, team: str, user: str, role: str) -> None:
        self.conn.set(_k("role", team, user), role, ex=ROLE_TTL_SECONDS)

    def get_role(self, team: str, user: str) -> str | None:
        raw = self.conn.get(_k("role", team, user))
        return _text(raw) if raw is not None else None

    def set_user_tz(self, team: str, user: str, tz: str) -> None:
        self.conn.set(_k("tz", team, user), tz, ex=TZ_TTL_SECONDS)

    def get_user_tz(self, team: str, user: str) -> str | None:
        raw = self.conn.get(_k("tz", team, user))
        return _text(raw) if raw is not None else None

    def get_names(self, team: str, ids: list[str]) -> dict[str, str]:
        """The cached names of people and channels (by id) among ``ids``."""
        if not ids:
            return {}
        raws = self.conn.mget([_k("name", team, i) for i in ids])
        return {i: _text(raw) for i, raw in zip(ids, raws, strict=True) if raw is not None}

    def set_name(self, team: str, id_: str, name: str) -> None:
        self.conn.set(_k("name", team, id_), name, ex=TZ_TTL_SECONDS)

    def keep_thread_body(self, submission_id: str, body: str, ttl: int) -> str:
        """Keep the first body built for a submission and return the one kept: a retry
        sends Rally the same request under the same Idempotency-Key, whatever the thread
        gained since."""
        key = _k("thread-body", submission_id)
        pipe = self.conn.pipeline()
        pipe.set(key, body, nx=True, ex=ttl)
        pipe.get(key)
        _, kept = pipe.execute()
        return _text(kept)

    def thread_body(self, submission_id: str) -> str | None:
        raw = self.conn.get(_k("thread-body", submission_id))
        return _text(raw) if raw is not None else None

    # -- activities -------------------------------------------------------------------

    def record_origin(self, activity_id: str, origin: Origin) -> None:
        """Remember where an activity came from and add it to the user's recent list."""
        pipe = self.conn.pipeline()
        pipe.set(_k("origin", activity_id), json.dumps(asdict(origin)), ex=ORIGIN_TTL_SECONDS)
        recent = _k("recent", origin.team, origin.user)
        pipe.lrem(recent, 0, activity_id)
        pipe.lpush(recent, activity_id)
        pipe.ltrim(recent, 0, RECENT_LIMIT - 1)
        if origin.activity_type == "task":
            pipe.sadd(_k("logged-tasks", origin.team, origin.user), activity_id)
        pipe.execute()

    def record_origins(self, origins: Iterable[tuple[str, Origin]]) -> None:
        """:meth:`record_origin` for many new activities (a coalesced batch), in one round
        trip; new ids are in no recent list yet, so none is looked for there."""
        origins = list(origins)
        if not origins:
            return
        pipe = self.conn.pipeline(transaction=False)
        self.conn.register_script(_SET_ALL_EX)(
            keys=[_k("origin", activity_id) for activity_id, _ in origins],
            # vars(), not asdict(): its deep copy is most of the cost, for flat strings
            args=[ORIGIN_TTL_SECONDS, *(json.dumps(vars(o)) for _, o in origins)],
            client=pipe,
        )
        recent: dict[str, list[str]] = {}
        for activity_id, origin in origins:
            recent.setdefault(_k("recent", origin.team, origin.user), []).append(activity_id)
            if origin.activity_type == "task":
                pipe.sadd(_k("logged-tasks", origin.team, origin.user), activity_id)
        for key, ids in recent.items():
            pipe.lpush(key, *ids)
            pipe.ltrim(key, 0, RECENT_LIMIT - 1)
        pipe.execute()

    def logged_task_ids(self, team: str, user: str) -> list[str]:
        """Ids of every task the user logged from Slack (open or not)."""
        raw = cast(set[bytes], self.conn.smembers(_k("logged-tasks", team, user)))
        return sorted(_text(item) for item in raw)

    # -- reminders ----------------------------------------------------------------------

    def record_reminder_post(self, task_id: str, due: int, channel: str, ts: str) -> None:
        """Note one posted copy of a task's reminder (updated in place when someone acts)."""
        key = _k("reminder", task_id, str(due))
        pipe = self.conn.pipeline()
        pipe.hset(key, channel, ts)
        pipe.expire(key, REMINDER_POSTS_TTL_SECONDS)
        pipe.execute()

    def reminder_posts(self, task_id: str, due: int) -> dict[str, str]:
        """Channel -> ts of every posted copy of the reminder of ``task_id`` for ``due``."""
        raw = self.conn.hgetall(_k("reminder", task_id, str(due)))
        return {_text(k): _text(v) for k, v in raw.items()}

    def record_unfurl(self, task_id: str, due: int, channel: str, ts: str, url: str) -> None:
        """Note a message that unfurled a task with its buttons (updated when someone acts)."""
        key = _k("unfurl", task_id, str(due))
        pipe = self.conn.pipeline()
        pipe.hset(key, f"{channel} {ts}", url)
        pipe.expire(key, REMINDER_POSTS_TTL_SECONDS)
        pipe.execute()

    def unfurls(self, task_id: str, due: int) -> dict[tuple[str, str], str]:
        """(channel, ts) -> unfurled url of every message that unfurled ``task_id`` for ``due``."""
        raw = self.conn.hgetall(_k("unfurl", task_id, str(due)))
        copies: dict[tuple[str, str], str] = {}
        for where, url in raw.items():
            channel, _, ts = _text(where).partition(" ")
            copies[(channel, ts)] = _text(url)
        return copies

    def record_digest(self, team: str, channel: str, ts: str, shown: dict[str, Any]) -> None:
        """Note what a posted digest showed (its record and tasks), so a click on it is one
        the app showed and the digest can be drawn again once someone acts."""
        self.conn.set(
            _k("digest", team, channel, ts), json.dumps(shown), ex=REMINDER_POSTS_TTL_SECONDS
        )

    def digest_shown(self, team: str, channel: str, ts: str) -> dict[str, Any] | None:
        raw = self.conn.get(_k("digest", team, channel, ts))
        return cast(dict[str, Any], json.loads(raw)) if raw is not None else None

    def record_task_action(self, task_id: str, due: int, action: dict[str, Any]) -> None:
        """Note that someone completed/snoozed ``task_id`` as due at ``due`` (a re-click no-ops)."""
        self.conn.set(
            _k("acted", task_id, str(due)), json.dumps(action), ex=REMINDER_POSTS_TTL_SECONDS
        )

    def get_task_action(self, task_id: str, due: int) -> dict[str, Any] | None:
        raw = self.conn.get(_k("acted", task_id, str(due)))
        return cast(dict[str, Any], json.loads(raw)) if raw is not None else None

    def task_lock(self, task_id: str, due: int, *, seconds: int = 120) -> Lock:
        """The lock that lets one action at a time act on a task's due date (two workers, a
        double click). Not yet acquired; it never blocks, and expires after ``seconds``
        so a worker that died holding it frees it."""
        lock: Lock = self.conn.lock(
            _k("acting", task_id, str(due)), timeout=seconds, blocking=False
        )
        return lock

    def set_confirmation(self, activity_id: str, channel: str, ts: str) -> None:
        """Note the real message that confirmed an activity (reminders thread under it)."""
        origin = self.get_origin(activity_id)
        if origin is None:
            return
        origin.confirmation_channel, origin.confirmation_ts = channel, ts
        self.conn.set(_k("origin", activity_id), json.dumps(asdict(origin)), ex=ORIGIN_TTL_SECONDS)

    def get_origin(self, activity_id: str) -> Origin | None:
        raw = self.conn.get(_k("origin", activity_id))
        return Origin(**json.loads(raw)) if raw is not None else None

    def recent_activity_ids(self, team: str, user: str, limit: int = RECENT_LIMIT) -> list[str]:
        raw = cast(list[bytes], self.conn.lrange(_k("recent", team, user), 0, limit - 1))
        return [item.decode() for item in raw]

    # -- submissions ------------------------------------------------------------------

    def save_submission(self, submission: Submission) -> None:
        self.conn.set(
            _k("submission", submission.id),
            json.dumps(asdict(submission)),
            ex=SUBMISSION_TTL_SECONDS,
        )

    def get_submission(self, submission_id: str) -> Submission | None:
        raw = self.conn.get(_k("submission", submission_id))
        return Submission(**json.loads(raw)) if raw is not None else None

    def delete_submissions(self, submission_ids: Iterable[str]) -> None:
        keys = [_k("submission", sid) for sid in submission_ids]
        if keys:
            self.conn.delete(*keys)

    # -- delivering creates exactly once ---------------------------------------------------

    def get_create_attempt(self, submission_id: str) -> CreateAttempt | None:
        raw = self.conn.get(_k("create", submission_id))
        return CreateAttempt(**json.loads(raw)) if raw is not None else None

    def save_create_attempt(self, submission_id: str, attempt: CreateAttempt) -> None:
        self.conn.set(
            _k("create", submission_id), json.dumps(asdict(attempt)), ex=CREATE_TTL_SECONDS
        )

    def claim_activity(self, tenant: str, activity_id: str, submission_id: str) -> bool:
        """Make ``submission_id`` the one owner of an activity; True if it is (now or before).

        Atomic (SET NX), so two submissions reconciling at once cannot both adopt it.
        """
        key = _k("adopted", tenant, activity_id)
        if self.conn.set(key, submission_id, nx=True, ex=CREATE_TTL_SECONDS):
            return True
        owner = self.conn.get(key)
        return owner is not None and _text(owner) == submission_id

    def claim_activities(self, tenant: str, claims: Iterable[tuple[str, str]]) -> dict[str, str]:
        """:meth:`claim_activity` for many ``(activity id, submission)`` pairs at once.

        Returns:
            activity id -> the other submission that owned it first, for each claim lost.
        """
        claims = list(claims)
        if not claims:
            return {}
        answer = self.conn.register_script(_CLAIM_ALL)(
            keys=[_k("adopted", tenant, activity_id) for activity_id, _ in claims],
            args=[CREATE_TTL_SECONDS, *(submission_id for _, submission_id in claims)],
        )
        lost = cast(list[bytes], answer)
        return {claims[int(lost[i]) - 1][0]: _text(lost[i + 1]) for i in range(0, len(lost), 2)}

    def activity_claimants(self, tenant: str, activity_ids: Iterable[str]) -> dict[str, str]:
        """activity id -> the submission that owns it, for those that are owned."""
        ids = list(activity_ids)
        if not ids:
            return {}
        owners = self.conn.mget([_k("adopted", tenant, a) for a in ids])
        return {a: _text(o) for a, o in zip(ids, owners, strict=True) if o is not None}

    def set_key_owner(self, namespace: str, owner_id: str) -> None:
        self.conn.set(_k("key-owner", namespace), owner_id, ex=CREATE_TTL_SECONDS)

    def key_owner(self, namespace: str) -> str | None:
        raw = self.conn.get(_k("key-owner", namespace))
        return _text(raw) if raw is not None else None

    def creating_lock(self, tenant: str, content: str, *, seconds: int) -> Lock:
        """One create of this content (a digest) in this tenant at a time (see
        ``workers.delivery``); ``seconds`` bounds how long a dead holder blocks it."""
        lock: Lock = self.conn.lock(_k("creating", tenant, content), timeout=seconds)
        return lock

    # -- outcomes never delivered -------------------------------------------------------

    def add_undelivered(self, team: str, user: str, entry: dict[str, Any]) -> None:
        """Keep an outcome whose notification gave up, newest first (App Home shows them)."""
        key = _k("undelivered", team, user)
        pipe = self.conn.pipeline()
        pipe.lpush(key, json.dumps(entry))
        pipe.ltrim(key, 0, UNDELIVERED_LIMIT - 1)
        pipe.expire(key, UNDELIVERED_TTL_SECONDS)
        pipe.execute()

    def undelivered(self, team: str, user: str) -> list[dict[str, Any]]:
        raw = cast(list[bytes], self.conn.lrange(_k("undelivered", team, user), 0, -1))
        return [json.loads(item) for item in raw]
