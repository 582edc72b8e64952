"""Reading a Slack thread into a note's body (SPEC §7, "Log thread as note").

The create job (``workers.jobs.create_activity``) calls :func:`thread_note_body` when a
submission names a thread: the thread is read here, in the job, never carried in the
job's arguments. ``conversations.replies`` is followed page by page through every
``next_cursor`` (slack_sdk's own pagination: iterating a ``SlackResponse`` fetches the
next page), each call with the client's retry handlers, so a 429 is waited out as its
``Retry-After`` says. Authors and mentions are named by ``users.info``, channel
mentions by ``conversations.info``, each asked once per id and cached a day in Redis.
Times are in the logger's Slack time zone.

The bot reads with its own token, so only threads in channels it was invited to: any
other is :class:`ThreadUnreadable`, with a sentence for the person.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from api_client.models import BODY_MAX
from slack_ui.transcript import Line, Transcript, build_transcript, mrkdwn_to_plain
from workers.slack import user_tz
from workers.state import State

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
"""Messages asked for per ``conversations.replies`` call (Slack's own cap)."""
MAX_MESSAGES = 20_000
"""Stop reading past this many: the note could not hold more anyway (at one character
each, 65,536 would not fit with their names and times)."""

CANNOT_READ = {
    "not_in_channel": (
        "Rally can't read this thread: it isn't in the channel. "
        "Add it with `/invite @Rally`, then try again."
    ),
    "channel_not_found": (
        "Rally can't read this thread: it can't see the channel "
        "(a private channel or a direct message it wasn't added to). "
        "Add it with `/invite @Rally`, then try again."
    ),
    "thread_not_found": "Rally couldn't find this thread; it may have been deleted.",
    "missing_scope": (
        "Rally isn't allowed to read messages in this workspace yet; "
        "ask an admin to reinstall the app so it may read threads."
    ),
    "not_allowed_token_type": "Rally isn't allowed to read this thread.",
}


class ThreadUnreadable(Exception):
    """Slack will not give the thread to the bot; ``reason`` says why, for the person."""

    def __init__(self, error: str) -> None:
        self.error = error
        self.reason = CANNOT_READ.get(error, f"Slack wouldn't give Rally this thread ({error}).")
        super().__init__(self.reason)


@dataclass(frozen=True)
class Thread:
    """Where a thread is, and who logs it (whose time zone its times are in)."""

    team: str
    channel: str
    ts: str
    user: str


def read_messages(client: WebClient, channel: str, ts: str) -> list[dict[str, Any]]:
    """Every message of the thread, the parent first, following every cursor.

    Raises:
        ThreadUnreadable: Slack refused (the bot not in the channel, no such thread...).
        SlackApiError: anything else (a rate limit outlasting the retries): transient.
    """
    messages: list[dict[str, Any]] = []
    try:
        for page in client.conversations_replies(channel=channel, ts=ts, limit=PAGE_SIZE):
            for message in page.get("messages") or []:
                # Every page after the first repeats the parent; keep it once.
                if messages and message.get("ts") == messages[0].get("ts"):
                    continue
                messages.append(message)
            if len(messages) >= MAX_MESSAGES:
                break
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "")
        if error in CANNOT_READ:
            raise ThreadUnreadable(error) from None
        raise
    return messages


class Names:
    """Names of people and channels for one team: Redis first, then Slack, once per id."""

    def __init__(self, client: WebClient, state: State, team: str) -> None:
        self.client = client
        self.state = state
        self.team = team
        self.known: dict[str, str | None] = {}

    def preload(self, ids: Iterable[str]) -> None:
        """Read the cached names of ``ids`` in one round trip."""
        wanted = [i for i in set(ids) if i not in self.known]
        with contextlib.suppress(redis.RedisError):
            self.known.update(self.state.get_names(self.team, wanted))

    def user(self, user_id: str) -> str | None:
        if user_id not in self.known:
            self.known[user_id] = self._ask(user_id, self._user_name)
        return self.known[user_id]

    def channel(self, channel_id: str) -> str | None:
        if channel_id not in self.known:
            self.known[channel_id] = self._ask(channel_id, self._channel_name)
        return self.known[channel_id]

    def _user_name(self, user_id: str) -> str | None:
        user = self.client.users_info(user=user_id)["user"]
        profile = user.get("profile") or {}
        return (
            str(
                profile.get("real_name")
                or user.get("real_name")
                or profile.get("display_name")
                or user.get("name")
                or ""
            )
            or None
        )

    def _channel_name(self, channel_id: str) -> str | None:
        channel = self.client.conversations_info(channel=channel_id)["channel"]
        return str(channel.get("name") or "") or None

    def _ask(self, id_: str, lookup: Any) -> str | None:
        try:
            name: str | None = lookup(id_)
        except SlackApiError as exc:
            # Gone, private, or not ours to see: the label (or the id) stands in.
            log.info("event=name_lookup_failed id=%s error=%s", id_, exc.response.get("error"))
            return None
        if name:
            with contextlib.suppress(redis.RedisError):
                self.state.set_name(self.team, id_, name)
        return name


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(ts: Any, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromtimestamp(float(ts), UTC).astimezone(zone)
    except (TypeError, ValueError, OverflowError):
        return "unknown time"
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _author(message: dict[str, Any], names: Names) -> str:
    user = message.get("user")
    if isinstance(user, str) and user and not message.get("bot_id"):
        return names.user(user) or user
    profile = message.get("bot_profile") or {}
    return str(message.get("username") or profile.get("name") or user or "a bot")


def _files(message: dict[str, Any]) -> str:
    shared = [f for f in message.get("files") or [] if isinstance(f, dict)]
    return " ".join(f"[file: {f.get('name') or f.get('title') or 'a file'}]" for f in shared)


def message_lines(messages: list[dict[str, Any]], names: Names, zone: ZoneInfo) -> list[Line]:
    """Each message as a :class:`Line`: author's name, time in ``zone``, plain text."""
    lines = []
    for message in messages:
        text = mrkdwn_to_plain(
            str(message.get("text") or ""), users=names.user, channels=names.channel
        )
        if files := _files(message):
            text = f"{text} {files}" if text else files
        lines.append(Line(_author(message, names), _when(message.get("ts"), zone), text))
    return lines


_MENTION_RE = re.compile(r"<[@#]([A-Z0-9]+)[|>]")


def _mentioned(messages: list[dict[str, Any]]) -> set[str]:
    """Every author and every ``<@U…>`` / ``<#C…>`` named in ``messages``."""
    ids = {m["user"] for m in messages if isinstance(m.get("user"), str)}
    for message in messages:
        ids.update(_MENTION_RE.findall(str(message.get("text") or "")))
    return ids


def thread_note_body(
    client: WebClient, state: State, thread: Thread, *, limit: int = BODY_MAX
) -> Transcript:
    """The note's body for ``thread``: its permalink, then every message, cut to ``limit``.

    Raises:
        ThreadUnreadable: Slack refused the thread.
        SlackApiError: a transient Slack failure (the job is retried).
    """
    messages = read_messages(client, thread.channel, thread.ts)
    if not messages:
        raise ThreadUnreadable("thread_not_found")
    names = Names(client, state, thread.team)
    names.preload([*_mentioned(messages), thread.channel])
    zone = _zone(user_tz(client, state, thread.team, thread.user))
    try:
        permalink = str(
            client.chat_getPermalink(channel=thread.channel, message_ts=thread.ts)["permalink"]
        )
    except SlackApiError as exc:
        # Not fatal: the thread is still worth logging without its link.
        log.info(
            "event=permalink_failed channel=%s error=%s", thread.channel, exc.response.get("error")
        )
        permalink = ""
    channel_name = names.channel(thread.channel)
    where = f" in #{channel_name}" if channel_name else ""
    header = f"Slack thread{where}, {len(messages):,} messages" + (
        f": {permalink}" if permalink else ""
    )
    transcript = build_transcript(header, message_lines(messages, names, zone), limit=limit)
    log.info(
        "event=thread_read team=%s channel=%s messages=%s omitted=%s chars=%s",
        thread.team,
        thread.channel,
        len(messages),
        transcript.omitted,
        len(transcript.body),
    )
    return transcript
