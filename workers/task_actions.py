"""The job behind Complete / Snooze 1 hour / Snooze until tomorrow 9:00.

``act_on_task`` is queued by the bot on ``rally-reminders`` the moment a button is
clicked (a reminder in a channel, ``/rally tasks``, or the App Home). It:

1. takes a per-(task, due date) lock and checks whether someone already acted on that
   due date (a double click, two people at once): then it only re-renders the messages;
2. re-reads the task and changes it through ``api_client`` (status completed, or the due
   date moved); a snooze is computed from the due date the button showed, so it can
   never be applied twice;
3. refreshes the reminder index (a snoozed task is pending again under its new due date,
   so the tick reminds it once more then), updates every posted copy of the reminder in
   place to say who did what, and re-publishes the clicker's App Home.

A failure (Rally down or refusing) is told to the clicker alone, and nothing else
changes, so the buttons still work for another try.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.exceptions import LockError
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from api_client import ActivityChanges, NotFoundError, RallyError, merge
from api_client.models import ActivityType, Status
from core.redis import worker_redis
from core.settings import Settings
from slack_ui.messages import escape
from slack_ui.tasks import (
    COMPLETE_ACTION,
    SNOOZE_HOUR_ACTION,
    TASK_ACTIONS,
    TaskCard,
    acted_reminder,
    outcome_line,
    tasks_message,
)
from workers import open_tasks
from workers.rally import rally_client
from workers.reminders.index import TaskIndex, due_epoch
from workers.slack import deliver, retry_handlers, user_tz, web_client
from workers.state import State

log = logging.getLogger(__name__)

SNOOZE_TOMORROW_AT = time(9, 0)
NOT_SHOWN = (
    ":no_entry: That button isn't on a task you were shown (a reminder in this channel, "
    "your `/rally tasks` or your Home), so nothing changed."
)
NOT_A_TASK = ":no_entry: Only a task can be completed or snoozed, so nothing changed."


def may_act(
    state: State,
    namespace: str | None,
    task_id: str,
    due: int,
    *,
    team: str,
    user: str,
    surface: str,
    channel: str | None,
    message_ts: str | None,
) -> bool:
    """Whether the clicker was shown this task where they clicked (see README, "Who may
    act on a reminder").

    A reminder's buttons work for anyone who can see that message: the click must come
    from a copy the app posted (channel and ts on record for that task and due date).
    ``/rally tasks`` and App Home show a person their own open tasks, so a click there
    must be on one of those.
    """
    if surface == "message":
        return (
            bool(channel and message_ts)
            and state.reminder_posts(task_id, due).get(str(channel)) == message_ts
        )
    if namespace is None:
        return False
    return task_id in open_tasks.open_task_ids(state.conn, namespace, team=team, user=user)


def user_zone(client: WebClient, state: State, team: str, user: str) -> ZoneInfo:
    """The user's Slack time zone (State's cache, else ``users.info``), UTC if unknown."""
    try:
        return ZoneInfo(user_tz(client, state, team, user) or "UTC")
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")


def snoozed_due(action: str, due: int, *, now: datetime, zone: ZoneInfo) -> datetime:
    """The new due date of a snooze.

    ``Snooze 1 hour``: an hour after the due date, or after now if it is already past.
    ``Snooze until tomorrow 9:00``: 9:00 tomorrow on the clicker's own calendar.
    """
    if action == SNOOZE_HOUR_ACTION:
        return datetime.fromtimestamp(max(due, int(now.timestamp())), UTC) + timedelta(hours=1)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, SNOOZE_TOMORROW_AT, tzinfo=zone).astimezone(UTC)


def _tell(
    response_url: str | None,
    client: WebClient,
    team: str,
    user: str,
    channel: str | None,
    text: str,
) -> None:
    """An ephemeral note to the clicker alone (response URL, else ephemeral, else DM)."""
    try:
        deliver(
            client, user=user, channel=channel, message={"text": text}, response_url=response_url
        )
    except Exception as exc:
        log.warning("event=tell_clicker_failed user=%s error=%s", user, type(exc).__name__)


def act_on_task(
    action: str,
    task_id: str,
    due: int,
    team: str,
    user: str,
    channel: str | None = None,
    message_ts: str | None = None,
    response_url: str | None = None,
    surface: str = "message",
) -> dict[str, Any]:
    """Complete or snooze one task from a Slack button, then update what people see.

    Args:
        action: ``task_complete``, ``task_snooze_hour`` or ``task_snooze_tomorrow``.
        task_id: The Rally activity id.
        due: The due epoch the clicked button was shown for.
        team: Slack team of the clicker.
        user: The clicker.
        channel: Channel of the message the button was in (``None`` in App Home).
        message_ts: That message's ts (a reminder to update in place).
        response_url: The interaction's response URL (to tell the clicker, or to replace
            their ephemeral ``/rally tasks`` list).
        surface: ``"message"`` (a reminder), ``"list"`` (ephemeral ``/rally tasks``) or
            ``"home"``.

    Returns:
        ``{"status": "done" | "already" | "busy" | "failed" | "gone", ...}``.
    """
    if action not in TASK_ACTIONS:
        raise ValueError(f"unknown task action {action!r}")
    settings = Settings()
    conn = worker_redis(settings.redis_url)
    state = State(conn)
    client = web_client(settings)
    namespace = open_tasks.namespace_of(settings)

    previous = state.get_task_action(task_id, due)
    double_click = previous is not None and previous.get("user") == user
    if not double_click and not may_act(
        state,
        namespace,
        task_id,
        due,
        team=team,
        user=user,
        surface=surface,
        channel=channel,
        message_ts=message_ts,
    ):
        log.warning(
            "event=task_action_refused task=%s user=%s surface=%s reason=not_shown",
            task_id,
            user,
            surface,
        )
        _tell(response_url, client, team, user, channel, NOT_SHOWN)
        return {"status": "refused"}
    if previous is not None:
        _show_outcome(client, state, settings, task_id, due, previous, channel, message_ts, surface)
        if previous["user"] != user:
            _tell(response_url, client, team, user, channel, outcome_line(previous) + " already.")
        open_tasks.publish_home(client, conn, settings, team=team, user=user)
        return {"status": "already", "by": previous["user"]}
    lock = state.task_lock(task_id, due)
    if not lock.acquire():
        log.info("event=task_action_busy task=%s due=%d user=%s", task_id, due, user)
        return {"status": "busy"}
    try:
        now = datetime.now(UTC)
        try:
            with rally_client(settings, use="actions") as rally:
                current = rally.get_activity(task_id)
                record: dict[str, Any] = {"action": action, "user": user, "at": now.isoformat()}
                if current.activity_type != ActivityType.TASK:
                    log.warning(
                        "event=task_action_refused task=%s user=%s reason=not_a_task type=%s",
                        task_id,
                        user,
                        current.activity_type.value,
                    )
                    _tell(response_url, client, team, user, channel, NOT_A_TASK)
                    return {"status": "refused"}
                if current.status == Status.COMPLETED and action == COMPLETE_ACTION:
                    updated = current  # completed elsewhere meanwhile: the click still stands
                elif current.status != Status.PENDING:
                    _tell(
                        response_url,
                        client,
                        team,
                        user,
                        channel,
                        f"*{_subject(current.subject)}* is no longer open in Rally, so it can't be snoozed.",
                    )
                    record = {"action": "gone", "user": user, "note": "No longer open in Rally"}
                    updated = current
                elif action == COMPLETE_ACTION:
                    # One PUT: the task was just read, so the merge needs no second GET.
                    updated = rally.update_activity(
                        task_id, merge(current, ActivityChanges(status=Status.COMPLETED))
                    )
                else:
                    base = due_epoch(current.due_date) if current.due_date else due
                    zone = user_zone(client, state, team, user)
                    new_due = snoozed_due(action, base, now=now, zone=zone)
                    updated = rally.update_activity(
                        task_id, merge(current, ActivityChanges(due_date=new_due))
                    )
                    record["new_due"] = due_epoch(new_due)
        except NotFoundError:
            if namespace:
                TaskIndex(conn, namespace).remove(task_id)
            record = {"action": "gone", "user": user, "note": "Deleted in Rally"}
            state.record_task_action(task_id, due, record)
            _show_outcome(
                client, state, settings, task_id, due, record, channel, message_ts, surface
            )
            _tell(response_url, client, team, user, channel, "That task was deleted in Rally.")
            return {"status": "gone"}
        except RallyError as exc:
            log.warning(
                "event=task_action_failed task=%s action=%s user=%s error=%s",
                task_id,
                action,
                user,
                type(exc).__name__,
            )
            verb = "complete" if action == COMPLETE_ACTION else "snooze"
            _tell(
                response_url,
                client,
                team,
                user,
                channel,
                f":warning: I couldn't {verb} that task: Rally didn't take it "
                f"({type(exc).__name__}). Nothing changed; the buttons still work, try again.",
            )
            return {"status": "failed", "error": type(exc).__name__}
        if namespace:
            TaskIndex(conn, namespace).apply(updated)
        state.record_task_action(task_id, due, record)
    finally:
        try:
            lock.release()
        except LockError:  # it outlived its timeout; whoever holds it now keeps it
            log.info("event=task_lock_expired task=%s due=%d", task_id, due)
    log.info(
        "event=task_action_done task=%s action=%s user=%s due=%d new_due=%s",
        task_id,
        action,
        user,
        due,
        record.get("new_due", ""),
    )
    _show_outcome(
        client,
        state,
        settings,
        task_id,
        due,
        record,
        channel,
        message_ts,
        surface,
        card=TaskCard(
            id=task_id,
            subject=updated.subject,
            due=due,
            priority=updated.priority.value if updated.priority else None,
            owner_id=updated.owner_id,
            deal_id=updated.deal_id,
            company_id=updated.company_id,
            contact_id=updated.contact_id,
        ),
    )
    if surface == "list" and response_url:
        _refresh_list(
            settings,
            conn,
            team,
            user,
            response_url,
            outcome_line(record) + f": *{_subject(updated.subject)}*",
        )
    open_tasks.publish_home(client, conn, settings, team=team, user=user)
    return {"status": "done", **{k: v for k, v in record.items() if k != "at"}}


def _subject(subject: str) -> str:
    return escape(subject)


def _show_outcome(
    client: WebClient,
    state: State,
    settings: Settings,
    task_id: str,
    due: int,
    record: dict[str, Any],
    channel: str | None,
    message_ts: str | None,
    surface: str,
    *,
    card: TaskCard | None = None,
) -> None:
    """Update every posted copy of the reminder (and the clicked message) in place."""
    copies = state.reminder_posts(task_id, due)
    if surface == "message" and channel and message_ts:
        copies.setdefault(channel, message_ts)
    if not copies:
        return
    if card is None:
        namespace = open_tasks.namespace_of(settings)
        fields = TaskIndex(state.conn, namespace).task(task_id) if namespace else None
        card = (
            TaskCard.from_fields({**fields, "due": due})
            if fields
            else TaskCard(task_id, "(task)", due)
        )
    owner_user = None
    if card.owner_id:
        mapped = state.user_for_owner(card.owner_id)
        owner_user = mapped[1] if mapped else None
    message = acted_reminder(card, record, app_url=settings.rally_app_url, owner_user=owner_user)
    for where, ts in copies.items():
        try:
            client.chat_update(channel=where, ts=ts, text=message["text"], blocks=message["blocks"])
        except Exception as exc:  # one deleted copy must not keep the others stale
            log.info(
                "event=reminder_update_failed task=%s channel=%s error=%s",
                task_id,
                where,
                type(exc).__name__,
            )


def _refresh_list(
    settings: Settings, conn: Any, team: str, user: str, response_url: str, notice: str
) -> None:
    """Replace the clicker's ephemeral ``/rally tasks`` list with a fresh first page."""
    namespace = open_tasks.namespace_of(settings)
    if namespace is None:
        return
    cards, total = open_tasks.open_tasks_page(conn, namespace, team=team, user=user)
    message = tasks_message(
        cards,
        offset=0,
        total=total,
        now=datetime.now(UTC),
        app_url=settings.rally_app_url,
        notice=notice,
    )
    try:
        WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers()).send(
            text=message["text"], blocks=message["blocks"], replace_original=True
        )
    except Exception as exc:
        log.info("event=tasks_list_refresh_failed user=%s error=%s", user, type(exc).__name__)
