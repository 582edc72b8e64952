"""Every parser on the request path is linear: any text up to 10,000 characters is read
(or refused) in well under Slack's 3 seconds, whatever it holds."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.listeners.shortcuts.log import note_values_from_message
from bot.parsing import (
    ParseError,
    QuickCreateCommand,
    parse_command,
    parse_duration,
    parse_minutes,
    parse_record_ref,
    unescape_slack,
    warm_up,
)

BUDGET_S = 0.05
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
# The pieces the grammars look for, so random text hits their hard paths.
PIECE_LIST = [
    "1m ",
    "1h",
    "30",
    ":",
    "due:",
    "at:",
    "for:",
    '"',
    "“",
    "!high",
    "done",
    "<",
    ">",
    "|",
    "<@U1|a>",
    "&amp;",
    "http://x.io/deals/",
    "5a1c0de0-ac3e-4d3a-9e55-000000000001",
    " ",
    "\n",
    "tomorrow",
    "5pm",
    ",",
    ".",
    "-",
    "x",
    "é",
]
PIECES = st.sampled_from(PIECE_LIST)
# A piece repeated, then something that breaks the pattern at the very end: what makes a
# backtracking grammar explore every way of splitting the repeats.
REPEATED = st.builds(
    lambda prefix, piece, n, tail: prefix + piece * n + tail,
    st.sampled_from(["", 'x for:"', 'x due:"', "x at:", "deal "]),
    PIECES,
    st.integers(20, 2000),
    st.sampled_from(["!", "?", " x", '"', ""]),
)
TEXTS = st.one_of(
    REPEATED,
    REPEATED,
    REPEATED,
    st.lists(PIECES, max_size=2500).map("".join),
    st.text(max_size=10_000),
)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


def _timed(fn: object, *args: object) -> float:
    """CPU seconds of this thread for one call, the best of up to three when over budget.

    CPU time, not the wall clock: on a loaded machine a call may wait for a core, which
    says nothing about the grammar. A backtracking grammar costs seconds of CPU on these
    texts, far past any budget, however often it is tried.
    """
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        with contextlib.suppress(ParseError):
            fn(*args)  # type: ignore[operator]
        best = min(best, time.thread_time() - started)
        if best < BUDGET_S:
            break
    return best


def _command(text: str) -> None:
    for kind in ("call ", "task ", "meeting ", "note ", "link deal ", "me ", ""):
        parsed = parse_command((kind + text)[:10_000])
        if isinstance(parsed, QuickCreateCommand):
            with contextlib.suppress(ParseError):
                parsed.parse(tz="America/New_York", now=NOW)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(TEXTS)
def test_any_text_is_read_within_the_budget(text: str) -> None:
    _within_budget(text[:10_000])


def _within_budget(text: str) -> None:
    # Each parser is timed alone; the budget is per call, with room for a loaded machine.
    for fn in (parse_duration, parse_minutes, unescape_slack):
        assert _timed(fn, text) < BUDGET_S, fn
    assert _timed(parse_record_ref, "deal", text) < BUDGET_S
    assert _timed(note_values_from_message, text, None) < BUDGET_S
    assert _timed(_command, text) < 7 * BUDGET_S


@pytest.mark.parametrize("prefix", ["", 'x for:"', 'x due:"', "deal "])
@pytest.mark.parametrize("piece", PIECE_LIST)
def test_every_piece_repeated_to_10000_characters(prefix: str, piece: str) -> None:
    for tail in ("!", '"', ""):
        text = (prefix + piece * (10_000 // len(piece)))[: 10_000 - len(tail)] + tail
        _within_budget(text)


@pytest.mark.parametrize("reps", [25, 40, 3000])
def test_the_duration_that_froze_a_worker_is_refused_at_once(reps: int) -> None:
    text = "1m " * reps + "!"
    assert _timed(parse_minutes, text) < BUDGET_S
    assert _timed(parse_duration, text) < BUDGET_S
    with pytest.raises(ParseError):
        parse_minutes(text)


def test_a_command_longer_than_the_limit_is_refused_unread() -> None:
    parsed = parse_command("task " + "x" * 9_000)
    assert type(parsed).__name__ == "InvalidCommand"
    assert "at most 4000" in parsed.messages[0]  # type: ignore[union-attr]


def test_durations_still_read_as_before() -> None:
    assert parse_minutes("1h30m") == 90
    assert parse_minutes("2 hours, 15 minutes") == 135
    assert parse_duration("1m 30s").total_seconds() == 90
    with pytest.raises(ParseError, match="unknown unit"):
        parse_duration("3 fortnights")
