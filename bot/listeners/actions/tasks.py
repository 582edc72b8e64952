"""Complete / Snooze buttons (reminders, ``/rally tasks``, App Home) and the tasks "More" button.

A click is acknowledged at once and queued (``workers.task_actions.act_on_task`` does the
API call and updates the messages); the only answer from here is when it can't be queued.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import redis

from bot.services import services_of
from workers import queues
from workers.open_tasks import namespace_of, open_tasks_page
from workers.task_blocks import parse_button_value, tasks_message

log = logging.getLogger(__name__)

QUEUE_DOWN = "Rally couldn't take that click right now (its queue is unreachable). Nothing changed; try again in a moment."


def _surface(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(surface, channel, message ts) of the clicked button."""
    container = body.get("container") or {}
    if container.get("type") == "view":
        return "home", None, None
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    if container.get("is_ephemeral"):
        return "list", channel, None
    return "message", channel, container.get("message_ts") or (body.get("message") or {}).get("ts")


def handle_task_action(
    ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any, respond: Any
) -> None:
    """``task_complete`` / ``task_snooze_hour`` / ``task_snooze_tomorrow``: queue the change."""
    ack()
    services = services_of(context)
    user = body["user"]["id"]
    team = (body.get("team") or {}).get("id") or body["user"].get("team_id") or ""
    try:
        task_id, due = parse_button_value(str(action.get("value") or ""))
    except ValueError:
        log.warning("event=bad_task_button user=%s value=%r", user, action.get("value"))
        return
    surface, channel, message_ts = _surface(body)
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
        if body.get("response_url"):
            respond(text=QUEUE_DOWN, response_type="ephemeral", replace_original=False)


def handle_tasks_more(
    ack: Any, body: dict[str, Any], action: dict[str, Any], context: Any, respond: Any
) -> None:
    """``tasks_more``: replace the ephemeral list with the next page."""
    ack()
    services = services_of(context)
    user = body["user"]["id"]
    team = (body.get("team") or {}).get("id") or ""
    namespace = namespace_of(services.settings)
    try:
        offset = max(int(action.get("value") or 0), 0)
    except ValueError:
        offset = 0
    if namespace is None:
        return
    try:
        cards, total = open_tasks_page(
            services.conn, namespace, team=team, user=user, offset=offset
        )
        if offset >= total and total:  # the list shrank since that page was shown
            offset = 0
            cards, total = open_tasks_page(services.conn, namespace, team=team, user=user)
    except redis.RedisError:
        respond(text=QUEUE_DOWN, response_type="ephemeral", replace_original=False)
        return
    message = tasks_message(
        cards,
        offset=offset,
        total=total,
        now=datetime.now(UTC),
        app_url=services.settings.rally_app_url,
    )
    respond(text=message["text"], blocks=message["blocks"], replace_original=True)
