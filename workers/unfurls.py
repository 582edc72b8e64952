"""The job behind link unfurls (SPEC §7): Rally links pasted in Slack, shown in place.

The bot hears ``link_shared``, keeps the links under ``RALLY_APP_URL`` and queues
:func:`unfurl_links`. The job reads each link with the sharer's credential (their own
key, else the workspace's connection) and answers ``chat.unfurl`` once for the message:

- an activity: a GET; one that does not exist, or belongs to another tenant (the API
  answers 404 to a key of another tenant), is left alone, so Slack shows the plain link;
- a deal, company or contact: its open tasks from the reminder index, soonest first
  (no API call; only tasks with a due date are in the index, and the unfurl says so).

A pending task's unfurl carries the reminder's Complete and Snooze buttons; the message is
noted (``State.record_unfurl``), so a click there is one the app showed, and
``workers.task_actions`` unfurls it again to say who did what.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from api_client import ActivityResponse, NotFoundError, RallyError, ValidationError
from core.redis import worker_redis
from core.settings import Settings
from core.store import Store
from slack_ui.messages import escape
from slack_ui.tasks import TaskCard, outcome_line
from slack_ui.unfurls import UNFURL_TASKS_MAX, activity_unfurl, parse_link, record_unfurl
from workers import open_tasks, workspace
from workers.rally import rally_client
from workers.records import names_for, record_pairs
from workers.reminders.index import TaskIndex, due_epoch
from workers.state import State

log = logging.getLogger(__name__)

MAX_LINKS = 5
"""Links unfurled per message; Slack itself sends a handful at most."""


def unfurl_links(
    team: str,
    user: str,
    links: list[str],
    channel: str | None = None,
    message_ts: str | None = None,
    unfurl_id: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """RQ job: unfurl the Rally links of one message.

    Args:
        team: The workspace.
        user: Who shared the links (Rally is read as them).
        links: The URLs, as Slack sent them (the bot kept those under ``RALLY_APP_URL``).
        channel: The message's channel, and ``message_ts`` its ts (a posted message).
        unfurl_id: With ``source``, the message still in someone's composer (Slack's
            preview before sending): answered by ``unfurl_id``, and its buttons not noted.

    Returns:
        ``{"status": "unfurled" | "nothing" | "not_connected" | "failed", "links": n}``.
    """
    settings = Settings()
    try:
        as_whom = workspace.credential(settings, team, user)
    except workspace.NotConnected:
        log.info("event=unfurl_skipped team=%s reason=not_connected", team)
        return {"status": "not_connected", "links": 0}
    state = State(worker_redis(settings.redis_url))
    store = workspace.store_of(settings)
    namespace = open_tasks.namespace_of(settings, team)
    index = TaskIndex(state.conn, namespace) if namespace else None
    unfurls: dict[str, dict[str, Any]] = {}
    buttons: list[tuple[str, int, str]] = []
    now = datetime.now(UTC)
    with rally_client(as_whom, use="actions") as rally:
        for url in links[:MAX_LINKS]:
            parsed = parse_link(url, settings.rally_app_url)
            if parsed is None or url in unfurls:
                continue
            kind, record_id = parsed
            if kind != "activity":
                if index is not None:
                    unfurls[url], shown = _record(
                        index, kind, record_id, now, settings.rally_app_url, store=store, team=team
                    )
                    buttons += [(task_id, due, url) for task_id, due in shown]
                continue
            try:
                activity = rally.get_activity(record_id)
            except (NotFoundError, ValidationError):
                log.info(
                    "event=unfurl_skipped team=%s activity=%s reason=not_found", team, record_id
                )
                continue
            except RallyError as exc:
                log.warning(
                    "event=unfurl_failed team=%s activity=%s error=%s",
                    team,
                    record_id,
                    type(exc).__name__,
                )
                continue
            unfurl, due = _activity(activity, state, store, team, settings.rally_app_url)
            unfurls[url] = unfurl
            if due is not None:
                buttons.append((activity.id, due, url))
    if not unfurls:
        return {"status": "nothing", "links": 0}
    slack = workspace.slack_client(settings, team)
    if not _send(
        slack, unfurls, channel=channel, ts=message_ts, unfurl_id=unfurl_id, source=source
    ):
        return {"status": "failed", "links": 0}
    if channel and message_ts and not unfurl_id:
        for task_id, due, url in buttons:
            state.record_unfurl(task_id, due, channel, message_ts, url)
    log.info("event=unfurled team=%s channel=%s links=%d", team, channel, len(unfurls))
    return {"status": "unfurled", "links": len(unfurls)}


def _activity(
    activity: ActivityResponse, state: State, store: Store, team: str, app_url: str | None
) -> tuple[dict[str, Any], int | None]:
    """The activity's unfurl, and the due epoch its buttons act on (``None``: no buttons)."""
    fields = activity.model_dump(by_alias=True, mode="json", exclude_none=True)
    owner_user = owner_user_of(store, team, activity.owner_id)
    due = due_epoch(activity.due_date) if activity.due_date else None
    acted = state.get_task_action(activity.id, due) if due is not None else None
    names = names_for(store, team, record_pairs(fields))
    unfurl = activity_unfurl(
        fields, app_url=app_url, owner_user=owner_user, acted=acted, names=names
    )
    has_buttons = acted is None and any(
        block.get("type") == "actions" for block in unfurl["blocks"]
    )
    return unfurl, due if has_buttons else None


def _record(
    index: TaskIndex,
    kind: str,
    record_id: str,
    now: datetime,
    app_url: str | None,
    *,
    notice: str | None = None,
    store: Store | None = None,
    team: str | None = None,
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """A record's unfurl, and the (task, due) pairs whose buttons it shows."""
    pairs = index.record_tasks(kind, record_id)
    due_of = dict(pairs[:UNFURL_TASKS_MAX])
    shown = [f for f in index.tasks(list(due_of)) if f.get("id") in due_of]
    cards = [TaskCard.from_fields({**fields, "due": due_of[fields["id"]]}) for fields in shown]
    names = names_for(store, team, [(kind, record_id), *record_pairs(*cards)]) if store else {}
    unfurl = record_unfurl(
        kind,
        record_id,
        cards,
        total=len(pairs),
        now=now,
        app_url=app_url,
        notice=notice,
        names=names,
    )
    return unfurl, [(card.id, card.due) for card in cards]


def owner_user_of(store: Store, team: str, owner_id: str | None) -> str | None:
    """The Slack user of ``team`` mapped to a Rally owner, if any."""
    if not owner_id:
        return None
    mapped = store.user_for_owner(team, owner_id)
    return mapped[1] if mapped else None


def _send(
    slack: WebClient,
    unfurls: dict[str, dict[str, Any]],
    *,
    channel: str | None,
    ts: str | None,
    unfurl_id: str | None,
    source: str | None,
) -> bool:
    try:
        if unfurl_id and source:
            slack.chat_unfurl(unfurl_id=unfurl_id, source=source, unfurls=unfurls)
        elif channel and ts:
            slack.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
        else:
            return False
    except SlackApiError as exc:
        # The message may be gone, or Slack refuses this unfurl: nothing to retry.
        log.warning("event=unfurl_refused error=%s", exc.response.get("error"))
        return False
    return True


def reunfurl_task(
    slack: WebClient,
    copies: dict[tuple[str, str], str],
    task: dict[str, Any],
    acted: dict[str, Any],
    *,
    owner_user: str | None,
    app_url: str | None,
    index: TaskIndex | None = None,
    store: Store | None = None,
    team: str | None = None,
) -> None:
    """Unfurl a task again in every message that showed its buttons: who did what (a
    deal's, company's or contact's list is drawn again from the index, saying so on top)."""
    names = names_for(store, team, record_pairs(task)) if store else {}
    unfurl = activity_unfurl(task, app_url=app_url, owner_user=owner_user, acted=acted, names=names)
    for (channel, ts), url in copies.items():
        shown = unfurl
        parsed = parse_link(url, app_url)
        if parsed is not None and parsed[0] != "activity":
            if index is None:
                continue
            notice = f"{outcome_line(acted)}: *{escape(str(task.get('subject') or 'a task'))}*"
            shown, _ = _record(
                index,
                parsed[0],
                parsed[1],
                datetime.now(UTC),
                app_url,
                notice=notice,
                store=store,
                team=team,
            )
        try:
            slack.chat_unfurl(channel=channel, ts=ts, unfurls={url: shown})
        except Exception as exc:  # one deleted message must not keep the others stale
            log.info(
                "event=unfurl_update_failed task=%s channel=%s error=%s",
                task.get("id"),
                channel,
                type(exc).__name__,
            )
