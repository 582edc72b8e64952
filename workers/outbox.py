"""Telling people how their coalesced creates went: one message per person per batch.

SPEC §8. ``workers.coalesce`` hands every outcome to :func:`tell_all`, which pushes it on
its person's *tell* lane (``workers.lanes``); the push that finds the lane idle queues
:func:`tell` on ``rally-notify``. A run takes everything waiting for that person (up to
:data:`MESSAGE_SIZE`) and sends it as one message per place they started from:

- one outcome is told exactly as a lone create's always was (``workers.jobs.tell_one``:
  the confirmation with Edit and Delete, by the response URL where there is one);
- several successes are one message naming each activity (``slack_ui.messages.
  confirmations``); a refusal is always its own message, with Edit and retry.

Slack allows about one message a second per channel, with short bursts. Each lane is
paced to that (:data:`PACE_SECONDS`, burst :data:`PACE_BURST`): a run that comes too soon
re-schedules itself for when it may send, and whatever arrived meanwhile goes out in the
same message. Each Slack call honours ``Retry-After`` (slack_sdk's rate-limit handler);
other Slack trouble re-schedules the run with the notify backoff for as long as a
submission is kept, then keeps the outcomes on the person's App Home, as a lone
notification's failure does. What has been sent is noted in the batch, so a re-run does
not tell twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any, Final

import redis
from slack_sdk.errors import SlackApiError, SlackClientError

from core import metrics
from core.redis import worker_redis
from core.settings import Settings, job_settings
from slack_ui import messages
from workers import jobs, lanes, queues, workspace
from workers.records import names_for, record_pairs
from workers.slack import deliver
from workers.state import State

log = logging.getLogger(__name__)

MESSAGE_SIZE: Final = 100
"""One message names at most this many (one create batch; about 6 of the 50 blocks)."""
BATCHES_PER_RUN: Final = 4
PACE_SECONDS: Final = 1.0
PACE_BURST: Final = 3


def tell_lane(origin: dict[str, Any]) -> str:
    return f"{origin.get('team')}:{origin.get('user')}"


def tell_all(conn: redis.Redis, told: list[tuple[str, dict[str, Any]]]) -> None:
    """Queue telling each ``(submission, outcome)``; once per submission and outcome kind."""
    if not told:
        return
    by_lane: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for sub, outcome in told:
        kind = "ok" if outcome.get("ok") else "failed"
        item = {"sub": sub, "outcome": outcome}
        by_lane[tell_lane(outcome.get("origin") or {})].append((f"{sub}:{kind}", item))
    for name, items in by_lane.items():
        if lanes.Lane(conn, "tell", name).push_many(items) > 0:
            queues.enqueue_drainer(conn, "tell", name)


def _settings() -> Settings:
    return job_settings()


def tell(lane: str) -> dict[str, Any]:
    """RQ job: tell one person what is waiting for them (see the module docstring)."""
    settings = _settings()
    conn = worker_redis(settings.redis_url)
    token = lanes.job_token()
    the_lane = lanes.Lane(conn, "tell", lane)
    pace_key = f"rally:pace:{lane}"
    sent = 0
    for _ in range(BATCHES_PER_RUN):
        wait = _pace_wait(conn, pace_key)
        if wait > 0 and (the_lane.waiting() or conn.exists(the_lane.batch_key)):
            the_lane.release(token, keep_active_for=wait)
            queues.enqueue_drainer(conn, "tell", lane, delay=wait)
            return {"messages": sent, "paced_s": wait}
        taken = the_lane.take(MESSAGE_SIZE, token)
        if taken.batch is None:
            if taken.busy_ms:
                queues.enqueue_drainer(conn, "tell", lane, delay=taken.busy_ms / 1000)
            return {"messages": sent}
        batch = taken.batch
        metrics.BATCH_ITEMS.labels("tell").observe(len(batch.items))
        try:
            sent += _tell_batch(conn, settings, the_lane, batch, token)
        except (SlackApiError, SlackClientError, OSError) as exc:
            batch.attempts += 1
            retry = queues.notify_retry(settings)
            intervals = list(retry.intervals)
            if batch.attempts > retry.max:
                _keep_undelivered(conn, batch, type(exc).__name__)
                the_lane.finish(token)
                continue
            delay = float(intervals[min(batch.attempts, len(intervals)) - 1])
            the_lane.save(batch, token)
            the_lane.release(token, keep_active_for=delay)
            queues.enqueue_drainer(conn, "tell", lane, delay=delay, retry=True)
            log.warning(
                "event=tell_later lane=%s attempts=%d delay_s=%s error=%s",
                lane,
                batch.attempts,
                delay,
                type(exc).__name__,
            )
            return {"messages": sent}
        _paced(conn, pace_key)
        the_lane.finish(token)
    the_lane.release(token, keep_active_for=0)
    queues.enqueue_drainer(conn, "tell", lane)
    return {"messages": sent}


def on_tell_failed(job: Any, connection: redis.Redis, exc_type: Any, exc: Any, tb: Any) -> None:
    """RQ failure callback of :func:`tell`: a fault of ours; keep the outcomes on App Home."""
    if job.should_retry:
        return
    lane = str((job.kwargs or {}).get("lane") or "")
    the_lane = lanes.Lane(connection, "tell", lane)
    raw = connection.get(the_lane.batch_key)
    if raw is not None:
        _keep_undelivered(connection, lanes.Batch.from_json(raw), getattr(exc_type, "__name__", ""))
        connection.delete(the_lane.batch_key)
    connection.delete(the_lane.lock_key, the_lane.active_key)
    if the_lane.waiting() and lanes.claim_orphan(connection, "tell", lane):
        queues.enqueue_drainer(connection, "tell", lane)


def _tell_batch(
    conn: redis.Redis, settings: Settings, lane: lanes.Lane, batch: lanes.Batch, token: str
) -> int:
    """Send ``batch``'s messages; returns how many were sent (now)."""
    done: set[str] = set(batch.state.get("sent") or [])
    items = [m for m in batch.items if m["sub"] not in done]
    if not items:
        return 0
    team = (items[0]["outcome"].get("origin") or {}).get("team")
    try:
        slack = workspace.slack_client(settings, team, retries="rate_limits")
    except workspace.NotInstalled:
        log.warning(
            "event=tell_skipped lane=%s reason=not_installed items=%d", lane.name, len(items)
        )
        return 0
    state = State(conn)
    places: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        places[(item["outcome"].get("origin") or {}).get("channel")].append(item)
    sent = 0
    for group in places.values():
        oks = [m for m in group if m["outcome"].get("ok")]
        singles = [m for m in group if not m["outcome"].get("ok")]
        if len(oks) == 1:
            singles.insert(0, oks.pop())
        for item in singles:
            jobs.tell_one(settings, state, slack, item["sub"], item["outcome"])
            sent += 1
            _done(lane, batch, token, done, [item["sub"]])
        if oks:
            _tell_many(settings, state, slack, oks)
            sent += 1
            _done(lane, batch, token, done, [m["sub"] for m in oks])
    return sent


def _tell_many(settings: Settings, state: State, slack: Any, oks: list[dict[str, Any]]) -> None:
    activities = [m["outcome"]["activity"] for m in oks]
    origin = oks[0]["outcome"].get("origin") or {}
    pairs = [pair for activity in activities for pair in record_pairs(activity)]
    names = names_for(workspace.store_of(settings), origin.get("team"), pairs)
    submission = state.get_submission(oks[-1]["sub"])
    delivered = deliver(
        slack,
        user=origin["user"],
        channel=origin.get("channel"),
        message=messages.confirmations(activities, app_url=settings.rally_app_url, names=names),
        response_url=submission.response_url if submission else None,
    )
    state.delete_submissions([m["sub"] for m in oks])
    log.info(
        "event=outcomes_delivered count=%d route=%s user=%s submissions=%s",
        len(oks),
        delivered.route,
        origin.get("user"),
        ",".join(m["sub"] for m in oks),
    )


def _done(
    lane: lanes.Lane, batch: lanes.Batch, token: str, done: set[str], subs: list[str]
) -> None:
    done.update(subs)
    batch.state["sent"] = sorted(done)
    lane.save(batch, token)


def _keep_undelivered(conn: redis.Redis, batch: lanes.Batch, error: str) -> None:
    """Slack never let us tell these: App Home shows them (as a lone notify's give-up)."""
    state = State(conn)
    done = set(batch.state.get("sent") or [])
    for item in batch.items:
        if item["sub"] in done:
            continue
        origin = item["outcome"].get("origin") or {}
        log.error(
            "event=notify_gave_up alert=true submission=%s team=%s user=%s ok=%s error=%s",
            item["sub"],
            origin.get("team"),
            origin.get("user"),
            bool(item["outcome"].get("ok")),
            error,
        )
        if origin.get("team") and origin.get("user"):
            state.add_undelivered(
                origin["team"], origin["user"], jobs.undelivered_entry(item["sub"], item["outcome"])
            )


def _pace_wait(conn: redis.Redis, key: str) -> float:
    """Seconds until this lane may send again (a burst of PACE_BURST, then one a second)."""
    raw = conn.get(key)
    if raw is None:
        return 0.0
    now = time.time()
    tat = float(raw)
    return max(0.0, tat - now - (PACE_BURST - 1) * PACE_SECONDS)


def _paced(conn: redis.Redis, key: str) -> None:
    """Note a message sent (the lane's theoretical arrival time moves on by PACE_SECONDS)."""
    raw = conn.get(key)
    now = time.time()
    tat = max(float(raw) if raw is not None else now, now) + PACE_SECONDS
    conn.set(key, repr(tat), px=int((tat - now + PACE_SECONDS) * 1000))
