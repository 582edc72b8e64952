"""Channel digests (SPEC §7): each working day, at the time whoever turned it on chose on
their own clock, one message in a linked channel with its record's overdue and due-today
tasks, soonest first, with the reminder's buttons.

The cron schedule (and ``rally-slack remind --once``) calls :func:`run_digests` every
minute after the reminder sync. A digest is due once its local time has come on a Monday
to Friday of its zone and that local day was not taken yet; the day is taken with one
conditional UPDATE in the store (:meth:`core.store.Store.claim_digest_day`), so several
schedulers post it once. The tasks come from the reminder index (the record's sorted set,
no Rally call). A day with nothing due posts nothing. A digest Slack refused for a moment
(rate limit, outage) gives its day back, so the next minute tries again; a channel that
refuses for good (the bot was removed, it was archived) keeps the day taken and is
logged.

What a digest showed is noted (``State.record_digest``): a click on it must be on a task
it showed, and :func:`redraw_digest` draws it again with who did what.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from core.redis import worker_redis
from core.settings import Settings
from core.store import Digest, Store
from slack_ui.digests import DIGEST_TASKS_MAX, digest_message
from slack_ui.tasks import TaskCard
from workers import open_tasks, workspace
from workers.records import names_for, record_pairs
from workers.reminders.index import TaskIndex
from workers.slack import FALLBACK_ERRORS
from workers.state import State

log = logging.getLogger(__name__)

WORKING_DAYS: Final = frozenset(range(5))
"""Monday to Friday (``date.weekday()``)."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_at(at: str) -> time:
    hours, _, minutes = at.partition(":")
    return time(int(hours), int(minutes))


def due_day(digest: Digest, now: datetime) -> date | None:
    """The local day whose digest is due at ``now``, or ``None``."""
    local = now.astimezone(zone(digest.tz))
    if local.weekday() not in WORKING_DAYS or local.time() < parse_at(digest.at):
        return None
    if digest.last_day is not None and digest.last_day >= local.date().isoformat():
        return None
    return local.date()


def first_taken_day(at: time, tz: str, now: datetime) -> str | None:
    """When a digest is turned on after today's time has passed, today counts as taken
    (the first digest is the next working day's, not one straight away)."""
    local = now.astimezone(zone(tz))
    return local.date().isoformat() if local.time() >= at else None


def next_post(at: time, tz: str, now: datetime, last_day: str | None) -> datetime:
    """When the next digest comes (a working day at ``at``, after ``last_day``)."""
    here = zone(tz)
    day = now.astimezone(here).date()
    for _ in range(8):
        when = datetime.combine(day, at, tzinfo=here)
        if (
            day.weekday() in WORKING_DAYS
            and (last_day is None or day.isoformat() > last_day)
            and when >= now - timedelta(minutes=1)
        ):
            return when
        day += timedelta(days=1)
    return datetime.combine(day, at, tzinfo=here)


@dataclass
class DigestReport:
    """What one run did: digests posted, days with nothing due, failures to retry."""

    posted: int = 0
    empty: int = 0
    failed: int = 0


def run_digests(settings: Settings, *, now: datetime | None = None) -> DigestReport:
    """Post every digest due at ``now`` (default: now), in every workspace."""
    now = now or datetime.now(UTC)
    store = workspace.store_of(settings)
    report = DigestReport()
    conn = worker_redis(settings.redis_url)
    try:
        for digest in store.digests():
            day = due_day(digest, now)
            if day is None:
                continue
            if not store.claim_digest_day(digest.team_id, digest.channel_id, day.isoformat()):
                continue  # another scheduler took it
            outcome = _post_digest(settings, store, State(conn), digest, day, now)
            if outcome == "retry":
                store.release_digest_day(
                    digest.team_id, digest.channel_id, day.isoformat(), digest.last_day
                )
                report.failed += 1
            elif outcome == "posted":
                report.posted += 1
            else:
                report.empty += 1
    finally:
        conn.close()
    return report


def _due_cards(
    index: TaskIndex, kind: str, record_id: str, *, end_of_day: int
) -> tuple[list[TaskCard], int]:
    """The record's tasks due before ``end_of_day``, soonest first (shown, and how many)."""
    pairs = [
        (task_id, due) for task_id, due in index.record_tasks(kind, record_id) if due < end_of_day
    ]
    shown = pairs[:DIGEST_TASKS_MAX]
    due_of = dict(shown)
    cards = [
        TaskCard.from_fields({**fields, "due": due_of[fields["id"]]})
        for fields in index.tasks([task_id for task_id, _ in shown])
        if fields.get("id") in due_of
    ]
    return cards, len(pairs)


def _post_digest(
    settings: Settings, store: Store, state: State, digest: Digest, day: date, now: datetime
) -> str:
    """Post one channel's digest: ``"posted"``, ``"empty"`` (nothing due, or nothing to
    show it for) or ``"retry"``."""
    team, channel = digest.team_id, digest.channel_id
    link = store.link(team, channel)
    namespace = open_tasks.namespace_of(settings, team)
    if link is None or namespace is None:
        log.info(
            "event=digest_skipped team=%s channel=%s reason=%s",
            team,
            channel,
            "unlinked" if link is None else "not_connected",
        )
        return "empty"
    here = zone(digest.tz)
    end_of_day = int(datetime.combine(day + timedelta(days=1), time(0), tzinfo=here).timestamp())
    index = TaskIndex(state.conn, namespace)
    cards, total = _due_cards(index, link.kind, link.id, end_of_day=end_of_day)
    if not cards:
        log.info("event=digest_empty team=%s channel=%s day=%s", team, channel, day)
        return "empty"
    cutoff = int(now.timestamp())
    message = digest_message(
        link.kind,
        link.id,
        cards,
        overdue_before=cutoff,
        total=total,
        app_url=settings.rally_app_url,
        names=names_for(store, team, [(link.kind, link.id), *record_pairs(*cards)]),
    )
    try:
        slack = workspace.slack_client(settings, team)
        response = slack.chat_postMessage(channel=channel, **message.to_dict(), unfurl_links=False)
    except workspace.NotInstalled:
        return "empty"
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("event=digest_post_failed team=%s channel=%s error=%s", team, channel, error)
        return "empty" if error in FALLBACK_ERRORS else "retry"
    except Exception as exc:  # connection trouble after slack_sdk's own retries
        log.warning(
            "event=digest_post_failed team=%s channel=%s error=%s",
            team,
            channel,
            type(exc).__name__,
        )
        return "retry"
    shown = {
        "kind": link.kind,
        "id": link.id,
        "overdue_before": cutoff,
        "total": total,
        "tasks": [_shown(card) for card in cards],
    }
    state.record_digest(team, str(response["channel"]), str(response["ts"]), shown)
    log.info(
        "event=digest_posted team=%s channel=%s day=%s tasks=%d", team, channel, day, len(cards)
    )
    return "posted"


def _shown(card: TaskCard) -> dict[str, Any]:
    fields = {"id": card.id, "subject": card.subject, "due": card.due, "priority": card.priority}
    return {name: value for name, value in fields.items() if value is not None}


def digest_showed(shown: dict[str, Any] | None, task_id: str, due: int) -> bool:
    """Whether a digest (as noted) showed ``task_id`` for ``due`` with its buttons."""
    if not shown:
        return False
    return any(
        task.get("id") == task_id and task.get("due") == due for task in shown.get("tasks", [])
    )


def redraw_digest(
    slack: WebClient,
    state: State,
    *,
    team: str,
    channel: str,
    ts: str,
    app_url: str | None,
    store: Store | None = None,
) -> bool:
    """Draw a posted digest again: each task someone acted on shows who did what."""
    shown = state.digest_shown(team, channel, ts)
    if shown is None:
        return False
    cards = [TaskCard.from_fields(task) for task in shown.get("tasks", [])]
    acted = {}
    for card in cards:
        record = state.get_task_action(card.id, card.due)
        if record is not None:
            acted[card.id] = record
    message = digest_message(
        str(shown["kind"]),
        str(shown["id"]),
        cards,
        overdue_before=int(shown["overdue_before"]),
        total=int(shown.get("total") or len(cards)),
        app_url=app_url,
        acted=acted,
        names=names_for(store, team, [(str(shown["kind"]), str(shown["id"]))]) if store else {},
    )
    try:
        slack.chat_update(channel=channel, ts=ts, **message.to_dict())
    except Exception as exc:  # a deleted digest must not fail the click
        log.info(
            "event=digest_update_failed channel=%s ts=%s error=%s", channel, ts, type(exc).__name__
        )
        return False
    return True


def digest_job() -> dict[str, Any]:
    """RQ job (the cron schedule, every minute): post the digests that are due."""
    report = run_digests(Settings())
    return {"posted": report.posted, "empty": report.empty, "failed": report.failed}


__all__ = [
    "DigestReport",
    "digest_job",
    "digest_showed",
    "due_day",
    "first_taken_day",
    "next_post",
    "redraw_digest",
    "run_digests",
]
