"""Complete / Snooze buttons (reminders, digests, unfurls, ``/rally tasks``, App Home) and the tasks "More" button.

A click is acknowledged at once and queued (``workers.task_actions.act_on_task`` does the
API call, checks that the clicker could see that task where they clicked, and updates
the messages); the only answers from here are a value the app never wrote, or a queue
that cannot take the click.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import redis
from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.envelope import Malformed
from bot.services import services_of
from slack_ui.ids import DIGEST_ROW_BLOCK_PREFIX
from slack_ui.tasks import parse_button_value, tasks_message
from workers import queues
from workers.open_tasks import namespace_of, open_tasks_page
from workers.records import names_for, record_pairs
from workers.slack import tell_user

log = logging.getLogger(__name__)

QUEUE_DOWN = "Rally couldn't take that click right now (its queue is unreachable). Nothing changed; try again in a moment."
MAX_OFFSET = 10_000
OFFSET_RE = re.compile(r"[0-9]{1,5}\Z")


def _surface(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(surface, channel, message ts) of the clicked button."""
    container = body.get("container") or {}
    if container.get("type") == "view":
        return "home", None, None
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if container.get("is_ephemeral"):
        return "list", channel, None
    if container.get("is_app_unfurl"):
        return "unfurl", channel, container.get("message_ts")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if str(action.get("block_id") or "").startswith(DIGEST_ROW_BLOCK_PREFIX):
        return "digest", channel, ts
    return "message", channel, container.get("message_ts") or (body.get("message") or {}).get("ts")


def handle_task_action(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``task_complete`` / ``task_snooze_hour`` / ``task_snooze_tomorrow``: queue the change."""
    ack()
    services = services_of(context)
    team, user = context.team_id, context.user_id
    if not team or not user:
        raise Malformed("no team or user")
    try:
        task_id, due = parse_button_value(action.get("value"))
    except ValueError:
        raise Malformed("that button isn't one this app showed") from None
    surface, channel, message_ts = _surface(body, action)
    try:
        queues.enqueue_task_action(
            services.conn,
            action=action["action_id"],
            task_id=task_id,
            due=due,
            team=team,
            user=user,
            channel=channel,
            message_ts=message_ts,
            response_url=body.get("response_url"),
            surface=surface,
        )
    except redis.RedisError as exc:
        log.error(
            "event=task_action_enqueue_failed user=%s task=%s error=%s",
            user,
            task_id,
            type(exc).__name__,
        )
        tell_user(client, body, QUEUE_DOWN)


def handle_tasks_more(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """``tasks_more``: replace the ephemeral list with the next page."""
    ack()
    if not body.get("response_url"):
        raise Malformed("no list to page")
    services = services_of(context)
    team, user = context.team_id, context.user_id
    if not team or not user:
        raise Malformed("no team or user")
    value = action.get("value")
    if not isinstance(value, str) or not OFFSET_RE.match(value) or int(value) > MAX_OFFSET:
        raise Malformed("not a page of your tasks")
    offset = int(value)
    namespace = namespace_of(services.settings, team)
    if namespace is None:
        return
    try:
        cards, total = open_tasks_page(
            services.conn, services.store, namespace, team=team, user=user, offset=offset
        )
        if offset >= total and total:  # the list shrank since that page was shown
            offset = 0
            cards, total = open_tasks_page(
                services.conn, services.store, namespace, team=team, user=user
            )
    except redis.RedisError:
        respond(text=QUEUE_DOWN, response_type="ephemeral", replace_original=False)
        return
    message = tasks_message(
        cards,
        offset=offset,
        total=total,
        now=datetime.now(UTC),
        app_url=services.settings.rally_app_url,
        names=names_for(services.store, team, record_pairs(*cards)),
    )
    respond(**message.to_dict(), replace_original=True)
