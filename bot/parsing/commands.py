"""``/rally <subcommand> ...``: which command, with what arguments. Never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Final, TypeAlias

from api_client.models import (
    GUID_RE,
    ActivityType,
)
from bot.parsing.common import USAGE, RecordRefError, clip
from bot.parsing.quick_create import QuickCreate, parse_quick_create
from bot.parsing.records import KIND_WORDS, RecordRef, parse_record_ref
from bot.parsing.slack_text import unescape_slack

# ------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class HelpCommand:
    """Show help. ``unknown`` is the subcommand word we didn't recognise, if any."""

    unknown: str | None = None


@dataclass(frozen=True, slots=True)
class OpenModalCommand:
    """``/rally call`` etc. alone: open that type's modal."""

    activity_type: ActivityType


@dataclass(frozen=True, slots=True)
class QuickCreateCommand:
    """``/rally <type> <text>``: ``text`` is everything after the type word, as sent."""

    activity_type: ActivityType
    text: str

    def parse(self, *, tz: str | tzinfo, now: datetime) -> QuickCreate:
        """Read ``text`` with :func:`parse_quick_create` (raises QuickCreateError)."""
        return parse_quick_create(self.activity_type, self.text, tz=tz, now=now)


@dataclass(frozen=True, slots=True)
class TasksCommand:
    """``/rally tasks``: the person's open tasks."""


@dataclass(frozen=True, slots=True)
class LinkCommand:
    """``/rally link <kind> <ref> ["name"]``: bind the channel to ``ref`` (and name it)."""

    ref: RecordRef
    name: str | None = None


@dataclass(frozen=True, slots=True)
class NameCommand:
    """``/rally name <kind> <ref> "name"``: what the workspace calls the record."""

    ref: RecordRef
    name: str


@dataclass(frozen=True, slots=True)
class ShowLinkCommand:
    """``/rally link`` alone: show the channel's binding."""


@dataclass(frozen=True, slots=True)
class UnlinkCommand:
    """``/rally unlink``: remove the channel's binding."""


@dataclass(frozen=True, slots=True)
class MeCommand:
    """``/rally me <owner id>`` maps the person; ``owner_id`` None means show the mapping."""

    owner_id: str | None


@dataclass(frozen=True, slots=True)
class ConnectCommand:
    """``/rally connect``: open the form to store one's own Rally API key."""


@dataclass(frozen=True, slots=True)
class DisconnectCommand:
    """``/rally disconnect``: forget one's own Rally API key."""


@dataclass(frozen=True, slots=True)
class DigestCommand:
    """``/rally digest on [HH:MM]`` (``on`` True, ``at`` the local time, default 09:00),
    ``/rally digest off`` (``on`` False) or ``/rally digest`` (``on`` None: show it)."""

    on: bool | None
    at: time = time(9, 0)


@dataclass(frozen=True, slots=True)
class InvalidCommand:
    """A known subcommand with unusable arguments: tell the person why, and the usage."""

    subcommand: str
    messages: tuple[str, ...]
    usage: str


Command: TypeAlias = (
    HelpCommand
    | OpenModalCommand
    | QuickCreateCommand
    | TasksCommand
    | LinkCommand
    | NameCommand
    | ShowLinkCommand
    | UnlinkCommand
    | MeCommand
    | ConnectCommand
    | DisconnectCommand
    | DigestCommand
    | InvalidCommand
)

COMMAND_TEXT_MAX: Final = 4000
"""The longest ``/rally`` text read; longer is answered with a message, unread."""
DIGEST_DEFAULT_AT: Final = time(9, 0)
"""When a digest is posted unless ``/rally digest on HH:MM`` says otherwise."""
_HHMM_RE: Final = re.compile(r"([01]?[0-9]|2[0-3])[:.h]([0-5][0-9])\Z")
_TYPES: Final[dict[str, ActivityType]] = {t.value: t for t in ActivityType}


def parse_command(text: str) -> Command:
    """Read the text of a ``/rally`` command (SPEC §4). Never raises.

    Subcommand words are case-insensitive; the rest keeps its case and spacing.

    Args:
        text: The slash command's ``text`` as Slack sent it.

    Returns:
        One of the command dataclasses; unknown subcommands give ``HelpCommand`` with
        ``unknown`` set, bad arguments to a known one give ``InvalidCommand``.
    """
    if len(text) > COMMAND_TEXT_MAX:
        return InvalidCommand(
            "rally",
            (f"that is {len(text)} characters long; /rally reads at most {COMMAND_TEXT_MAX}",),
            USAGE["help"],
        )
    split = text.split(None, 1)
    if not split:
        return HelpCommand()
    typed, rest = split[0], (split[1].strip() if len(split) > 1 else "")
    word = typed.lower()
    if word in ("help", "?"):
        return HelpCommand()
    if word in _TYPES:
        if not rest:
            return OpenModalCommand(_TYPES[word])
        return QuickCreateCommand(_TYPES[word], rest)
    if word == "tasks":
        return TasksCommand()
    if word == "unlink":
        return UnlinkCommand()
    if word == "link":
        return _parse_link(rest)
    if word == "name":
        return _parse_name(rest)
    if word == "me":
        return _parse_me(rest)
    if word == "connect":
        return ConnectCommand()
    if word == "disconnect":
        return DisconnectCommand()
    if word == "digest":
        return _parse_digest(rest)
    return HelpCommand(unknown=clip(typed, 40))


NAME_MAX: Final = 75
"""The longest record name (what a Slack menu option shows in full; the store's bound)."""
_TARGET_RE: Final = re.compile(r"\s*(<[^<>]*>|\S+)\s*(.*)\Z", re.DOTALL)
_QUOTES: Final = "\"'\u201c\u201d\u2018\u2019"


def _split_target(rest: str) -> tuple[str | None, str, str]:
    """``[kind] <id, URL or <url|label>> [name]`` → (kind hint, target, the rest)."""
    head, _, tail = rest.strip().partition(" ")
    kind_hint: str | None = None
    target = rest
    if head.lower() in KIND_WORDS:
        kind_hint, target = head, tail
    match = _TARGET_RE.match(target)
    if match is None:
        return kind_hint, target, ""
    return kind_hint, match.group(1), match.group(2).strip()


def parse_record_name(text: str) -> str:
    """A record's name as typed (quotes optional, Slack's escapes undone, spaces collapsed).

    Raises:
        ValueError: Saying what is wrong with it.
    """
    name = unescape_slack(text).strip()
    if len(name) >= 2 and name[0] in _QUOTES and name[-1] in _QUOTES:
        name = name[1:-1]
    name = " ".join("".join(ch if ch.isprintable() else " " for ch in name).split())
    if not any(ch.isalnum() for ch in name):
        raise ValueError(
            'give the record a name with a letter or digit in it, e.g. "Acme expansion"'
        )
    if len(name) > NAME_MAX:
        raise ValueError(f"that name is {len(name)} characters; a name has at most {NAME_MAX}")
    return name


def _parse_link(rest: str) -> Command:
    if not rest:
        return ShowLinkCommand()
    kind_hint, target, tail = _split_target(rest)
    try:
        ref = parse_record_ref(kind_hint, target)
        return LinkCommand(ref, parse_record_name(tail) if tail else None)
    except (RecordRefError, ValueError) as exc:
        return InvalidCommand("link", (str(exc),), USAGE["link"])


def _parse_name(rest: str) -> Command:
    kind_hint, target, tail = _split_target(rest)
    if kind_hint is None or not tail:
        return InvalidCommand("name", ("say which record and its name",), USAGE["name"])
    try:
        return NameCommand(parse_record_ref(kind_hint, target), parse_record_name(tail))
    except (RecordRefError, ValueError) as exc:
        return InvalidCommand("name", (str(exc),), USAGE["name"])


def _parse_me(rest: str) -> Command:
    value = unescape_slack(rest).strip().strip("{}")
    if not value:
        return MeCommand(owner_id=None)
    if not GUID_RE.match(value):
        return InvalidCommand(
            "me",
            (
                f'"{clip(value)}" isn\'t a Rally owner id; it looks like '
                "3f2b8c1e-0d4a-4b6e-9c1f-2a7d5e8b9c01 (your profile in Rally shows it)",
            ),
            USAGE["me"],
        )
    return MeCommand(owner_id=value.lower())


def _parse_digest(rest: str) -> Command:
    words = rest.split()
    if not words:
        return DigestCommand(on=None)
    switch = words[0].lower()
    if switch == "off" and len(words) == 1:
        return DigestCommand(on=False)
    if switch != "on" or len(words) > 2:
        return InvalidCommand(
            "digest", (f'"{clip(rest)}" isn\'t "on", "on HH:MM" or "off"',), USAGE["digest"]
        )
    if len(words) == 1:
        return DigestCommand(on=True, at=DIGEST_DEFAULT_AT)
    match = _HHMM_RE.match(words[1])
    if match is None:
        return InvalidCommand(
            "digest",
            (f'"{clip(words[1])}" isn\'t a time of day; write it as 24-hour HH:MM, e.g. 08:30',),
            USAGE["digest"],
        )
    return DigestCommand(on=True, at=time(int(match[1]), int(match[2])))
