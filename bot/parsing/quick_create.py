"""The quick-create grammar: ``/rally <type> <subject and tokens>`` (see the package doc)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Final, Literal

from api_client.models import (
    SUBJECT_MAX,
    ActivityType,
    CallDirection,
    Priority,
    Status,
    format_utc,
)
from bot.parsing.common import ParseError, QuickCreateError, clip
from bot.parsing.dates import AT_DEFAULT_TIME, parse_when
from bot.parsing.durations import parse_duration
from bot.parsing.slack_text import unescape_slack

_SUBJECT_EXAMPLES: Final[dict[ActivityType, str]] = {
    ActivityType.TASK: "/rally task Send proposal due:friday",
    ActivityType.CALL: "/rally call Intro with Dana dir:out for:15m",
    ActivityType.NOTE: "/rally note Budget approved for Q3",
    ActivityType.MEETING: '/rally meeting Demo with Acme at:"tuesday 3pm" for:45m',
}


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
        return clip(self.raw, 60)


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
