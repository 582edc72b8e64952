"""A thread as plain text: mrkdwn undone, mentions named, cut at a message boundary."""

from __future__ import annotations

import time

import pytest

from slack_ui.transcript import Line, build_transcript, mrkdwn_to_plain, omitted_line

USERS = {"U0BOB": "Bob Tanaka", "U0ALICE": "Alice Moreno"}
CHANNELS = {"C0ACME": "deal-acme"}


def plain(text: str) -> str:
    return mrkdwn_to_plain(text, users=USERS.get, channels=CHANNELS.get)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("hi <@U0BOB>, see <#C0ACME>", "hi @Bob Tanaka, see #deal-acme"),
        ("<@U0GONE|zed> and <@U0NOLABEL>", "@zed and @U0NOLABEL"),
        ("<#C0OTHER|renamed-since>", "#renamed-since"),
        (
            "<https://acme.example/q?a=1&amp;b=2|the quote>",
            "the quote (https://acme.example/q?a=1&b=2)",
        ),
        ("<https://acme.example/>", "https://acme.example/"),
        ("<https://x.example|https://x.example>", "https://x.example"),
        ("<mailto:sam@acme.example|sam@acme.example>", "sam@acme.example"),
        (
            "<!here> <!channel> <!subteam^S1|@sales> <!date^1700000000^{date}|Nov 14>",
            "@here @channel @sales Nov 14",
        ),
        ("Tom &amp; Jerry &lt;3 &gt; &amp;lt;", "Tom & Jerry <3 > &lt;"),
        ("*bold* and _italic_ and ~struck~", "bold and italic and struck"),
        ("*see <https://x.example|this>*", "see this (https://x.example)"),
        ("snake_case_name and 2*3*4 and a * b", "snake_case_name and 2*3*4 and a * b"),
        ("`*not bold*` and ```\n_raw_ &amp;\n```", "`*not bold*` and ```\n_raw_ &\n```"),
        ("*open bold\nnext line*", "*open bold\nnext line*"),
        ("a \ue000 0 \ue001 b", "a  0  b"),
    ],
)
def test_mrkdwn_becomes_plain_text(wire: str, expected: str) -> None:
    assert plain(wire) == expected


def test_conversion_is_linear_on_hostile_text() -> None:
    for hostile in ("*a" * 20_000, "_" * 40_000, "<" * 40_000, "<@" * 20_000, "`" * 40_000):
        started = time.thread_time()  # CPU time: a loaded machine's waits are not ours
        plain(hostile)
        assert time.thread_time() - started < 0.5, hostile[:10]


def _lines(n: int, size: int = 10) -> list[Line]:
    return [Line("Bob", "2026-12-01 09:00 PST", f"{i:0{size}d}") for i in range(n)]


def test_a_short_thread_is_whole() -> None:
    transcript = build_transcript("Slack thread: https://x", _lines(3))
    assert transcript.body == (
        "Slack thread: https://x\n\n"
        "Bob (2026-12-01 09:00 PST): 0000000000\n"
        "Bob (2026-12-01 09:00 PST): 0000000001\n"
        "Bob (2026-12-01 09:00 PST): 0000000002"
    )
    assert (transcript.included, transcript.omitted) == (3, 0)


@pytest.mark.parametrize("limit", [200, 500, 1000, 4096])
def test_a_long_thread_is_cut_at_a_message_with_the_count_of_what_was_left_out(
    limit: int,
) -> None:
    lines = _lines(500)
    transcript = build_transcript("Slack thread: https://x", lines, limit=limit)
    assert len(transcript.body) <= limit
    *kept, last = transcript.body.split("\n")
    assert last == omitted_line(transcript.omitted, limit)
    assert transcript.included + transcript.omitted == 500
    assert kept[2:] == [line.render() for line in lines[: transcript.included]]


def test_exactly_at_the_limit_nothing_is_left_out() -> None:
    lines = _lines(4)
    whole = build_transcript("h", lines).body
    transcript = build_transcript("h", lines, limit=len(whole))
    assert (transcript.body, transcript.omitted) == (whole, 0)


def test_a_first_message_longer_than_the_limit_is_cut_inside() -> None:
    lines = [Line("Bob", "t", "x" * 5000), *_lines(2)]
    transcript = build_transcript("h", lines, limit=1000)
    assert len(transcript.body) <= 1000
    assert transcript.body.split("\n")[2].endswith("…")
    assert transcript.omitted == 2
