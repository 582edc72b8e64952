"""The job behind Complete / Snooze 1 hour / Snooze until tomorrow 9:00.

``act_on_task`` is queued by the bot on ``rally-actions`` the moment a button is
clicked (a reminder in a channel, ``/rally tasks``, or the App Home). Each click becomes
one ``_Click`` that the steps share. The job:

1. checks the clicker was shown the task there (``_was_shown``) and whether someone
   already acted on that due date (a double click, two people at once): then it only
   re-renders the messages (``_show_already_done``);
2. under a per-(task, due date) redis-py lock, re-reads the task and changes it through
   ``api_client`` (``_act_in_rally``, ``_change``: status completed, or the due date
   moved); a snooze is computed from the due date the button showed, so it can never be
   applied twice;
3. refreshes the reminder index (a snoozed task is pending again under its new due date,
   so the tick reminds it once more then), updates every posted copy of the reminder in
   place to say who did what, and re-publishes the clicker's App Home (``_show_done``).

A failure (Rally down or refusing) is told to the clicker alone, and nothing else
changes, so the buttons still work for another try.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.exceptions import LockError
from redis.lock import Lock
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from api_client import (
    ActivityChanges,
    ActivityResponse,
    NotFoundError,
    RallyClient,
    RallyError,
    merge,
)
from api_client.models import ActivityType, Status
from core.redis import worker_redis
from core.settings import Settings
from core.store import Store
from slack_ui.ids import COMPLETE_ACTION, SNOOZE_HOUR_ACTION, TASK_ACTIONS
from slack_ui.kit import SlackMessage
from slack_ui.messages import escape
from slack_ui.tasks import TaskCard, acted_reminder, outcome_line, tasks_message
from workers import digests, open_tasks, unfurls, workspace
from workers.rally import rally_client
from workers.records import names_for, record_pairs
from workers.reminders.index import TaskIndex, due_epoch
from workers.slack import deliver, retry_handlers, user_tz
from workers.state import State

log = logging.getLogger(__name__)

SNOOZE_TOMORROW_AT = time(9, 0)
_SURFACES = {
    "message": "reminder",
    "digest": "digest",
    "unfurl": "unfurl",
    "list": "tasks_list",
    "home": "home",
}
"""Where a click came from, as the audit trail names it."""
NOT_SHOWN = (
    ":no_entry: That button isn't on a task you were shown (a reminder, a digest or an "
    "unfurled link in this channel, your `/rally tasks` or your Home), so nothing changed."
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
    store: Store,
) -> bool:
    """Whether the clicker was shown this task where they clicked (see README, "Who may
    act on a reminder").

    A reminder's buttons work for anyone who can see that message: the click must come
    from a copy the app posted (channel and ts on record for that task and due date). The
    same holds for a pasted link the app unfurled with buttons.
    ``/rally tasks`` and App Home show a person their own open tasks, so a click there
    must be on one of those.
    """
    if surface == "message":
        return (
            bool(channel and message_ts)
            and state.reminder_posts(task_id, due).get(str(channel)) == message_ts
        )
    if surface == "unfurl":
        return bool(channel and message_ts) and (str(channel), str(message_ts)) in state.unfurls(
            task_id, due
        )
    if surface == "digest":
        return bool(channel and message_ts) and digests.digest_showed(
            state.digest_shown(team, str(channel), str(message_ts)), task_id, due
        )
    if namespace is None:
        return False
    return task_id in open_tasks.open_task_ids(state.conn, store, namespace, team=team, user=user)


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
            client,
            user=user,
            channel=channel,
            message=SlackMessage(text=text),
            response_url=response_url,
        )
    except Exception as exc:
        log.warning("event=tell_clicker_failed user=%s error=%s", user, type(exc).__name__)


@dataclass(slots=True)
class _Click:
    """One Complete/Snooze click, and what the steps of acting on it share.

    Attributes:
        index: The configured tenant's task index, ``None`` when Rally isn't configured.
        now: When the job took the click; a snooze counts from it.
    """

    action: str
    task_id: str
    due: int
    team: str
    user: str
    channel: str | None
    message_ts: str | None
    response_url: str | None
    surface: str
    settings: Settings
    state: State
    store: Store
    slack: WebClient
    index: TaskIndex | None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, settings: Settings, **click: Any) -> _Click:
        state = State(worker_redis(settings.redis_url))
        # The index is the workspace's tenant's, whoever clicks; Rally is called as the
        # clicker when they connected their own key (see _act_in_rally).
        namespace = open_tasks.namespace_of(settings, click["team"])
        index = TaskIndex(state.conn, namespace) if namespace else None
        return cls(
            settings=settings,
            state=state,
            store=workspace.store_of(settings),
            slack=workspace.slack_client(settings, click["team"]),
            index=index,
            **click,
        )

    def tell(self, text: str) -> None:
        _tell(self.response_url, self.slack, self.team, self.user, self.channel, text)


@dataclass(frozen=True, slots=True)
class _Acted:
    """What a click left in Rally: the task as it is now, and who did what (``record``)."""

    task: ActivityResponse
    record: dict[str, Any]


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
        surface: ``"message"`` (a reminder), ``"unfurl"`` (a Rally link the app
            unfurled), ``"list"`` (ephemeral ``/rally tasks``) or ``"home"``.

    Returns:
        ``{"status": "done" | "already" | "busy" | "failed" | "gone", ...}``.
    """
    if action not in TASK_ACTIONS:
        raise ValueError(f"unknown task action {action!r}")
    click = _Click.from_settings(
        Settings(),
        action=action,
        task_id=task_id,
        due=due,
        team=team,
        user=user,
        channel=channel,
        message_ts=message_ts,
        response_url=response_url,
        surface=surface,
    )
    previous = click.state.get_task_action(task_id, due)
    if not _was_shown(click, previous):
        return _refuse_not_shown(click)
    if previous is not None:
        return _show_already_done(click, previous)
    lock = click.state.task_lock(task_id, due)
    if not lock.acquire():
        log.info("event=task_action_busy task=%s due=%d user=%s", task_id, due, user)
        return {"status": "busy"}
    try:
        outcome = _act_in_rally(click)
    finally:
        _release(lock, click)
    if isinstance(outcome, _Acted):
        return _show_done(click, outcome)
    return outcome


def _was_shown(click: _Click, previous: dict[str, Any] | None) -> bool:
    """May the clicker act here? A second click by whoever acted first always may."""
    if previous is not None and previous.get("user") == click.user:
        return True
    return may_act(
        click.state,
        click.index.namespace if click.index else None,
        click.task_id,
        click.due,
        store=click.store,
        team=click.team,
        user=click.user,
        surface=click.surface,
        channel=click.channel,
        message_ts=click.message_ts,
    )


def _refuse_not_shown(click: _Click) -> dict[str, Any]:
    log.warning(
        "event=task_action_refused task=%s user=%s surface=%s reason=not_shown",
        click.task_id,
        click.user,
        click.surface,
    )
    click.tell(NOT_SHOWN)
    return {"status": "refused"}


def _show_already_done(click: _Click, previous: dict[str, Any]) -> dict[str, Any]:
    """Someone acted on this due date already (a double click, two people at once)."""
    _show_outcome(click, previous)
    if previous["user"] != click.user:
        click.tell(outcome_line(previous) + " already.")
    _publish_home(click)
    return {"status": "already", "by": previous["user"]}


def _act_in_rally(click: _Click) -> _Acted | dict[str, Any]:
    """Re-read the task, change it, and record that in the index and state (under the lock).

    Returns:
        What was done, or the job's result when it ends here (refused, gone, failed).
    """
    try:
        as_whom = workspace.credential(click.settings, click.team, click.user)
    except workspace.NotConnected:
        click.tell(":warning: This workspace isn't connected to Rally, so nothing changed.")
        return {"status": "failed", "error": "NotConnected"}
    try:
        with rally_client(as_whom, use="actions") as rally:
            current = rally.get_activity(click.task_id)
            if current.activity_type != ActivityType.TASK:
                return _refuse_not_a_task(click, current)
            acted = _change(click, rally, current)
    except NotFoundError:
        return _deleted_in_rally(click)
    except RallyError as exc:
        return _failed(click, exc)
    if click.index is not None:
        click.index.apply(acted.task)
    click.state.record_task_action(click.task_id, click.due, acted.record)
    if acted.record.get("action") in TASK_ACTIONS:
        verb = "completed" if click.action == COMPLETE_ACTION else "snoozed"
        click.store.audit(
            click.team,
            click.user,
            verb,
            surface=_SURFACES.get(click.surface, click.surface),
            activity_id=click.task_id,
            **({"new_due": acted.record["new_due"]} if "new_due" in acted.record else {}),
        )
    return acted


def _change(click: _Click, rally: RallyClient, current: ActivityResponse) -> _Acted:
    """Complete or snooze ``current`` in Rally (or leave it, when that's moot now)."""
    record: dict[str, Any] = {
        "action": click.action,
        "user": click.user,
        "at": click.now.isoformat(),
    }
    if current.status == Status.COMPLETED and click.action == COMPLETE_ACTION:
        return _Acted(current, record)  # completed elsewhere meanwhile: the click still stands
    if current.status != Status.PENDING:
        click.tell(
            f"*{_subject(current.subject)}* is no longer open in Rally, so it can't be snoozed."
        )
        return _Acted(
            current, {"action": "gone", "user": click.user, "note": "No longer open in Rally"}
        )
    if click.action == COMPLETE_ACTION:
        # One PUT: the task was just read, so the merge needs no second GET.
        changes = ActivityChanges(status=Status.COMPLETED)
        return _Acted(rally.update_activity(click.task_id, merge(current, changes)), record)
    base = due_epoch(current.due_date) if current.due_date else click.due
    zone = user_zone(click.slack, click.state, click.team, click.user)
    new_due = snoozed_due(click.action, base, now=click.now, zone=zone)
    updated = rally.update_activity(
        click.task_id, merge(current, ActivityChanges(due_date=new_due))
    )
    return _Acted(updated, {**record, "new_due": due_epoch(new_due)})


def _refuse_not_a_task(click: _Click, current: ActivityResponse) -> dict[str, Any]:
    log.warning(
        "event=task_action_refused task=%s user=%s reason=not_a_task type=%s",
        click.task_id,
        click.user,
        current.activity_type.value,
    )
    click.tell(NOT_A_TASK)
    return {"status": "refused"}


def _deleted_in_rally(click: _Click) -> dict[str, Any]:
    if click.index is not None:
        click.index.remove(click.task_id)
    record = {"action": "gone", "user": click.user, "note": "Deleted in Rally"}
    click.state.record_task_action(click.task_id, click.due, record)
    _show_outcome(click, record)
    click.tell("That task was deleted in Rally.")
    return {"status": "gone"}


def _failed(click: _Click, exc: RallyError) -> dict[str, Any]:
    """Rally down or refusing: the clicker alone hears, and the buttons still work."""
    log.warning(
        "event=task_action_failed task=%s action=%s user=%s error=%s",
        click.task_id,
        click.action,
        click.user,
        type(exc).__name__,
    )
    verb = "complete" if click.action == COMPLETE_ACTION else "snooze"
    click.tell(
        f":warning: I couldn't {verb} that task: Rally didn't take it "
        f"({type(exc).__name__}). Nothing changed; the buttons still work, try again."
    )
    return {"status": "failed", "error": type(exc).__name__}


def _release(lock: Lock, click: _Click) -> None:
    try:
        lock.release()
    except LockError:  # it outlived its timeout; whoever holds it now keeps it
        log.info("event=task_lock_expired task=%s due=%d", click.task_id, click.due)


def _show_done(click: _Click, acted: _Acted) -> dict[str, Any]:
    """Tell everyone who can see the task what was done: the reminders, the list, Home."""
    record, task = acted.record, acted.task
    log.info(
        "event=task_action_done task=%s action=%s user=%s due=%d new_due=%s",
        click.task_id,
        click.action,
        click.user,
        click.due,
        record.get("new_due", ""),
    )
    _show_outcome(click, record, card=_card(click, task), task=task)
    if click.surface == "list" and click.response_url:
        _refresh_list(click, outcome_line(record) + f": *{_subject(task.subject)}*")
    _publish_home(click)
    return {"status": "done", **{k: v for k, v in record.items() if k != "at"}}


def _card(click: _Click, task: ActivityResponse) -> TaskCard:
    return TaskCard(
        id=click.task_id,
        subject=task.subject,
        due=click.due,
        priority=task.priority.value if task.priority else None,
        owner_id=task.owner_id,
        deal_id=task.deal_id,
        company_id=task.company_id,
        contact_id=task.contact_id,
    )


def _subject(subject: str) -> str:
    return escape(subject)


def _publish_home(click: _Click) -> None:
    open_tasks.publish_home(
        click.slack, click.state.conn, click.settings, team=click.team, user=click.user
    )


def _show_outcome(
    click: _Click,
    record: dict[str, Any],
    *,
    card: TaskCard | None = None,
    task: ActivityResponse | None = None,
) -> None:
    """Update every posted copy of the reminder, every unfurl of the task, and the clicked
    message, in place."""
    if card is None:
        fields = click.index.task(click.task_id) if click.index else None
        card = (
            TaskCard.from_fields({**fields, "due": click.due})
            if fields
            else TaskCard(click.task_id, "(task)", click.due)
        )
    owner_user = unfurls.owner_user_of(click.store, click.team, card.owner_id)
    _update_reminders(click, record, card, owner_user)
    copies = click.state.unfurls(click.task_id, click.due)
    if copies:
        shown = (
            task.model_dump(by_alias=True, mode="json", exclude_none=True)
            if task is not None
            else _card_fields(card, record)
        )
        unfurls.reunfurl_task(
            click.slack,
            copies,
            shown,
            record,
            owner_user=owner_user,
            app_url=click.settings.rally_app_url,
            index=click.index,
            store=click.store,
            team=click.team,
        )
    if click.surface == "digest" and click.channel and click.message_ts:
        digests.redraw_digest(
            click.slack,
            click.state,
            team=click.team,
            channel=click.channel,
            ts=click.message_ts,
            app_url=click.settings.rally_app_url,
            store=click.store,
        )


def _card_fields(card: TaskCard, record: dict[str, Any]) -> dict[str, Any]:
    """Wire-named fields of a task known only from the index (for its unfurl)."""
    fields: dict[str, Any] = {
        "id": card.id,
        "activityType": "task",
        "subject": card.subject,
        "status": "completed" if record.get("action") == COMPLETE_ACTION else "pending",
        "dueDate": datetime.fromtimestamp(card.due, UTC).isoformat().replace("+00:00", "Z"),
        "priority": card.priority,
        "ownerId": card.owner_id,
        "dealId": card.deal_id,
        "companyId": card.company_id,
        "contactId": card.contact_id,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _update_reminders(
    click: _Click, record: dict[str, Any], card: TaskCard, owner_user: str | None
) -> None:
    copies = click.state.reminder_posts(click.task_id, click.due)
    if click.surface == "message" and click.channel and click.message_ts:
        copies.setdefault(click.channel, click.message_ts)
    if not copies:
        return
    message = acted_reminder(
        card,
        record,
        app_url=click.settings.rally_app_url,
        owner_user=owner_user,
        names=names_for(click.store, click.team, record_pairs(card)),
    ).to_dict()
    for where, ts in copies.items():
        try:
            click.slack.chat_update(channel=where, ts=ts, **message)
        except Exception as exc:  # one deleted copy must not keep the others stale
            log.info(
                "event=reminder_update_failed task=%s channel=%s error=%s",
                click.task_id,
                where,
                type(exc).__name__,
            )


def _refresh_list(click: _Click, notice: str) -> None:
    """Replace the clicker's ephemeral ``/rally tasks`` list with a fresh first page."""
    if click.index is None or click.response_url is None:
        return
    cards, total = open_tasks.open_tasks_page(
        click.state.conn, click.store, click.index.namespace, team=click.team, user=click.user
    )
    message = tasks_message(
        cards,
        offset=0,
        total=total,
        now=datetime.now(UTC),
        app_url=click.settings.rally_app_url,
        notice=notice,
        names=names_for(click.store, click.team, record_pairs(*cards)),
    )
    try:
        WebhookClient(click.response_url, timeout=10, retry_handlers=retry_handlers()).send(
            **message.to_dict(), replace_original=True
        )
    except Exception as exc:
        log.info("event=tasks_list_refresh_failed user=%s error=%s", click.user, type(exc).__name__)
