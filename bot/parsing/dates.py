"""Dates and times as people type them, read in their own time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser
from dateparser.timezone_parser import pop_tz_offset_from_string

from bot.parsing.common import ParseError, clip

DUE_DEFAULT_TIME: Final = time(17, 0)
"""Local time of day a ``due:`` without one gets: the end of the working day."""
AT_DEFAULT_TIME: Final = time(9, 0)
"""Local time of day an ``at:`` without one gets: the start of the working day."""


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
        raise ParseError(f'"{clip(value)}" is too long to be a date or time')
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
        raise ParseError(f'couldn\'t read "{clip(value)}" as a date or time')
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
            f'"{clip(value)}" isn\'t a valid date; ISO 8601 looks like 2025-07-15 or '
            "2025-07-15T14:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = _localize(parsed, zone)
    return _utc(parsed, value)


def _utc(value: datetime, text: str) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ParseError(f'"{clip(text)}" is too far away') from None


def warm_up() -> None:
    """Load dateparser's English data now, so the first ``/rally`` doesn't pay ~100 ms."""
    parse_when("tomorrow 5pm", tz=UTC, now=datetime.now(UTC))
