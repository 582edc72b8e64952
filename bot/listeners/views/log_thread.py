"""Submission of "Log thread as note": validate in place, enqueue the create, close.

The same path as the log modals (``log_activity``): the modal closes only once the job
is queued, and anything wrong stays in the modal. The job is told where the thread is
(channel and ts, from the modal's metadata, which only the app writes), never its text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, BoltContext

from bot.envelope import SLACK_ID_PATTERN, Malformed
from bot.listeners.shortcuts.log import TS_RE
from bot.listeners.views.log_activity import submit_log_form, text_or_none
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
    metadata = read_metadata(view)
    thread = _thread_of(metadata)
    if thread is None:
        if not context.team_id or not context.user_id:
            raise Malformed("no team or user")
        ack(response_action="errors", errors={ids.SUBJECT: LOST_THREAD})
        return
    submit_log_form(
        ack,
        view,
        context,
        kind="note",
        channel=thread["channel"],
        response_url=text_or_none(metadata.get("response_url")),
        source="thread",
        thread=thread,
    )
