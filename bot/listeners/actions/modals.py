"""Buttons that open a log modal: from the help message / App Home, the type chooser,
and "Edit and retry" on a failure message.

A button's type comes from its ``action_id`` (which the app registered), never from its
``value``; "Edit and retry" opens a submission only for the person who made it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import redis
from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

from bot.envelope import Malformed
from bot.listeners.commands.rally import link_prefill
from bot.services import services_of
from slack_ui import ids
from slack_ui.messages import describe_field_errors, escape
from slack_ui.modals import (
    build_log_modal,
    build_thread_note_modal,
    default_values,
    read_metadata,
)
from workers.records import form_names
from workers.slack import tell_user

log = logging.getLogger(__name__)

SUBMISSION_ID_RE = re.compile(r"[0-9a-f]{32}\Z")
NOT_YOURS = (
    ":no_entry: Only the person who submitted this can edit and retry it. "
    "Nothing was opened; log your own with `/rally`."
)


def _origin_metadata(body: dict[str, Any], context: BoltContext) -> dict[str, Any]:
    return {"channel": context.channel_id, "response_url": body.get("response_url")}


def _kind(action: dict[str, Any], pattern: re.Pattern[str]) -> str:
    match = pattern.match(str(action.get("action_id")))
    if match is None:  # pragma: no cover - Bolt only routes matching action ids here
        raise Malformed("unknown button")
    return match.group(1)


def handle_open_modal(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``open_modal_<type>``: open that type's modal where the button was clicked."""
    ack()
    kind = _kind(action, ids.OPEN_MODAL_ACTION_RE)
    trigger_id = _trigger(body)
    metadata = _origin_metadata(body, context)
    values = default_values(kind) | link_prefill(
        services_of(context), context.team_id, metadata["channel"]
    )
    view = build_log_modal(
        kind,
        values=values,
        metadata=metadata,
        names=form_names(services_of(context).store, context.team_id, values),
    )
    client.views_open(trigger_id=trigger_id, view=view.to_dict())


def handle_choose_type(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``choose_type_<type>`` in the Log activity chooser: turn it into that type's modal."""
    ack()
    kind = _kind(action, ids.CHOOSE_TYPE_ACTION_RE)
    view = body.get("view")
    if not isinstance(view, dict):
        raise Malformed("the chooser's view is missing")
    metadata = read_metadata(view)
    values = default_values(kind) | link_prefill(
        services_of(context), context.team_id, metadata.get("channel")
    )
    client.views_update(
        view_id=view["id"],
        hash=view.get("hash"),
        view=build_log_modal(
            kind,
            values=values,
            metadata=metadata,
            names=form_names(services_of(context).store, context.team_id, values),
        ).to_dict(),
    )


def handle_edit_and_retry(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """``edit_and_retry``: reopen the failed submission's modal with everything entered."""
    ack()
    services = services_of(context)
    submission_id = action.get("value")
    if not isinstance(submission_id, str) or not SUBMISSION_ID_RE.match(submission_id):
        raise Malformed("not a submission this app made")
    trigger_id = _trigger(body)
    try:
        submission = services.state.get_submission(submission_id)
    except redis.RedisError:
        tell_user(
            client,
            body,
            "Rally can't reach its storage right now; try the button again in a moment.",
        )
        return
    if submission is None:
        tell_user(
            client,
            body,
            "That submission is too old to edit (they are kept 7 days); please log it again.",
        )
        return
    if (submission.team, submission.user) != (context.team_id, context.user_id):
        log.warning(
            "event=edit_and_retry_refused submission=%s user=%s", submission_id, context.user_id
        )
        tell_user(client, body, NOT_YOURS)
        return
    last = submission.extra.get("last_error") or {}
    notice_lines = [
        f":warning: Last time Rally said: {escape(str(last.get('reason') or 'it could not be logged'))}"
    ]
    notice_lines += [f"• {line}" for line in describe_field_errors(last.get("field_errors") or {})]
    metadata = {
        "channel": submission.channel,
        "response_url": body.get("response_url") or submission.response_url,
        "retry_of": submission_id,
    }
    thread = submission.extra.get("thread")
    if isinstance(thread, dict):
        # A thread note reopens as one: the job reads the thread again on the retry.
        view = build_thread_note_modal(
            values=submission.values,
            metadata=metadata | {"thread_ts": thread.get("ts")},
            notice="\n".join(notice_lines),
            names=form_names(services_of(context).store, context.team_id, submission.values),
        )
    else:
        view = build_log_modal(
            submission.activity_type,
            values=submission.values,
            metadata=metadata,
            notice="\n".join(notice_lines),
            names=form_names(services_of(context).store, context.team_id, submission.values),
        )
    client.views_open(trigger_id=trigger_id, view=view.to_dict())
    log.info("event=edit_and_retry submission=%s user=%s", submission_id, context.user_id)


def _trigger(body: dict[str, Any]) -> str:
    trigger_id = body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise Malformed("no trigger to open a form with")
    return trigger_id
