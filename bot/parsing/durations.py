"""Durations: ``30m``, ``1h30m``, ``45s``, ``1.5h``, ``1:30``, and the modals' minutes."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Final

from bot.parsing.common import ParseError, clip

MAX_DURATION: Final = timedelta(days=7)
"""The API's ceiling for both ``callDurationSeconds`` and ``durationMinutes``."""
MAX_MINUTES: Final = int(MAX_DURATION.total_seconds()) // 60


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
        raise ParseError(f'"{clip(raw)}" is too long for a duration; {_DURATION_HINT}')
    if s.startswith("-"):
        raise ParseError(f'"{clip(raw)}" is negative; a duration can\'t be')
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
                raise ParseError(f'"{clip(raw)}" has an unknown unit "{unit}"; {_DURATION_HINT}')
            seconds += float(number) * _DURATION_UNITS[unit]
    else:
        raise ParseError(f'couldn\'t read "{clip(raw)}" as a duration; {_DURATION_HINT}')
    if not math.isfinite(seconds) or seconds > maximum.total_seconds():
        raise ParseError(f'"{clip(raw)}" is longer than {_describe(maximum)}')
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
        raise ParseError(f'"{clip(raw)}" is too long; enter a number of minutes, e.g. 30')
    if re.fullmatch(r"[+-]?[0-9]+", raw):
        minutes = int(raw)
        if minutes < 0:
            raise ParseError("a duration can't be negative; enter minutes, e.g. 30")
    elif re.fullmatch(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)", raw):
        if raw.startswith("-"):
            raise ParseError("a duration can't be negative; enter minutes, e.g. 30")
        raise ParseError(f'enter whole minutes, not "{clip(raw)}"')
    else:
        try:
            td = parse_duration(raw, maximum=timedelta(minutes=maximum))
        except ParseError as exc:
            if "negative" in str(exc):
                raise ParseError("a duration can't be negative; enter minutes, e.g. 30") from None
            if "longer than" in str(exc):
                raise ParseError(_too_many_minutes(maximum)) from None
            raise ParseError(
                f'couldn\'t read "{clip(raw)}" as minutes; enter a number such as 30'
            ) from None
        minutes = math.ceil(td.total_seconds() / 60)
    if minutes > maximum:
        raise ParseError(_too_many_minutes(maximum))
    return minutes


def _too_many_minutes(maximum: int) -> str:
    if maximum % 1440 == 0:
        return f"at most {maximum} minutes ({maximum // 1440} days)"
    return f"at most {maximum} minutes"
