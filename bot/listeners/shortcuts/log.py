"""Shortcuts: global "Log activity", message "Log as note" and "Log thread as note"."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.envelope import Malformed
from bot.listeners.commands.rally import link_prefill
from bot.parsing import unescape_slack
from bot.services import services_of
from slack_ui import ids
from slack_ui.modals import (
    build_log_modal,
    build_thread_note_modal,
    build_type_chooser,
    thread_notice,
)
from workers.records import form_names

log = logging.getLogger(__name__)

SUBJECT_FROM_MESSAGE_MAX = 150
TS_RE = re.compile(r"\d{1,12}\.\d{1,6}\Z")
"""A Slack message ts: seconds, a dot, a sequence number."""


def handle_log_activity(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
    """Global shortcut: ask which type, then ``choose_type_*`` swaps in that modal."""
    ack()
    client.views_open(
        trigger_id=shortcut["trigger_id"], view=build_type_chooser(metadata={}).to_dict()
    )


def note_values_from_message(text: str, permalink: str | None) -> dict[str, Any]:
    """Subject from the message's first line, body = the whole message + its permalink."""
    plain = unescape_slack(text or "").strip()
    first_line = next((line.strip() for line in plain.splitlines() if line.strip()), "")
    subject = first_line
    if len(subject) > SUBJECT_FROM_MESSAGE_MAX:
        subject = subject[: SUBJECT_FROM_MESSAGE_MAX - 1].rstrip() + "…"
    body = plain
    if permalink:
        body = f"{plain}\n\n{permalink}" if plain else permalink
    return {ids.SUBJECT: subject or None, ids.BODY: body or None}


def handle_log_as_note(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Message shortcut: the note modal pre-filled with the message text and permalink."""
    ack()
    channel = context.channel_id
    message = shortcut["message"]  # the envelope check guarantees an object here
    ts = message.get("ts")
    if not channel or not isinstance(ts, str):
        raise Malformed("no message to log")
    permalink = None
    try:
        permalink = str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackApiError as exc:
        # Not fatal: the note is still worth logging without its link.
        log.info("event=permalink_failed channel=%s error=%s", channel, exc.response.get("error"))
    values = note_values_from_message(message.get("text") or "", permalink)
    values |= link_prefill(services_of(context), context.team_id, channel)
    metadata = {"channel": channel, "response_url": shortcut.get("response_url")}
    client.views_open(
        trigger_id=shortcut["trigger_id"],
        view=build_log_modal(
            "note",
            values=values,
            metadata=metadata,
            names=form_names(services_of(context).store, context.team_id, values),
        ).to_dict(),
    )


def thread_ts_of(message: dict[str, Any]) -> str:
    """The ts of the thread ``message`` is in (its own, when it is the parent or alone).

    Raises:
        Malformed: no ts shaped like Slack's.
    """
    ts, thread_ts = message.get("ts"), message.get("thread_ts")
    root = thread_ts if thread_ts is not None else ts
    if not isinstance(root, str) or not TS_RE.match(root):
        raise Malformed("no message to log")
    return root


def handle_log_thread(
    ack: Ack, shortcut: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Message shortcut "Log thread as note": a modal for the subject and record.

    Nothing is read from the thread here (Slack's 3 seconds, and a thread can be long):
    the job reads it after the person submits.
    """
    ack()
    channel = context.channel_id
    message = shortcut["message"]  # the envelope check guarantees an object here
    root = thread_ts_of(message)
    if not channel:
        raise Malformed("no channel")
    values = {ids.SUBJECT: note_values_from_message(message.get("text") or "", None)[ids.SUBJECT]}
    values |= link_prefill(services_of(context), context.team_id, channel)
    metadata = {"channel": channel, "thread_ts": root, "response_url": shortcut.get("response_url")}
    client.views_open(
        trigger_id=shortcut["trigger_id"],
        view=build_thread_note_modal(
            values=values,
            metadata=metadata,
            notice=thread_notice(message),
            names=form_names(services_of(context).store, context.team_id, values),
        ).to_dict(),
    )
