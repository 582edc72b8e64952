"""Submission of "Log thread as note": validate in place, enqueue the create, close.

The same path as the log modals (``log_activity``): the modal closes only once the job
is queued, and anything wrong stays in the modal. The job is told where the thread is
(channel and ts, from the modal's metadata, which only the app writes), never its text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot.envelope import SLACK_ID_PATTERN, Malformed
from bot.forms import FormErrors, read_values, to_request
from bot.listeners.shortcuts.log import TS_RE
from bot.listeners.views.log_activity import QUEUE_DOWN_ERROR
from bot.services import QueueUnavailable, services_of, submission_id_for_view
from slack_ui import ids
from slack_ui.modals import read_metadata

log = logging.getLogger(__name__)

LOST_THREAD = "This form lost track of its thread; close it and run the shortcut again."
_CHANNEL_RE = re.compile(SLACK_ID_PATTERN)


def _thread_of(metadata: dict[str, Any]) -> dict[str, str] | None:
    channel, ts = metadata.get("channel"), metadata.get("thread_ts")
    if not isinstance(channel, str) or not _CHANNEL_RE.fullmatch(channel):
        return None
    if not isinstance(ts, str) or not TS_RE.match(ts):
        return None
    return {"channel": channel, "ts": ts}


def handle_thread_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """``view_submission`` of the thread note modal."""
    services = services_of(context)
    team, user = context.team_id, context.user_id
    if not team or not user:
        raise Malformed("no team or user")
    metadata = read_metadata(view)
    thread = _thread_of(metadata)
    if thread is None:
        ack(response_action="errors", errors={ids.SUBJECT: LOST_THREAD})
        return
    try:
        values = read_values(view)
        owner = services.store.owner(team, user)
        request = to_request("note", values, owner_id=owner)
    except FormErrors as exc:
        ack(response_action="errors", errors=exc.errors)
        return
    except (redis.RedisError, SQLAlchemyError):
        ack(response_action="errors", errors={ids.SUBJECT: QUEUE_DOWN_ERROR})
        return
    submission_id = submission_id_for_view(view)
    response_url = metadata.get("response_url")
    try:
        queued = services.submit(
            submission_id=submission_id,
            activity_type="note",
            request=request,
            values=values,
            team=team,
            user=user,
            channel=thread["channel"],
            response_url=response_url if isinstance(response_url, str) and response_url else None,
            source="thread",
            thread=thread,
        )
    except QueueUnavailable:
        ack(response_action="errors", errors={ids.SUBJECT: QUEUE_DOWN_ERROR})
        return
    log.info(
        "event=thread_submitted submission=%s team=%s user=%s channel=%s new=%s",
        submission_id,
        team,
        user,
        thread["channel"],
        queued,
    )
    ack()
