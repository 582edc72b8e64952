"""Submissions of the log modals: validate in place, enqueue, close.

Order matters for Slack's 3 seconds and for the user's input: the modal only closes
(plain ``ack()``) once the job is safely queued; any problem, including a Redis outage,
is answered with ``response_action: errors`` so the modal stays open with everything
the user typed.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from sqlalchemy.exc import SQLAlchemyError

from bot.envelope import Malformed
from bot.forms import FormErrors, read_values, to_request
from bot.services import QueueUnavailable, services_of, submission_id_for_view
from slack_ui import ids
from slack_ui.modals import read_metadata

log = logging.getLogger(__name__)

QUEUE_DOWN_ERROR = "Rally couldn't queue this right now — your input is kept, try Submit again."
TYPE_OF_VIEW = {callback_id: kind for kind, callback_id in ids.LOG_VIEWS.items()}


def handle_log_submission(ack: Ack, view: dict[str, Any], context: BoltContext) -> None:
    """``view_submission`` of any of the four log modals."""
    metadata = read_metadata(view)
    submit_log_form(
        ack,
        view,
        context,
        kind=TYPE_OF_VIEW[view["callback_id"]],
        channel=text_or_none(metadata.get("channel")),
        response_url=text_or_none(metadata.get("response_url")),
        source="modal",
    )


def submit_log_form(
    ack: Ack,
    view: dict[str, Any],
    context: BoltContext,
    *,
    kind: str,
    channel: str | None,
    response_url: str | None,
    source: str,
    **extra: Any,
) -> None:
    """Validate a log form's values in place, queue the create, then close the modal.

    ``extra`` goes to the submission as it is (``thread`` for a thread note).
    """
    services = services_of(context)
    team, user = context.team_id, context.user_id
    if not team or not user:
        raise Malformed("no team or user")
    try:
        values = read_values(view)
        owner = services.store.owner(team, user)
        request = to_request(kind, values, owner_id=owner)
    except FormErrors as exc:
        ack(response_action="errors", errors=exc.errors)
        return
    except (redis.RedisError, SQLAlchemyError):
        ack(response_action="errors", errors={ids.SUBJECT: QUEUE_DOWN_ERROR})
        return
    submission_id = submission_id_for_view(view)
    try:
        queued = services.submit(
            submission_id=submission_id,
            activity_type=kind,
            request=request,
            values=values,
            team=team,
            user=user,
            channel=channel,
            response_url=response_url,
            source=source,
            **extra,
        )
    except QueueUnavailable:
        ack(response_action="errors", errors={ids.SUBJECT: QUEUE_DOWN_ERROR})
        return
    log.info(
        "event=form_submitted submission=%s team=%s user=%s type=%s source=%s channel=%s new=%s",
        submission_id,
        team,
        user,
        kind,
        source,
        channel or "",
        queued,
    )
    ack()


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
