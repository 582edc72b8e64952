"""The Edit form, submitted: validated in place like a new activity, then a PUT in a job."""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from api_client.models import GUID_RE
from bot.envelope import Malformed
from bot.forms import FormErrors, read_values, to_request
from bot.listeners.actions.edit import NOT_YOURS, may_change
from bot.services import services_of
from slack_ui import ids
from slack_ui.modals import read_metadata
from workers import queues

log = logging.getLogger(__name__)

QUEUE_DOWN = "Rally couldn't queue this right now — your changes are kept, try Save again."


def handle_edit_submission(
    ack: Ack, view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``edit_activity``: the changed fields, with the same rules as logging."""
    team, user = context.team_id, context.user_id
    meta = read_metadata(view)
    activity_id, kind = meta.get("activity_id"), meta.get("type")
    if not team or not user or not isinstance(activity_id, str) or not GUID_RE.match(activity_id):
        raise Malformed("not an edit this app opened")
    if kind not in ids.ACTIVITY_TYPES:
        raise Malformed("not an activity type")
    services = services_of(context)
    if not may_change(services, client, team, user, activity_id):
        ack(response_action="errors", errors={ids.SUBJECT: NOT_YOURS.format(verb="edit")[:150]})
        return
    try:
        request = to_request(kind, read_values(view))
    except FormErrors as exc:
        ack(response_action="errors", errors=exc.errors)
        return
    # Fields the form left out because they were too long to show: kept, not cleared.
    kept = (
        [f for f in meta.get("kept") or [] if f == "body"]
        if isinstance(meta.get("kept"), list)
        else []
    )
    try:
        queues.enqueue_edit(
            services.conn,
            team=team,
            user=user,
            activity_id=activity_id,
            request=request,
            kept=kept,
            channel=meta.get("channel"),
            message_ts=meta.get("message_ts"),
            response_url=meta.get("response_url"),
        )
    except redis.RedisError:
        ack(response_action="errors", errors={ids.SUBJECT: QUEUE_DOWN})
        return
    log.info("event=edit_submitted team=%s user=%s activity=%s", team, user, activity_id)
    ack()
