"""Shortcuts: global "Log activity" and message "Log as note"."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.envelope import Malformed
from bot.listeners.commands.rally import link_prefill
from bot.parsing import unescape_slack
from bot.services import services_of
from slack_ui import ids
from slack_ui.modals import build_log_modal, build_type_chooser

log = logging.getLogger(__name__)

SUBJECT_FROM_MESSAGE_MAX = 150


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
        view=build_log_modal("note", values=values, metadata=metadata).to_dict(),
    )
