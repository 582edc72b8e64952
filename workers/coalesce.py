"""Coalesced creates: a person's waiting creates go to Rally together, up to 100 a request.

SPEC §8. The bot pushes each create onto its person's lane (``workers.queues.create_lane``:
one person, so one credential: a person's own key is never used for anyone else's create)
and the push that finds the lane idle queues :func:`drain_creates`. The drainer takes
what is waiting, up to :data:`BATCH_SIZE`, as one batch whose members are stored before
anything is sent (``workers.lanes``):

- a batch of one (light load: nothing else was waiting) is sent at once as a single
  create, through ``workers.delivery.create_once``, exactly as before coalescing;
- a larger batch is one ``POST /activities/bulk`` with the Idempotency-Key
  ``batch-{id}``, reused on every retry of that batch. A bulk sent without an answer is
  reconciled before it is sent again: what changed in the tenant since just before the
  batch was formed is listed, and each member adopts its exact, unclaimed match
  (``workers.delivery.matches``, claimed atomically); only the members left are sent again
  (under the same key when that is all of them);
- a row Rally rejects is told to its submitter at once, with Edit and retry; the rest of
  the batch is created;
- transient trouble (5xx, a dropped connection) re-schedules the drainer with the create
  backoff (``JOB_RETRY_INTERVALS``) instead of sleeping in a worker; when it is spent the
  batch's members are told Rally could not be reached;
- a 429 pauses the whole tenant until its ``Retry-After`` (``rally:paused:{tenant}``):
  every drainer of that tenant re-schedules itself for then, leaving the workers to other
  tenants;
- after :data:`BATCHES_PER_RUN` batches a drainer queues its own continuation behind
  whatever else is queued, so one person's (or one tenant's) backlog cannot hold the
  workers while others wait.

What each member's activity became is kept in the batch before any bookkeeping, so a
drainer killed after Rally answered finishes the batch without sending it again. Outcomes
are told through ``workers.outbox``, one message per person per batch.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any, Final

import redis
from pydantic import ValidationError

from api_client import (
    RallyClient,
    RallyConnectionError,
    RallyError,
    RateLimitError,
)
from api_client.models import CreateActivityRequest, format_utc
from core import metrics
from core.redis import worker_redis
from core.settings import Settings, job_settings
from workers import delivery, jobs, lanes, outbox, queues, workspace
from workers.rally import rally_client
from workers.records import note_seen, record_pairs
from workers.state import Origin, State

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 100
"""The Activities API's bulk limit."""
BATCHES_PER_RUN: Final = 4
SENDS_PER_RUN: Final = 3
"""Unanswered sends of one batch within one run (each reconciled before the next)."""
DEFAULT_PAUSE_S: Final = 1.0
"""A 429 without a usable ``Retry-After``."""


class Later(Exception):
    """The batch cannot go now: come back after ``delay`` seconds.

    ``counts`` says whether this is a failure that uses up the batch's retries (Rally
    trouble) or only a wait (the tenant is paused, the lane busy).
    """

    def __init__(self, delay: float, reason: str, *, counts: bool) -> None:
        super().__init__(reason)
        self.delay, self.reason, self.counts = delay, reason, counts


def _settings() -> Settings:
    return job_settings()


def drain_creates(lane: str) -> dict[str, Any]:
    """RQ job: send the lane's waiting creates, a batch at a time (see the module docstring).

    Args:
        lane: ``team:user`` (``workers.queues.create_lane``).

    Returns:
        ``{"batches": n, "created": n, "rejected": n}`` of this run.
    """
    settings = _settings()
    conn = worker_redis(settings.redis_url)
    token = lanes.job_token()
    the_lane = lanes.Lane(conn, "create", lane)
    done = {"batches": 0, "created": 0, "rejected": 0}
    known: dict[str, workspace.Credential | None] = {}  # whom this run sends as, once
    for _ in range(BATCHES_PER_RUN):
        taken = the_lane.take(BATCH_SIZE, token)
        if taken.batch is None:
            if taken.busy_ms:
                # Another run holds the lane (or did, and died): look again when its
                # hold runs out, so a dead holder's batch is not left behind.
                queues.enqueue_drainer(conn, "create", lane, delay=taken.busy_ms / 1000)
            return done
        batch = taken.batch
        early = float(batch.state.get("not_before") or 0) - time.time()
        if early > 1.0:
            # Another run of this lane (RQ re-running a job it wrongly counted as failed)
            # came back before the batch's backoff: keep the backoff, come back then.
            the_lane.release(token, keep_active_for=early)
            queues.enqueue_drainer(conn, "create", lane, delay=early, retry=True)
            return done
        try:
            created, rejected = _work(conn, settings, the_lane, batch, token, known)
        except Later as later:
            if later.counts:
                batch.attempts += 1
                intervals = settings.retry_intervals()
                if batch.attempts > len(intervals):
                    created, rejected = _give_up(conn, settings, batch)
                    the_lane.finish(token)
                    done["created"] += created
                    done["rejected"] += rejected
                    continue
                delay = max(later.delay, float(intervals[batch.attempts - 1]))
            else:
                delay = later.delay
            batch.state["not_before"] = time.time() + delay
            the_lane.save(batch, token)
            the_lane.release(token, keep_active_for=delay)
            queues.enqueue_drainer(conn, "create", lane, delay=delay, retry=later.counts)
            log.info(
                "event=batch_later lane=%s batch=%s size=%d attempts=%d delay_s=%.1f reason=%s",
                lane,
                batch.id,
                len(batch.items),
                batch.attempts,
                delay,
                later.reason,
            )
            return done
        the_lane.finish(token)
        done["batches"] += 1
        done["created"] += created
        done["rejected"] += rejected
    # Others' lanes go first; this one carries on behind them.
    the_lane.release(token, keep_active_for=0)
    queues.enqueue_drainer(conn, "create", lane)
    return done


def on_drain_failed(job: Any, connection: redis.Redis, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of :func:`drain_creates`: a fault of ours, once re-runs are spent.

    The batch in flight is told (each member, with Edit and retry) and dropped, and the
    lane's next batch gets a fresh drainer.
    """
    if job.should_retry:
        return
    lane = str((job.kwargs or {}).get("lane") or "")
    the_lane = lanes.Lane(connection, "create", lane)
    raw = connection.get(the_lane.batch_key)
    log.error(
        "event=drain_gave_up alert=true lane=%s job=%s error=%s",
        lane,
        job.id,
        getattr(exc_type, "__name__", exc_type),
    )
    holder = connection.get(the_lane.lock_key)
    if holder is not None and (holder.decode() if isinstance(holder, bytes) else holder) != job.id:
        return  # another run holds the lane now: the batch is its to finish
    if raw is not None:
        batch = lanes.Batch.from_json(raw)
        reason = (
            f"something went wrong on our side (job {job.id}). Try again, or tell your Slack admin."
        )
        _give_up(connection, _settings(), batch, reason, look=False)
        connection.delete(the_lane.batch_key)
    connection.delete(the_lane.lock_key, the_lane.active_key)
    if the_lane.waiting() and lanes.claim_orphan(connection, "create", lane):
        queues.enqueue_drainer(connection, "create", lane)


def sweep(conn: redis.Redis) -> int:
    """Start a drainer for every lane with work and none live (the minute's cron)."""
    started = 0
    for kind in ("create", "tell"):
        for name in lanes.orphans(conn, kind):
            if lanes.claim_orphan(conn, kind, name):
                queues.enqueue_drainer(conn, kind, name)
                log.warning("event=lane_restarted kind=%s lane=%s", kind, name)
                started += 1
    return started


# -- one batch ---------------------------------------------------------------------------


def _work(
    conn: redis.Redis,
    settings: Settings,
    lane: lanes.Lane,
    batch: lanes.Batch,
    token: str,
    known: dict[str, workspace.Credential | None],
) -> tuple[int, int]:
    """Create (or adopt) every member of ``batch`` and hand each outcome to the outbox.

    Returns:
        How many were created and how many rejected.

    Raises:
        Later: Rally cannot take it now (the batch is kept as it is).
    """
    metrics.BATCH_ITEMS.labels("create").observe(len(batch.items))
    origin = dict(batch.items[0].get("origin") or {})
    if "as_whom" not in known:  # one lane is one person: the same for each batch of a run
        try:
            known["as_whom"] = workspace.credential(
                settings, origin.get("team"), origin.get("user")
            )
        except workspace.NotConnected:
            known["as_whom"] = None
    as_whom = known["as_whom"]
    results: dict[str, Any] = dict(batch.state.get("results") or {})
    if not results:
        if as_whom is None:
            results = {m["sub"]: _rejection(jobs.NOT_CONNECTED) for m in batch.items}
        else:
            results = _send(conn, lane, batch, token, as_whom)
        # Kept before any bookkeeping: a run killed from here on finishes, not resends.
        batch.state["results"] = results
        lane.save(batch, token)
    return _settle(conn, settings, batch, results, as_whom)


def _rejection(reason: str, field_errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"rejected": reason, "field_errors": dict(field_errors or {})}


def _requests(
    batch: lanes.Batch, personal: bool
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each member's request as it is to be sent, and the members refused before sending."""
    ready: dict[str, dict[str, Any]] = {}
    refused: dict[str, Any] = {}
    for member in batch.items:
        request = dict(member.get("request") or {})
        if personal:
            # Their own key: Rally makes them the owner and checks what they may do.
            request.pop("ownerId", None)
        try:
            CreateActivityRequest.model_validate(request)
        except ValidationError as exc:
            fields = {".".join(map(str, e["loc"])) or "$": [e["msg"]] for e in exc.errors()}
            refused[member["sub"]] = _rejection("Rally refused some of what you entered.", fields)
            continue
        ready[member["sub"]] = request
    return ready, refused


def _send(
    conn: redis.Redis,
    lane: lanes.Lane,
    batch: lanes.Batch,
    token: str,
    as_whom: workspace.Credential,
) -> dict[str, Any]:
    """Rally's answer for each member: ``{"id", "adopted"}`` or a rejection."""
    tenant = delivery.tenant_of(as_whom)
    paused_ms = int(conn.pttl(_paused_key(tenant)))
    if paused_ms > 0:
        raise Later(paused_ms / 1000, "tenant_paused", counts=False)
    ready, results = _requests(batch, as_whom.personal)
    if not ready:
        return results
    try:
        with rally_client(as_whom, use="drain") as rally:
            if len(ready) == 1:
                [(sub, request)] = ready.items()
                results[sub] = _single(rally, conn, as_whom, sub, request)
            else:
                results.update(_bulk(rally, conn, lane, batch, token, as_whom, ready))
    except RateLimitError as exc:
        pause = exc.retry_after if exc.retry_after is not None else DEFAULT_PAUSE_S
        pause = max(pause, 0.05)
        conn.set(_paused_key(tenant), "1", px=int(pause * 1000), nx=True)
        metrics.TENANT_PAUSES.labels(tenant).inc()
        log.warning("event=tenant_paused tenant=%s seconds=%.2f", tenant, pause)
        raise Later(pause, "rate_limited", counts=False) from exc
    except RallyError as exc:
        if exc.retryable:
            raise Later(0, type(exc).__name__, counts=True) from exc
        reason = jobs.permanent_reason(exc, personal=as_whom.personal)
        field_errors = dict(getattr(exc, "field_errors", None) or {})
        adopted = dict(batch.state.get("adopted") or {})
        for sub in ready:
            if sub in adopted:
                results[sub] = {"id": adopted[sub], "adopted": True}
            results.setdefault(sub, _rejection(reason, field_errors))
        log.info(
            "event=batch_rejected batch=%s size=%d status=%s", batch.id, len(ready), exc.status_code
        )
    return results


def _paused_key(tenant: str) -> str:
    return f"rally:paused:{tenant}"


def _single(
    rally: RallyClient,
    conn: redis.Redis,
    as_whom: workspace.Credential,
    sub: str,
    request: dict[str, Any],
) -> dict[str, Any]:
    """A lone create, sent at once (``workers.delivery.create_once``)."""
    try:
        activity, adopted = delivery.create_once(
            rally,
            conn,
            as_whom,
            submission_id=sub,
            request=request,
            idempotency_key=jobs.idempotency_key(sub),
            lister=lambda: rally_client(as_whom, use="reconcile"),
        )
    except RallyError as exc:
        known = State(conn).get_create_attempt(sub)
        if known is not None and known.activity_id is not None:
            # In Rally and ours (created or adopted); only reading it back failed. What
            # was sent says what it is: no need to fail, or retry, for the read.
            return {"id": known.activity_id, "adopted": True}
        if exc.retryable:
            raise
        return _rejection(
            jobs.permanent_reason(exc, personal=as_whom.personal),
            dict(getattr(exc, "field_errors", None) or {}),
        )
    return {
        "id": activity.id,
        "adopted": adopted,
        "activity": activity.model_dump(by_alias=True, mode="json"),
    }


def _bulk(
    rally: RallyClient,
    conn: redis.Redis,
    lane: lanes.Lane,
    batch: lanes.Batch,
    token: str,
    as_whom: workspace.Credential,
    ready: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Send ``ready`` as one bulk request (reconciling an unanswered one first)."""
    state = State(conn)
    tenant = delivery.tenant_of(as_whom)
    results: dict[str, Any] = {}
    left = dict(ready)
    for _ in range(SENDS_PER_RUN):
        if batch.state.get("unanswered"):
            found = _reconcile(state, as_whom, batch, left)
            for sub, activity_id in found.items():
                results[sub] = {"id": activity_id, "adopted": True}
                left.pop(sub)
            if found:  # kept: whatever the rest's send ends in, these are in Rally
                batch.state.setdefault("adopted", {}).update(found)
                lane.save(batch, token)
            if not left:
                return results
        # The batch's own key while it is the whole batch; a part left after a
        # reconciliation is a different body, so it gets a key of its own.
        key = f"batch-{batch.id}" if len(left) == len(ready) else f"batch-{batch.id}-{len(left)}"
        batch.state["unanswered"] = True
        lane.save(batch, token)
        subs = list(left)
        try:
            answer = rally.bulk_create_activities(
                [left[sub] for sub in subs], idempotency_key=key, retry_unanswered=False
            )
        except RallyConnectionError as exc:
            if exc.unanswered:
                log.warning("event=batch_unanswered batch=%s size=%d", batch.id, len(subs))
                continue
            batch.state["unanswered"] = False
            raise
        except RallyError:
            batch.state["unanswered"] = False
            raise
        batch.state["unanswered"] = False
        failed = {error.index: error.errors for error in answer.errors}
        created = iter(answer.created_ids)
        if len(answer.created_ids) + len(failed) != len(subs):
            log.error(
                "event=bulk_answer_mismatch alert=true batch=%s sent=%d created=%d failed=%d",
                batch.id,
                len(subs),
                len(answer.created_ids),
                len(failed),
            )
        claimed: list[tuple[str, str]] = []
        for index, sub in enumerate(subs):
            if index in failed:
                results[sub] = _rejection("Rally refused some of what you entered.", failed[index])
                continue
            new_id = next(created, None)
            if new_id is None:
                results[sub] = _rejection("Rally did not say what became of it.")
                continue
            results[sub] = {"id": str(new_id), "adopted": False}
            claimed.append((str(new_id), sub))
        for activity_id, owner in state.claim_activities(tenant, claimed).items():
            log.error("event=adoption_conflict alert=true activity=%s owner=%s", activity_id, owner)
        return results
    raise Later(0, "unanswered", counts=True)


def _reconcile(
    state: State,
    as_whom: workspace.Credential,
    batch: lanes.Batch,
    left: dict[str, dict[str, Any]],
) -> dict[str, str]:
    """Members of an unanswered bulk that Rally has after all: sub -> activity id, claimed."""
    since = datetime.fromisoformat(batch.since) - delivery.CLOCK_SKEW
    with rally_client(as_whom, use="reconcile") as lister:
        adopted = delivery.adopt(lister, state, as_whom, since, left)
    log.info(
        "event=batch_reconciled batch=%s members=%d adopted=%d",
        batch.id,
        len(left),
        len(adopted),
    )
    return adopted


# -- after Rally answered ----------------------------------------------------------------


def _settle(
    conn: redis.Redis,
    settings: Settings,
    batch: lanes.Batch,
    results: dict[str, Any],
    as_whom: workspace.Credential | None,
) -> tuple[int, int]:
    """The bookkeeping of created members, then every outcome to the outbox."""
    state = State(conn)
    members = {m["sub"]: m for m in batch.items}
    origin = dict(batch.items[0].get("origin") or {})
    team, user = origin.get("team"), origin.get("user")
    created: list[tuple[str, dict[str, Any]]] = []
    told: list[tuple[str, dict[str, Any]]] = []
    owner = _owner(state, as_whom, results)
    for sub, result in results.items():
        member = members.get(sub) or {"origin": origin, "request": {}}
        member_origin = dict(member.get("origin") or origin)
        if "rejected" in result:
            told.append((sub, jobs.rejection_outcome(member["request"], member_origin, result)))
            continue
        wire = result.get("activity") or _as_created(member["request"], result["id"], owner)
        created.append((sub, wire))
        told.append((sub, {"ok": True, "activity": wire, "origin": member_origin}))
    if created:
        personal = as_whom is not None and as_whom.personal
        _remember(settings, state, conn, team, user, origin, created, personal=personal)
    outbox.tell_all(conn, told)
    for sub, wire in created:
        log.info(
            "event=activity_created submission=%s activity=%s team=%s user=%s type=%s "
            "adopted=%s batch=%s",
            sub,
            wire["id"],
            team,
            user,
            wire.get("activityType"),
            bool(results[sub].get("adopted")),
            batch.id,
        )
    return len(created), len(told) - len(created)


def _owner(
    state: State, as_whom: workspace.Credential | None, results: dict[str, Any]
) -> str | None:
    """Whom Rally makes the owner of what this credential creates without an ``ownerId``."""
    for result in results.values():
        if result.get("activity", {}).get("ownerId"):
            return str(result["activity"]["ownerId"])
    if as_whom is None:
        return None
    known = state.key_owner(as_whom.namespace)
    if known is not None or not as_whom.personal:
        return known
    first = next((r["id"] for r in results.values() if "id" in r), None)
    if first is None:
        return None
    try:  # a person's first creates with their own key: learn who they are in Rally
        with rally_client(as_whom, use="drain") as rally:
            owner = rally.get_activity(first).owner_id
    except RallyError:
        return None
    if owner:
        state.set_key_owner(as_whom.namespace, owner)
    return owner


def _as_created(request: dict[str, Any], activity_id: str, owner: str | None) -> dict[str, Any]:
    """The activity as Rally stored it, from what was sent (a bulk answer holds only ids)."""
    wire = delivery.wanted_fields(request)
    wire["id"] = activity_id
    wire["status"] = wire.get("status") or "pending"
    wire["ownerId"] = wire.get("ownerId") or owner
    return wire


def _remember(
    settings: Settings,
    state: State,
    conn: redis.Redis,
    team: Any,
    user: Any,
    origin: dict[str, Any],
    created: list[tuple[str, dict[str, Any]]],
    *,
    personal: bool,
) -> None:
    """Audit trail, origins, recent lists and record menus: one write each for the batch."""
    now = datetime.now(UTC)
    origins = [
        (
            wire["id"],
            Origin(
                team=str(team),
                channel=origin.get("channel"),
                user=str(user),
                activity_type=str(wire.get("activityType")),
                subject=str(wire.get("subject") or ""),
                logged_at=format_utc(now),
            ),
        )
        for _, wire in created
    ]
    state.record_origins(origins)
    if team:
        store = workspace.store_of(settings)
        store.audit_many(
            team,
            user,
            "logged",
            surface=str(origin.get("surface") or "slack"),
            activities=[(wire["id"], {"type": wire.get("activityType")}) for _, wire in created],
        )
        first = created[0][1]
        if personal and user and first.get("ownerId"):
            store.set_personal_key_status(team, user, "ok", owner_id=first["ownerId"])
            # Reminders name the owner as this person from now on.
            store.set_owner(team, user, first["ownerId"], by=user)
    try:
        tenant = workspace.workspace_credential(settings, team)
        if tenant is not None:
            pipe = conn.pipeline(transaction=False)
            stamp = int(now.timestamp())
            seen = [(kind, rid, stamp) for _, wire in created for kind, rid in record_pairs(wire)]
            if seen:
                note_seen(pipe, tenant.namespace, seen)
                pipe.execute()
    except Exception as exc:  # the activities are in Rally: never fail (or retry) for this
        log.info("event=seen_not_noted team=%s error=%s", team, type(exc).__name__)


def _give_up(
    conn: redis.Redis,
    settings: Settings,
    batch: lanes.Batch,
    reason: str | None = None,
    *,
    look: bool = True,
) -> tuple[int, int]:
    """Retries are spent: tell each member of ``batch`` how it ended (``reason``, else that
    Rally could not be reached).

    When a send went unanswered, Rally may have the batch after all: one last
    reconciliation (``look``) adopts what it finds, so nobody is told to try again about
    an activity Rally has (trying again would make a duplicate); the rest are told that
    Rally may or may not have it. Returns how many were created and how many not.
    """
    tries = f" after {batch.attempts} tries" if batch.attempts > 1 else ""
    text = reason or f"Rally could not be reached{tries}. Try again in a few minutes."
    state = State(conn)
    unanswered = bool(batch.state.get("unanswered")) or any(
        (attempt := state.get_create_attempt(m["sub"])) is not None and attempt.unanswered
        for m in batch.items
    )
    results: dict[str, Any] = {
        sub: {"id": aid, "adopted": True} for sub, aid in (batch.state.get("adopted") or {}).items()
    }
    for member in batch.items:  # a lone create found in Rally before its read-back failed
        known = state.get_create_attempt(member["sub"])
        if known is not None and known.activity_id is not None:
            results[member["sub"]] = {"id": known.activity_id, "adopted": True}
    as_whom: workspace.Credential | None = None
    if unanswered:
        text = (
            f"Rally did not answer{tries}, so it may have logged it: look in Rally before "
            "you try again."
        )
        origin = dict(batch.items[0].get("origin") or {})
        try:
            as_whom = workspace.credential(settings, origin.get("team"), origin.get("user"))
            if look:
                left = {m["sub"]: dict(m.get("request") or {}) for m in batch.items}
                if as_whom.personal:
                    for request in left.values():
                        request.pop("ownerId", None)
                found = _reconcile(state, as_whom, batch, left)
                results.update({sub: {"id": aid, "adopted": True} for sub, aid in found.items()})
        except (workspace.NotConnected, RallyError) as exc:
            log.warning("event=last_look_failed batch=%s error=%s", batch.id, type(exc).__name__)
    for member in batch.items:
        results.setdefault(member["sub"], _rejection(text))
    log.warning(
        "event=batch_gave_up batch=%s size=%d attempts=%d unanswered=%s adopted=%d",
        batch.id,
        len(batch.items),
        batch.attempts,
        unanswered,
        sum(1 for r in results.values() if "id" in r),
    )
    return _settle(conn, settings, batch, results, as_whom)
