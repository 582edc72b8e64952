"""Reading what people type into ``/rally``: subcommands, the quick-create grammar,
durations and record references.

Everything here is a pure function of its arguments (the clock and the user's time
zone are passed in), so the listeners stay thin and the grammar is tested on its own.

Quick-create grammar (SPEC §4)::

    /rally task Send proposal to Acme due:"tomorrow 5pm" !high

Words that are not tokens form the subject. Tokens:

``due:<when>`` / ``at:<when>``
    ISO 8601 (``2025-07-15``, ``2025-07-15T14:00``, ``2025-07-15T14:00+02:00``) or
    natural language, one word (``due:tomorrow``) or quoted (``due:"friday 5pm"``;
    the curly quotes Slack clients insert work too). Read in the user's time zone
    relative to *now*, preferring the future, and stored in UTC. A day without a
    time of day (``due:friday``, ``due:2025-07-15``, ``at:tomorrow``) means
    17:00 local for ``due:`` (the end of the working day, when a reminder still
    helps) and 09:00 local for ``at:`` (the start of it). A zone written in the
    text (``"5pm EST"``, ``…T14:00Z``) wins over the user's.
``for:<duration>``
    ``30m``, ``1h30m``, ``45s``, ``2h``, ``1.5h``, ``1:30``; a bare number is
    minutes (``for:90``), as in the modals.
``!low`` ``!normal`` ``!high`` ``!urgent``
    task priority.
``dir:in|out``
    call direction (``inbound``/``outbound``, ``incoming``/``outgoing`` too).
``outcome:<value>``
    call outcome, one word or quoted; lower-cased with spaces and dashes as
    underscores (``no-answer`` → ``no_answer``).
``done``
    status completed. Only as a trailing word (nothing but tokens after it), so
    "Get the deal done by Friday" keeps its words.

Token keys are case-insensitive. A ``word:value`` with any other key (``https://…``,
``Re:pricing``) is an ordinary subject word. A token that does not apply to the
activity type is an error that names it; nothing is silently dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser
from dateparser.timezone_parser import pop_tz_offset_from_string

from api_client.models import (
    GUID_RE,
    SUBJECT_MAX,
    ActivityType,
    CallDirection,
    Priority,
    Status,
    format_utc,
)

__all__ = [
    "AT_DEFAULT_TIME",
    "DUE_DEFAULT_TIME",
    "MAX_DURATION",
    "MAX_MINUTES",
    "USAGE",
    "Command",
    "HelpCommand",
    "InvalidCommand",
    "LinkCommand",
    "MeCommand",
    "OpenModalCommand",
    "ParseError",
    "QuickCreate",
    "QuickCreateCommand",
    "QuickCreateError",
    "RecordKind",
    "RecordRef",
    "RecordRefError",
    "ShowLinkCommand",
    "TasksCommand",
    "UnlinkCommand",
    "parse_command",
    "parse_duration",
    "parse_minutes",
    "parse_quick_create",
    "parse_record_ref",
    "parse_when",
    "resolve_tz",
    "unescape_slack",
    "warm_up",
]

DUE_DEFAULT_TIME: Final = time(17, 0)
"""Local time of day a ``due:`` without one gets: the end of the working day."""
AT_DEFAULT_TIME: Final = time(9, 0)
"""Local time of day an ``at:`` without one gets: the start of the working day."""

MAX_DURATION: Final = timedelta(days=7)
"""The API's ceiling for both ``callDurationSeconds`` and ``durationMinutes``."""
MAX_MINUTES: Final = int(MAX_DURATION.total_seconds()) // 60

USAGE: Final[dict[str, str]] = {
    "call": "/rally call [subject dir:in|out outcome:connected for:15m at:<when> done]",
    "task": '/rally task [subject due:"friday 5pm" !low|!normal|!high|!urgent done]',
    "note": "/rally note [subject at:<when>]",
    "meeting": '/rally meeting [subject at:"tuesday 3pm" for:45m]',
    "tasks": "/rally tasks",
    "link": "/rally link deal|company|contact <id or Rally URL>",
    "unlink": "/rally unlink",
    "me": "/rally me <your Rally owner id>",
    "help": "/rally help",
}
"""One usage line per subcommand, for help text and error replies."""

_SUBJECT_EXAMPLES: Final[dict[ActivityType, str]] = {
    ActivityType.TASK: "/rally task Send proposal due:friday",
    ActivityType.CALL: "/rally call Intro with Dana dir:out for:15m",
    ActivityType.NOTE: "/rally note Budget approved for Q3",
    ActivityType.MEETING: '/rally meeting Demo with Acme at:"tuesday 3pm" for:45m',
}


class ParseError(ValueError):
    """Text a person typed could not be read; ``str(error)`` is a message for them."""


class QuickCreateError(ParseError):
    """Quick-create text had one or more problems, each a message naming its token."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class RecordRefError(ParseError):
    """A ``/rally link`` target was not a usable deal, company or contact reference."""


# --------------------------------------------------------------------------- Slack text

# Slack sends message-ish text with &, < and > escaped, and (when the app asks for it)
# links and mentions as <target|label>. Only these forms are markup; anything else in
# angle brackets arrived escaped, so a bare "<" here is never the user's.
_SLACK_MARKUP_RE: Final = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_SLACK_ENTITY_RE: Final = re.compile(r"&(amp|lt|gt);")
_SLACK_ENTITIES: Final = {"amp": "&", "lt": "<", "gt": ">"}
_URL_SCHEME_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BROADCASTS: Final = {"!here": "@here", "!channel": "@channel", "!everyone": "@everyone"}


def _unmark(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        # A user or channel mention: its label is what the person saw and typed.
        return f"{target[0]}{label.lstrip('@#')}" if label else match.group(0)
    if target.startswith("!"):
        if target in _BROADCASTS:
            return _BROADCASTS[target]
        return label if label else match.group(0)
    if _URL_SCHEME_RE.match(target):
        return label if label else target
    return match.group(0)


def unescape_slack(text: str) -> str:
    """Turn Slack's wire form of typed text back into what the person typed.

    ``<https://x.io|x.io>`` becomes ``x.io``, ``<https://x.io>`` becomes the URL,
    ``<@U123|dana>`` becomes ``@dana``, ``<!here>`` becomes ``@here``, and the
    entities ``&amp;`` ``&lt;`` ``&gt;`` become ``&`` ``<`` ``>`` (in one pass, so
    ``&amp;lt;`` stays the literal ``&lt;`` that was typed).

    Args:
        text: Text as Slack delivered it (slash command ``text``, message text).

    Returns:
        The plain text.
    """
    text = _SLACK_MARKUP_RE.sub(_unmark, text)
    return _SLACK_ENTITY_RE.sub(lambda m: _SLACK_ENTITIES[m.group(1)], text)


# ------------------------------------------------------------------------------ durations

_DURATION_UNITS: Final[dict[str, int]] = {
    **dict.fromkeys(("d", "day", "days"), 86_400),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3_600),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
}
_NUMBER: Final = r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+"
# One "<number> <unit>," part; parts are matched one after another from where the last
# ended (never one regex over the whole text with nested repeats, which backtracks
# exponentially on "1m 1m 1m … !").
_UNIT_PART_RE: Final = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)\s*,?")
DURATION_TEXT_MAX: Final = 40
_BARE_NUMBER_RE: Final = re.compile(rf"(?:{_NUMBER})")
_CLOCK_RE: Final = re.compile(r"([0-9]+):([0-5][0-9])(?::([0-5][0-9]))?")
_DURATION_HINT: Final = "try 30m, 1h30m, 45s or 90 (minutes)"


def _describe(td: timedelta) -> str:
    days = td.days
    return f"{days} days" if days != 1 else "1 day"


def parse_duration(text: str, *, maximum: timedelta = MAX_DURATION) -> timedelta:
    """Read a duration such as ``30m``, ``1h30m``, ``45s``, ``2h``, ``1.5h`` or ``1:30``.

    A bare number is minutes (``90`` is an hour and a half), matching the modals.
    Units may be spelled out (``2 hours 15 minutes``); ``h:mm`` and ``h:mm:ss`` work.

    Args:
        text: What the person typed.
        maximum: The longest duration accepted (the API's limit by default).

    Returns:
        The duration, zero or more.

    Raises:
        ParseError: Empty, negative, unreadable, or longer than ``maximum``.
    """
    raw = text.strip()
    s = raw.lower()
    if not s:
        raise ParseError(f"enter a duration; {_DURATION_HINT}")
    if len(s) > DURATION_TEXT_MAX:
        raise ParseError(f'"{_clip(raw)}" is too long for a duration; {_DURATION_HINT}')
    if s.startswith("-"):
        raise ParseError(f'"{_clip(raw)}" is negative; a duration can\'t be')
    s = s.removeprefix("+")
    seconds: float
    if _BARE_NUMBER_RE.fullmatch(s):
        seconds = float(s) * 60
    elif clock := _CLOCK_RE.fullmatch(s):
        hours, minutes, secs = clock.groups()
        seconds = int(hours) * 3600 + int(minutes) * 60 + int(secs or 0)
    elif (parts := _unit_parts(s)) is not None:
        seconds = 0.0
        for number, unit in parts:
            if unit not in _DURATION_UNITS:
                raise ParseError(f'"{_clip(raw)}" has an unknown unit "{unit}"; {_DURATION_HINT}')
            seconds += float(number) * _DURATION_UNITS[unit]
    else:
        raise ParseError(f'couldn\'t read "{_clip(raw)}" as a duration; {_DURATION_HINT}')
    if not math.isfinite(seconds) or seconds > maximum.total_seconds():
        raise ParseError(f'"{_clip(raw)}" is longer than {_describe(maximum)}')
    return timedelta(seconds=seconds)


def _unit_parts(s: str) -> list[tuple[str, str]] | None:
    """``s`` as consecutive (number, unit) parts, or None unless they cover all of it."""
    parts: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        match = _UNIT_PART_RE.match(s, pos)
        if match is None:
            return None
        parts.append((match.group(1), match.group(2)))
        pos = match.end()
    return parts or None


def parse_minutes(text: str, *, maximum: int = MAX_MINUTES) -> int:
    """Read a modal's duration field, which is in minutes.

    A whole number is minutes. A duration with units (``1h30m``, ``90s``) is accepted
    too and rounded up to whole minutes, since that is what the person meant.

    Args:
        text: The field's value.
        maximum: The most minutes accepted (the API's 7 days by default).

    Returns:
        Whole minutes, zero or more.

    Raises:
        ParseError: Empty, negative, fractional, unreadable, or more than ``maximum``.
    """
    raw = text.strip()
    if not raw:
        raise ParseError("enter a number of minutes, e.g. 30")
    if len(raw) > DURATION_TEXT_MAX:
        raise ParseError(f'"{_clip(raw)}" is too long; enter a number of minutes, e.g. 30')
    if re.fullmatch(r"[+-]?[0-9]+", raw):
        minutes = int(raw)
        if minutes < 0:
            raise ParseError("a duration can't be negative; enter minutes, e.g. 30")
    elif re.fullmatch(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)", raw):
        if raw.startswith("-"):
            raise ParseError("a duration can't be negative; enter minutes, e.g. 30")
        raise ParseError(f'enter whole minutes, not "{_clip(raw)}"')
    else:
        try:
            td = parse_duration(raw, maximum=timedelta(minutes=maximum))
        except ParseError as exc:
            if "negative" in str(exc):
                raise ParseError("a duration can't be negative; enter minutes, e.g. 30") from None
            if "longer than" in str(exc):
                raise ParseError(_too_many_minutes(maximum)) from None
            raise ParseError(
                f'couldn\'t read "{_clip(raw)}" as minutes; enter a number such as 30'
            ) from None
        minutes = math.ceil(td.total_seconds() / 60)
    if minutes > maximum:
        raise ParseError(_too_many_minutes(maximum))
    return minutes


def _too_many_minutes(maximum: int) -> str:
    if maximum % 1440 == 0:
        return f"at most {maximum} minutes ({maximum // 1440} days)"
    return f"at most {maximum} minutes"


# ---------------------------------------------------------------------------- dates


def resolve_tz(tz: str | tzinfo | None) -> tzinfo:
    """The ``tzinfo`` for a Slack ``tz`` name (``America/Los_Angeles``) or a tzinfo.

    An empty or unknown name falls back to UTC rather than failing the request; the
    caller may log it.

    Args:
        tz: IANA name, a tzinfo, or None.

    Returns:
        A tzinfo.
    """
    if isinstance(tz, tzinfo):
        return tz
    if not tz:
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


_ISO_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHEN_TEXT_MAX: Final = 60
# Periods dateparser reports when the text named no time of day.
_DATE_ONLY_PERIODS: Final = frozenset({"day", "week", "month", "year"})
# English only: language detection across all locales costs a second or more on a
# miss, which Slack's 3-second acknowledgement can't afford.
_LANGUAGES: Final = ["en"]


def _localize(wall: datetime, zone: tzinfo) -> datetime:
    return wall.replace(tzinfo=zone)


def parse_when(
    text: str,
    *,
    tz: str | tzinfo,
    now: datetime,
    default_time: time = DUE_DEFAULT_TIME,
) -> datetime:
    """Read a date and time typed by a person, in their time zone, preferring the future.

    ISO 8601 is read exactly; anything else goes to dateparser (English). A day
    without a time of day gets ``default_time`` (local). A zone or offset in the
    text wins over ``tz``.

    Args:
        text: ``2025-07-15``, ``2025-07-15T14:00``, ``tomorrow 5pm``, ``friday``, ...
        tz: The person's time zone (IANA name or tzinfo).
        now: The current instant (aware; naive is taken as UTC).
        default_time: Time of day for a date given without one.

    Returns:
        An aware datetime in UTC.

    Raises:
        ParseError: The text is not a date or time.
    """
    zone = resolve_tz(tz)
    value = text.strip()
    if not value:
        raise ParseError("enter a date or time, e.g. tomorrow 5pm or 2025-07-15")
    if len(value) > WHEN_TEXT_MAX:
        # dateparser's cost grows with the text; nobody writes a date this long.
        raise ParseError(f'"{_clip(value)}" is too long to be a date or time')
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if _ISO_DATE_RE.match(value):
        return _parse_iso(value, zone, default_time)

    local_now = now.astimezone(zone).replace(tzinfo=None)
    # dateparser 1.5 takes RELATIVE_BASE as UTC when it moves a bare time ("5pm")
    # into the future, and so gets it wrong by the zone's offset (5pm asked at 8:30 in
    # Tokyo lands tomorrow). Working in the person's wall clock, labelled UTC, keeps
    # every comparison consistent; the zone is attached afterwards.
    parser = DateDataParser(
        languages=_LANGUAGES,
        settings={
            "TIMEZONE": "UTC",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now,
            "RETURN_TIME_AS_PERIOD": True,
        },
    )
    try:
        data = parser.get_date_data(value)
    except Exception:  # dateparser raises assorted errors on odd input; all mean "unreadable"
        data = None
    if data is None or data.date_obj is None:
        raise ParseError(f'couldn\'t read "{_clip(value)}" as a date or time')
    parsed = data.date_obj
    if pop_tz_offset_from_string(value)[1] is not None:
        # The text named a zone ("5pm EST"): dateparser has converted to it exactly.
        return _utc(parsed, value)
    parsed = parsed.replace(tzinfo=None)
    if data.period in _DATE_ONLY_PERIODS:
        parsed = datetime.combine(parsed.date(), default_time)
    return _utc(_localize(parsed, zone), value)


def _parse_iso(value: str, zone: tzinfo, default_time: time) -> datetime:
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return _utc(_localize(datetime.combine(day, default_time), zone), value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParseError(
            f'"{_clip(value)}" isn\'t a valid date; ISO 8601 looks like 2025-07-15 or '
            "2025-07-15T14:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = _localize(parsed, zone)
    return _utc(parsed, value)


def _utc(value: datetime, text: str) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ParseError(f'"{_clip(text)}" is too far away') from None


# ------------------------------------------------------------------------ quick-create

_TokenName = Literal["due", "at", "for", "dir", "outcome", "priority", "done"]
_KEYED: Final = frozenset({"due", "at", "for", "dir", "outcome"})
_OPEN_QUOTES: Final = '"“”„«'
_CLOSE_QUOTES: Final = '"”“»'
_KEYED_RE: Final = re.compile(r"([A-Za-z]+):")
_PRIORITY_RE: Final = re.compile(r"!(low|normal|high|urgent)", re.IGNORECASE)
_DIRECTIONS: Final[dict[str, CallDirection]] = {
    **dict.fromkeys(("in", "inbound", "incoming"), CallDirection.INBOUND),
    **dict.fromkeys(("out", "outbound", "outgoing"), CallDirection.OUTBOUND),
}
# Which tokens each type takes; anything else is named in an error.
_APPLIES: Final[dict[ActivityType, frozenset[str]]] = {
    ActivityType.TASK: frozenset({"due", "priority", "done"}),
    ActivityType.CALL: frozenset({"at", "for", "dir", "outcome", "done"}),
    ActivityType.MEETING: frozenset({"at", "for", "done"}),
    ActivityType.NOTE: frozenset({"at", "done"}),
}


@dataclass(frozen=True, slots=True)
class _Token:
    name: str
    raw: str  # as typed, for messages
    value: str  # unquoted
    start: int
    end: int
    unterminated: bool = False

    @property
    def shown(self) -> str:
        """The token as typed, short enough to quote back."""
        return _clip(self.raw, 60)


@dataclass(frozen=True, slots=True)
class QuickCreate:
    """A quick-create read from ``/rally <type> <text>``.

    Attributes:
        activity_type: The type word.
        subject: The words that were not tokens, spacing kept.
        fields: Other request fields by wire name (``dueDate``, ``priority``, ...),
            as JSON values (UTC ISO strings, enum values, ints).
    """

    activity_type: ActivityType
    subject: str
    fields: dict[str, Any] = field(default_factory=dict)

    def request_body(self) -> dict[str, Any]:
        """The ``CreateActivityRequest`` body (wire names, JSON values) without associations."""
        return {"activityType": self.activity_type.value, "subject": self.subject, **self.fields}


def _tokenize(text: str) -> tuple[list[_Token], list[tuple[int, int]]]:
    """Split into tokens and subject words (as spans), in order of appearance."""
    tokens: list[_Token] = []
    words: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        keyed = _KEYED_RE.match(text, i)
        if keyed and keyed.group(1).lower() in _KEYED:
            name = keyed.group(1).lower()
            j = keyed.end()
            if j < n and text[j] in _OPEN_QUOTES:
                close = next((k for k in range(j + 1, n) if text[k] in _CLOSE_QUOTES), -1)
                if close == -1:
                    tokens.append(_Token(name, text[i:], text[j + 1 :], i, n, unterminated=True))
                    break
                tokens.append(_Token(name, text[i : close + 1], text[j + 1 : close], i, close + 1))
                i = close + 1
                continue
            end = _word_end(text, j)
            tokens.append(_Token(name, text[i:end], text[j:end], i, end))
            i = end
            continue
        end = _word_end(text, i)
        word = text[i:end]
        if _PRIORITY_RE.fullmatch(word):
            tokens.append(_Token("priority", word, word[1:].lower(), i, end))
        elif word.lower() == "done":
            tokens.append(_Token("done", word, "", i, end))
        else:
            words.append((i, end))
        i = end
    # "done" is a token only after the last subject word; earlier it is a word.
    last_word_end = words[-1][1] if words else -1
    kept: list[_Token] = []
    for tok in tokens:
        if tok.name == "done" and tok.start < last_word_end:
            words.append((tok.start, tok.end))
        else:
            kept.append(tok)
    words.sort()
    return kept, words


def _word_end(text: str, i: int) -> int:
    while i < len(text) and not text[i].isspace():
        i += 1
    return i


def _subject(text: str, words: list[tuple[int, int]], tokens: list[_Token]) -> str:
    """Join subject words, keeping the typed spacing except where a token was cut out."""
    parts: list[str] = []
    prev_end: int | None = None
    starts = sorted(t.start for t in tokens)
    k = 0  # tokens and words are both in text order: one pass over each
    for start, end in words:
        if prev_end is not None:
            while k < len(starts) and starts[k] < prev_end:
                k += 1
            cut = k < len(starts) and starts[k] < start
            parts.append(" " if cut else text[prev_end:start])
        parts.append(text[start:end])
        prev_end = end
    return "".join(parts).strip()


def _not_applicable(tok: _Token, activity_type: ActivityType) -> str:
    kind = activity_type.value
    article = "an" if kind[0] in "aeiou" else "a"
    if tok.name == "due":
        return f"{tok.shown} — only tasks have a due date; use at: for when the {kind} happens"
    if tok.name == "at" and activity_type is ActivityType.TASK:
        return f"{tok.shown} — a task has a due date, not a time; use due:{tok.shown[3:]}"
    if tok.name == "for":
        return f"{tok.shown} — only calls and meetings have a duration, not {article} {kind}"
    if tok.name == "priority":
        return f"{tok.shown} — only tasks have a priority, not {article} {kind}"
    if tok.name == "dir":
        return f"{tok.shown} — only calls have a direction, not {article} {kind}"
    if tok.name == "outcome":
        return f"{tok.shown} — only calls have an outcome, not {article} {kind}"
    return f"{tok.shown} — doesn't apply to {article} {kind}"


def parse_quick_create(
    activity_type: ActivityType,
    text: str,
    *,
    tz: str | tzinfo,
    now: datetime,
) -> QuickCreate:
    """Read ``/rally <type> <text>`` into a subject and request fields (see module doc).

    Args:
        activity_type: The type word already read from the command.
        text: Everything after the type word, as Slack sent it (Slack escaping and
            link markup are undone here).
        tz: The person's Slack time zone (IANA name or tzinfo), for ``due:``/``at:``.
        now: The current instant, for relative dates.

    Returns:
        The subject and the fields by wire name, ready for
        ``CreateActivityRequest.model_validate(result.request_body() | associations)``.

    Raises:
        QuickCreateError: With one message per problem, each naming its token.
    """
    text = unescape_slack(text)
    tokens, words = _tokenize(text)
    subject = _subject(text, words, tokens)
    errors: list[str] = []
    fields: dict[str, Any] = {}
    seen: dict[str, _Token] = {}

    for tok in tokens:
        if tok.name in seen:
            errors.append(
                f"{tok.shown} — {_token_label(tok)} is given twice ({seen[tok.name].shown})"
            )
            continue
        seen[tok.name] = tok
        if tok.name not in _APPLIES[activity_type]:
            errors.append(_not_applicable(tok, activity_type))
            continue
        if tok.unterminated:
            errors.append(f"{tok.shown} — the quote is never closed")
            continue
        if tok.name in _KEYED and not tok.value.strip():
            errors.append(f"{tok.shown} — needs a value, e.g. {_EXAMPLE_VALUES[tok.name]}")
            continue
        try:
            fields.update(_token_fields(tok, activity_type, tz=tz, now=now))
        except ParseError as exc:
            errors.append(f"{tok.shown} — {exc}")

    if not subject:
        errors.insert(0, f"add a subject, e.g. {_SUBJECT_EXAMPLES[activity_type]}")
    elif len(subject) > SUBJECT_MAX:
        errors.insert(0, f"the subject is {len(subject)} characters long; keep it to {SUBJECT_MAX}")
    if len(errors) > MAX_MESSAGES:
        errors = [*errors[:MAX_MESSAGES], f"and {len(errors) - MAX_MESSAGES} more problems"]
    if errors:
        raise QuickCreateError(errors)
    return QuickCreate(activity_type=activity_type, subject=subject, fields=fields)


MAX_MESSAGES: Final = 5
"""At most this many problems are named in one reply."""

_EXAMPLE_VALUES: Final[dict[str, str]] = {
    "due": 'due:friday or due:"tomorrow 5pm"',
    "at": 'at:"tuesday 3pm"',
    "for": "for:30m",
    "dir": "dir:in or dir:out",
    "outcome": "outcome:connected",
}


def _token_label(tok: _Token) -> str:
    return {"priority": "a priority", "done": "done"}.get(tok.name, f"{tok.name}:")


def _token_fields(
    tok: _Token, activity_type: ActivityType, *, tz: str | tzinfo, now: datetime
) -> dict[str, Any]:
    """The request fields one applicable token sets; raises ParseError on a bad value."""
    value = tok.value.strip()
    if tok.name == "due":
        return {"dueDate": format_utc(parse_when(value, tz=tz, now=now))}
    if tok.name == "at":
        when = parse_when(value, tz=tz, now=now, default_time=AT_DEFAULT_TIME)
        return {"scheduledAt": format_utc(when)}
    if tok.name == "for":
        seconds = math.ceil(parse_duration(value).total_seconds())
        if activity_type is ActivityType.CALL:
            return {"callDurationSeconds": seconds}
        return {"durationMinutes": math.ceil(seconds / 60)}
    if tok.name == "priority":
        return {"priority": Priority(tok.value).value}
    if tok.name == "done":
        return {"status": Status.COMPLETED.value}
    if tok.name == "dir":
        direction = _DIRECTIONS.get(value.lower())
        if direction is None:
            raise ParseError("use dir:in or dir:out")
        return {"callDirection": direction.value}
    if tok.name == "outcome":
        outcome = re.sub(r"[\s-]+", "_", value.lower())
        if len(outcome) > 100:
            raise ParseError("an outcome is at most 100 characters")
        return {"callOutcome": outcome}
    raise AssertionError(f"unhandled token {tok.name}")  # pragma: no cover


# ---------------------------------------------------------------------- record refs

RecordKind: TypeAlias = Literal["deal", "company", "contact"]

_KIND_WORDS: Final[dict[str, RecordKind]] = {
    "deal": "deal",
    "deals": "deal",
    "company": "company",
    "companies": "company",
    "contact": "contact",
    "contacts": "contact",
}
_ANGLE_LINK_RE: Final = re.compile(r"<([^<>|]+)(?:\|[^<>]*)?>")


@dataclass(frozen=True, slots=True)
class RecordRef:
    """A Rally deal, company or contact a channel can be linked to."""

    kind: RecordKind
    id: str

    @property
    def wire_field(self) -> str:
        """The request field that associates an activity with it (``dealId``, ...)."""
        return f"{self.kind}Id"


def parse_record_ref(kind_hint: str | None, text: str) -> RecordRef:
    """Read the target of ``/rally link deal|company|contact <id or Rally URL>``.

    Accepts a bare GUID (any case; returned lower-case) or a Rally URL whose path has
    ``/deals/<id>``, ``/companies/<id>`` or ``/contacts/<id>`` (singular too, query and
    fragment ignored, a ``#/deals/<id>`` route too), also in Slack's ``<url|label>``
    form. A URL's kind must agree with ``kind_hint`` when both are given.

    Args:
        kind_hint: ``deal``/``company``/``contact`` (plural or any case), or None to
            take the kind from the URL.
        text: The id or URL.

    Returns:
        The record reference.

    Raises:
        RecordRefError: Saying what to paste instead.
    """
    kind: RecordKind | None = None
    if kind_hint is not None and kind_hint.strip():
        kind = _KIND_WORDS.get(kind_hint.strip().lower())
        if kind is None:
            raise RecordRefError(
                f'"{_clip(kind_hint)}" isn\'t something a channel can link to; '
                f"use deal, company or contact: {USAGE['link']}"
            )
    value = text.strip()
    if angle := _ANGLE_LINK_RE.fullmatch(value):
        value = angle.group(1).strip()
    value = value.strip("\"'“”").strip()
    if not value:
        what = f"the {kind}'s" if kind else "a deal's, company's or contact's"
        raise RecordRefError(f"paste {what} Rally URL or id: {USAGE['link']}")

    bare = value.removeprefix("{").removesuffix("}")
    if GUID_RE.match(bare):
        if kind is None:
            raise RecordRefError(
                f"say whether {bare.lower()} is a deal, company or contact, e.g. "
                f"/rally link deal {bare.lower()}"
            )
        return RecordRef(kind=kind, id=bare.lower())

    found = _ref_from_url(value)
    if found is None:
        raise RecordRefError(
            f"couldn't read \"{_clip(value)}\" as a Rally id or URL; paste the record's "
            "link (…/deals/<id>) or its id (like 3f2b8c1e-…)"
        )
    url_kind, guid = found
    if url_kind is None:
        if kind is None:
            raise RecordRefError(
                "that link has an id but doesn't say whether it's a deal, company or "
                f"contact; try /rally link deal {guid}"
            )
        url_kind = kind
    if kind is not None and url_kind != kind:
        raise RecordRefError(
            f"that link is to a {url_kind}, not a {kind}; use /rally link {url_kind} …"
        )
    return RecordRef(kind=url_kind, id=guid)


def _ref_from_url(value: str) -> tuple[RecordKind | None, str] | None:
    """(kind or None, guid) from a URL, or None when it isn't a URL with an id."""
    if not _URL_SCHEME_RE.match(value):
        if "/" not in value or any(c.isspace() for c in value):
            return None
        value = "https://" + value  # a pasted "acme.rallycrm.io/deals/…"
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # Single-page apps route in the fragment ("#/deals/<id>"): look there too.
    for path in (parts.path, urlsplit(parts.fragment).path if parts.fragment else ""):
        segments = [unquote(s) for s in path.split("/") if s]
        for i in range(len(segments) - 1, 0, -1):
            if GUID_RE.match(segments[i]):
                return _KIND_WORDS.get(segments[i - 1].lower()), segments[i].lower()
        if segments and GUID_RE.match(segments[0]):
            return None, segments[0].lower()
    return None


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
    """``/rally link <kind> <ref>``: bind the channel to ``ref``."""

    ref: RecordRef


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
    | ShowLinkCommand
    | UnlinkCommand
    | MeCommand
    | InvalidCommand
)

COMMAND_TEXT_MAX: Final = 4000
"""The longest ``/rally`` text read; longer is answered with a message, unread."""
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
    if word == "me":
        return _parse_me(rest)
    return HelpCommand(unknown=_clip(typed, 40))


def _parse_link(rest: str) -> Command:
    if not rest:
        return ShowLinkCommand()
    head, _, tail = rest.partition(" ")
    kind_hint: str | None = None
    target = rest
    if head.lower() in _KIND_WORDS:
        kind_hint, target = head, tail
    try:
        return LinkCommand(parse_record_ref(kind_hint, target))
    except RecordRefError as exc:
        return InvalidCommand("link", (str(exc),), USAGE["link"])


def _parse_me(rest: str) -> Command:
    value = unescape_slack(rest).strip().strip("{}")
    if not value:
        return MeCommand(owner_id=None)
    if not GUID_RE.match(value):
        return InvalidCommand(
            "me",
            (
                f'"{_clip(value)}" isn\'t a Rally owner id; it looks like '
                "3f2b8c1e-0d4a-4b6e-9c1f-2a7d5e8b9c01 (your profile in Rally shows it)",
            ),
            USAGE["me"],
        )
    return MeCommand(owner_id=value.lower())


# -------------------------------------------------------------------------- helpers


def _clip(text: str, limit: int = 80) -> str:
    """Keep echoed user text short in messages."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def warm_up() -> None:
    """Load dateparser's English data now, so the first ``/rally`` doesn't pay ~100 ms."""
    parse_when("tomorrow 5pm", tz=UTC, now=datetime.now(UTC))
