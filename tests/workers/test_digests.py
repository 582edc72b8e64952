"""When a channel's digest is due: working days, the enabler's clock, once per local day."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.parsing import DigestCommand, InvalidCommand, parse_command
from core.store import Digest
from workers.digests import due_day, first_taken_day, next_post


def _digest(at: str = "09:00", tz: str = "Asia/Tokyo", last_day: str | None = None) -> Digest:
    return Digest("T1", "C1", at=at, tz=tz, enabled_by="U1", last_day=last_day)


# 2026-12-02 is a Wednesday; 00:00 UTC is 09:00 in Tokyo.
WEDNESDAY_0900_TOKYO = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


def test_due_from_its_local_time_on_a_working_day_until_that_day_is_taken() -> None:
    assert due_day(_digest(), WEDNESDAY_0900_TOKYO).isoformat() == "2026-12-02"  # type: ignore[union-attr]
    assert due_day(_digest(at="09:01"), WEDNESDAY_0900_TOKYO) is None
    assert due_day(_digest(last_day="2026-12-02"), WEDNESDAY_0900_TOKYO) is None
    assert due_day(_digest(last_day="2026-12-01"), WEDNESDAY_0900_TOKYO) is not None
    # The same instant is Tuesday 16:00 in Los Angeles: that digest was due on Tuesday.
    assert (
        due_day(_digest(tz="America/Los_Angeles", at="16:00"), WEDNESDAY_0900_TOKYO).isoformat()
        == "2026-12-01"
    )  # type: ignore[union-attr]


def test_weekends_are_skipped_and_an_unknown_zone_reads_as_utc() -> None:
    saturday = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # Saturday 12:00 in Tokyo
    assert due_day(_digest(), saturday) is None
    assert due_day(_digest(tz="Not/AZone"), datetime(2026, 12, 2, 9, 0, tzinfo=UTC)) is not None


def test_turning_it_on_late_means_tomorrow_and_the_next_post_says_when() -> None:
    assert first_taken_day(time(8, 0), "Asia/Tokyo", WEDNESDAY_0900_TOKYO) == "2026-12-02"
    assert first_taken_day(time(10, 0), "Asia/Tokyo", WEDNESDAY_0900_TOKYO) is None
    friday_late = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # Friday 21:00 in Tokyo
    monday = next_post(time(9, 0), "Asia/Tokyo", friday_late, "2026-12-04")
    assert (monday.date().isoformat(), monday.hour) == ("2026-12-07", 9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest", DigestCommand(on=None)),
        ("digest off", DigestCommand(on=False)),
        ("DIGEST ON", DigestCommand(on=True, at=time(9, 0))),
        ("digest on 7:05", DigestCommand(on=True, at=time(7, 5))),
        ("digest on 17.30", DigestCommand(on=True, at=time(17, 30))),
    ],
)
def test_digest_commands_are_read(text: str, expected: DigestCommand) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text", ["digest on 24:00", "digest on 9", "digest maybe", "digest off now"]
)
def test_bad_digest_commands_say_why_with_the_usage(text: str) -> None:
    parsed = parse_command(text)
    assert isinstance(parsed, InvalidCommand) and "digest on" in parsed.usage
