"""Buttons that open a log modal: from the help message / App Home, the type chooser,
and "Edit and retry" on a failure message."""

from __future__ import annotations

import logging
from typing import Any

import redis
from slack_sdk import WebClient

from bot.blocks.modals import build_log_modal, default_values, read_metadata
from bot.listeners.commands.rally import link_prefill
from bot.services import services_of
from workers.messages import describe_field_errors, escape

log = logging.getLogger(__name__)


def _origin_metadata(body: dict[str, Any]) -> dict[str, Any]:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return {"channel": channel, "response_url": body.get("response_url")}


def handle_open_modal(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: Any
) -> None:
    """``open_modal_<type>``: open that type's modal where the button was clicked."""
    ack()
    kind = action["value"]
    metadata = _origin_metadata(body)
    team = (body.get("team") or {}).get("id")
    values = default_values(kind) | link_prefill(services_of(context), team, metadata["channel"])
    client.views_open(
        trigger_id=body["trigger_id"], view=build_log_modal(kind, values=values, metadata=metadata)
    )


def handle_choose_type(
    ack: Any, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: Any
) -> None:
    """``choose_type_<type>`` in the Log activity chooser: turn it into that type's modal."""
    ack()
    kind = action["value"]
    view = body["view"]
    metadata = read_metadata(view)
    team = (body.get("team") or {}).get("id")
    values = default_values(kind) | link_prefill(
        services_of(context), team, metadata.get("channel")
    )
    client.views_update(
        view_id=view["id"],
        hash=view.get("hash"),
        view=build_log_modal(kind, values=values, metadata=metadata),
    )


def handle_edit_and_retry(
    ack: Any,
    body: dict[str, Any],
    action: dict[str, Any],
    client: WebClient,
    context: Any,
    respond: Any,
) -> None:
    """``edit_and_retry``: reopen the failed submission's modal with everything entered."""
    ack()
    services = services_of(context)
    submission_id = action["value"]
    try:
        submission = services.state.get_submission(submission_id)
    except redis.RedisError:
        respond(
            text="Rally can't reach its storage right now; try the button again in a moment.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    if submission is None:
        respond(
            text="That submission is too old to edit (they are kept 7 days); please log it again.",
            response_type="ephemeral",
            replace_original=False,
        )
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
    view = build_log_modal(
        submission.activity_type,
        values=submission.values,
        metadata=metadata,
        notice="\n".join(notice_lines),
    )
    client.views_open(trigger_id=body["trigger_id"], view=view)
    log.info("event=edit_and_retry submission=%s user=%s", submission_id, body["user"]["id"])
