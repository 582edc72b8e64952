"""The /rally text grammar: subcommands, quick-create tokens, dates in four zones,
durations, record references. Pure functions, so tests call them directly.

The clock is fixed at Friday 2025-03-28 23:30 UTC, which is
  Fri 16:30 in Los Angeles (PDT, -7),
  Sat 08:30 in Tokyo (+9),
  Sat 12:30 in Auckland (NZDT, +13: across the date line, "friday" is next week),
  Fri 23:30 in London (GMT; clocks go forward to BST at 01:00 UTC on Sunday the 30th).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api_client.models import ActivityType, CreateActivityRequest
from bot.parsing import (
    HelpCommand,
    InvalidCommand,
    LinkCommand,
    MeCommand,
    NameCommand,
    OpenModalCommand,
    ParseError,
    QuickCreateCommand,
    QuickCreateError,
    RecordRef,
    RecordRefError,
    ShowLinkCommand,
    TasksCommand,
    UnlinkCommand,
    parse_command,
    parse_duration,
    parse_minutes,
    parse_quick_create,
    parse_record_ref,
    parse_when,
    unescape_slack,
    warm_up,
)

NOW = datetime(2025, 3, 28, 23, 30, tzinfo=UTC)
LA, TOKYO, AUCKLAND, LONDON = (
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Pacific/Auckland",
    "Europe/London",
)
GUID = "3f2b8c1e-0d4a-4b6e-9c1f-2a7d5e8b9c01"
TASK, CALL, NOTE, MEETING = (
    ActivityType.TASK,
    ActivityType.CALL,
    ActivityType.NOTE,
    ActivityType.MEETING,
)


def quick(activity_type: ActivityType, text: str, tz: str = LA) -> tuple[str, dict[str, Any]]:
    result = parse_quick_create(activity_type, text, tz=tz, now=NOW)
    # Whatever the grammar produces must be a valid request as it stands.
    CreateActivityRequest.model_validate(result.request_body())
    return result.subject, result.fields


def errors_of(activity_type: ActivityType, text: str, tz: str = LA) -> list[str]:
    with pytest.raises(QuickCreateError) as caught:
        parse_quick_create(activity_type, text, tz=tz, now=NOW)
    assert str(caught.value) == "; ".join(caught.value.messages)
    return caught.value.messages


# ----------------------------------------------------------------------------- the SPEC


@pytest.mark.parametrize(
    ("tz", "due"),
    [
        (LA, "2025-03-30T00:00:00Z"),  # Sat 17:00 PDT
        (TOKYO, "2025-03-30T08:00:00Z"),  # Sun 17:00 JST
        (AUCKLAND, "2025-03-30T04:00:00Z"),  # Sun 17:00 NZDT
        (LONDON, "2025-03-29T17:00:00Z"),  # Sat 17:00 GMT
    ],
)
def test_spec_example_reads_tomorrow_5pm_in_the_users_zone(tz: str, due: str) -> None:
    result = parse_command('task Send proposal to Acme due:"tomorrow 5pm" !high')
    assert isinstance(result, QuickCreateCommand)
    created = result.parse(tz=tz, now=NOW)
    assert created.activity_type is TASK
    assert created.subject == "Send proposal to Acme"
    assert created.fields == {"dueDate": due, "priority": "high"}
    assert created.request_body() == {
        "activityType": "task",
        "subject": "Send proposal to Acme",
        "dueDate": due,
        "priority": "high",
    }


# ------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("tz", "token", "expected"),
    [
        # Los Angeles, Friday 16:30
        (LA, "due:tomorrow", "2025-03-30T00:00:00Z"),  # a day alone means 17:00 local
        (LA, "due:friday", "2025-04-05T00:00:00Z"),  # today is Friday: the next one
        (LA, "due:5pm", "2025-03-29T00:00:00Z"),  # still ahead today
        (LA, "due:4pm", "2025-03-29T23:00:00Z"),  # passed today: tomorrow
        (LA, 'due:"in 2 hours"', "2025-03-29T01:30:00Z"),
        (LA, 'due:"next monday 9am"', "2025-03-31T16:00:00Z"),
        (LA, "due:2025-04-02", "2025-04-03T00:00:00Z"),
        (LA, "due:2025-04-02T10:00", "2025-04-02T17:00:00Z"),
        (LA, "due:2025-04-02T10:00Z", "2025-04-02T10:00:00Z"),
        (LA, "due:2025-04-02T10:00+02:00", "2025-04-02T08:00:00Z"),
        (LA, 'due:"2025-04-02 10:00"', "2025-04-02T17:00:00Z"),
        (LA, 'due:"friday 5pm EST"', "2025-04-04T22:00:00Z"),  # a zone in the text wins
        (LA, "DUE:Tomorrow", "2025-03-30T00:00:00Z"),
        (LA, "due:“friday 5pm”", "2025-04-05T00:00:00Z"),  # Slack's curly quotes
        (LA, "due:”friday 5pm”", "2025-04-05T00:00:00Z"),
        # Tokyo, Saturday 08:30: a bare time is today when still ahead
        (TOKYO, "due:5pm", "2025-03-29T08:00:00Z"),
        (TOKYO, "due:noon", "2025-03-29T03:00:00Z"),
        (TOKYO, "due:8am", "2025-03-29T23:00:00Z"),
        (TOKYO, "due:tomorrow", "2025-03-30T08:00:00Z"),
        (TOKYO, "due:friday", "2025-04-04T08:00:00Z"),
        (TOKYO, "due:2025-04-02", "2025-04-02T08:00:00Z"),
        # Auckland, Saturday 12:30, while UTC is still on Friday
        (AUCKLAND, "due:friday", "2025-04-04T04:00:00Z"),
        (AUCKLAND, 'due:"today 5pm"', "2025-03-29T04:00:00Z"),
        (AUCKLAND, "due:tomorrow", "2025-03-30T04:00:00Z"),
        (AUCKLAND, "due:2025-04-07", "2025-04-07T05:00:00Z"),  # after NZDT ends: +12
        # London, Friday 23:30 GMT, BST from Sunday 01:00 UTC
        (LONDON, "due:9am", "2025-03-29T09:00:00Z"),
        (LONDON, 'due:"tomorrow 5pm"', "2025-03-29T17:00:00Z"),  # GMT
        (LONDON, 'due:"sunday 5pm"', "2025-03-30T16:00:00Z"),  # BST
        (LONDON, "due:2025-03-30", "2025-03-30T16:00:00Z"),
        (LONDON, 'due:"in 3 days"', "2025-03-31T16:00:00Z"),
    ],
)
def test_due_is_read_in_the_users_zone_preferring_the_future(
    tz: str, token: str, expected: str
) -> None:
    assert quick(TASK, f"Follow up {token}", tz) == ("Follow up", {"dueDate": expected})


@pytest.mark.parametrize(
    ("tz", "token", "expected"),
    [
        (LA, "at:tomorrow", "2025-03-29T16:00:00Z"),  # a day alone means 09:00 local for at:
        (LA, 'at:"tuesday 3pm"', "2025-04-01T22:00:00Z"),
        (LA, "at:2025-04-02", "2025-04-02T16:00:00Z"),
        (TOKYO, "at:monday", "2025-03-31T00:00:00Z"),
        (AUCKLAND, 'at:"monday 10:30"', "2025-03-30T21:30:00Z"),
        (LONDON, "at:2025-03-31T09:00", "2025-03-31T08:00:00Z"),
    ],
)
def test_at_is_read_in_the_users_zone(tz: str, token: str, expected: str) -> None:
    for activity_type in (CALL, MEETING, NOTE):
        assert quick(activity_type, f"Demo {token}", tz) == ("Demo", {"scheduledAt": expected})


def test_a_timezone_object_and_a_naive_now_are_accepted() -> None:
    when = parse_when("5pm", tz=timezone(timedelta(hours=9)), now=NOW.replace(tzinfo=None))
    assert when == datetime(2025, 3, 29, 8, 0, tzinfo=UTC)


def test_an_unknown_zone_name_falls_back_to_utc() -> None:
    assert parse_when("2025-04-02T10:00", tz="Mars/Olympus_Mons", now=NOW) == datetime(
        2025, 4, 2, 10, 0, tzinfo=UTC
    )


def test_an_unreadable_date_is_answered_quickly() -> None:
    warm_up()
    started = time.thread_time()  # CPU time: a loaded machine's waits are not the parser's
    with pytest.raises(ParseError):
        parse_when("flurbsday", tz=LA, now=NOW)
    # All-language detection took over a second on a miss; Slack allows three in total.
    assert time.thread_time() - started < 0.5


# ------------------------------------------------------------------------- other tokens


@pytest.mark.parametrize(
    ("activity_type", "text", "subject", "fields"),
    [
        (TASK, "Call back !urgent", "Call back", {"priority": "urgent"}),
        (TASK, "!LOW Tidy CRM", "Tidy CRM", {"priority": "low"}),
        (TASK, "Ship it !normal done", "Ship it", {"priority": "normal", "status": "completed"}),
        (TASK, "Get the deal done by Friday", "Get the deal done by Friday", {}),
        (
            TASK,
            "Get contract done due:2025-04-02",
            "Get contract",
            {"dueDate": "2025-04-03T00:00:00Z", "status": "completed"},
        ),
        (TASK, "Review !important items", "Review !important items", {}),
        (CALL, "Intro with Dana dir:out", "Intro with Dana", {"callDirection": "outbound"}),
        (CALL, "Dana dir:inbound", "Dana", {"callDirection": "inbound"}),
        (CALL, "Dana dir:Incoming", "Dana", {"callDirection": "inbound"}),
        (CALL, "Dana dir:OUTGOING", "Dana", {"callDirection": "outbound"}),
        (CALL, "Dana outcome:connected", "Dana", {"callOutcome": "connected"}),
        (CALL, "Dana outcome:No-Answer", "Dana", {"callOutcome": "no_answer"}),
        (CALL, 'Dana outcome:"left message"', "Dana", {"callOutcome": "left_message"}),
        (CALL, "Dana for:30m", "Dana", {"callDurationSeconds": 1800}),
        (CALL, "Dana for:1h30m", "Dana", {"callDurationSeconds": 5400}),
        (CALL, "Dana for:45s", "Dana", {"callDurationSeconds": 45}),
        (CALL, "Dana for:90", "Dana", {"callDurationSeconds": 5400}),  # bare number: minutes
        (CALL, "Dana for:0", "Dana", {"callDurationSeconds": 0}),
        (CALL, "Dana done", "Dana", {"status": "completed"}),
        (
            CALL,
            "Dana dir:out outcome:voicemail for:2m done",
            "Dana",
            {
                "callDirection": "outbound",
                "callOutcome": "voicemail",
                "callDurationSeconds": 120,
                "status": "completed",
            },
        ),
        (MEETING, "Demo for:45m", "Demo", {"durationMinutes": 45}),
        (MEETING, "Demo for:2h", "Demo", {"durationMinutes": 120}),
        (MEETING, "Demo for:90s", "Demo", {"durationMinutes": 2}),  # rounded up
        (MEETING, 'Demo for:"1h 15m"', "Demo", {"durationMinutes": 75}),
        (MEETING, "Demo for:1.5h", "Demo", {"durationMinutes": 90}),
        (MEETING, "Demo for:1:30", "Demo", {"durationMinutes": 90}),
        (NOTE, "Budget approved for Q3", "Budget approved for Q3", {}),
        (NOTE, "Budget approved done", "Budget approved", {"status": "completed"}),
    ],
)
def test_tokens_become_the_types_fields(
    activity_type: ActivityType, text: str, subject: str, fields: dict[str, Any]
) -> None:
    assert quick(activity_type, text) == (subject, fields)


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        (
            "Send deck https://acme.example/deck?id=1 due:friday",
            "Send deck https://acme.example/deck?id=1",
        ),
        ("Re:pricing question due:friday", "Re:pricing question"),
        ("Ask  about   renewal due:friday", "Ask  about   renewal"),  # spacing kept
        ("Ask about due:friday renewal", "Ask about renewal"),  # one space where a token was
        ("  Ask about renewal  due:friday  ", "Ask about renewal"),
        ("Q3 plan: draft, review & send due:friday", "Q3 plan: draft, review & send"),
        ('Send "final" deck due:friday', 'Send "final" deck'),
        ("note:important follow-up due:friday", "note:important follow-up"),
        ("Email <https://acme.example/x|acme.example/x> due:friday", "Email acme.example/x"),
        ("Email <https://acme.example/x> due:friday", "Email https://acme.example/x"),
        ("Ask <@U123ABC|dana> due:friday", "Ask @dana"),
        ("Ask <@U123ABC> due:friday", "Ask <@U123ABC>"),
        ("Tell <!here> due:friday", "Tell @here"),
        ("Q&amp;A &lt;draft&gt; due:friday", "Q&A <draft>"),
        ("Literal &amp;lt; due:friday", "Literal &lt;"),
    ],
)
def test_the_subject_keeps_what_the_user_typed(text: str, subject: str) -> None:
    assert quick(TASK, text)[0] == subject


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("activity_type", "text", "expected"),
    [
        (
            TASK,
            'due:"flurbsday"',
            [
                "add a subject, e.g. /rally task Send proposal due:friday",
                'due:"flurbsday" — couldn\'t read "flurbsday" as a date or time',
            ],
        ),
        (TASK, "   ", ["add a subject, e.g. /rally task Send proposal due:friday"]),
        (TASK, "!high done", ["add a subject, e.g. /rally task Send proposal due:friday"]),
        (CALL, "dir:out", ["add a subject, e.g. /rally call Intro with Dana dir:out for:15m"]),
        (
            TASK,
            "Plan due:flurbsday",
            ['due:flurbsday — couldn\'t read "flurbsday" as a date or time'],
        ),
        (
            TASK,
            "Plan due:2025-02-30",
            [
                'due:2025-02-30 — "2025-02-30" isn\'t a valid date; ISO 8601 looks like 2025-07-15 or 2025-07-15T14:00'
            ],
        ),
        (TASK, "Plan due:", ['due: — needs a value, e.g. due:friday or due:"tomorrow 5pm"']),
        (TASK, 'Plan due:""', ['due:"" — needs a value, e.g. due:friday or due:"tomorrow 5pm"']),
        (TASK, 'Plan due:"friday 5pm', ['due:"friday 5pm — the quote is never closed']),
        (TASK, "Plan due:friday due:monday", ["due:monday — due: is given twice (due:friday)"]),
        (TASK, "Plan !high !low", ["!low — a priority is given twice (!high)"]),
        (TASK, "Plan at:friday", ["at:friday — a task has a due date, not a time; use due:friday"]),
        (TASK, "Plan dir:in", ["dir:in — only calls have a direction, not a task"]),
        (TASK, "Plan outcome:busy", ["outcome:busy — only calls have an outcome, not a task"]),
        (TASK, "Plan for:30m", ["for:30m — only calls and meetings have a duration, not a task"]),
        (NOTE, "Hi !high", ["!high — only tasks have a priority, not a note"]),
        (NOTE, "Hi for:30m", ["for:30m — only calls and meetings have a duration, not a note"]),
        (
            NOTE,
            "Hi due:friday",
            ["due:friday — only tasks have a due date; use at: for when the note happens"],
        ),
        (
            CALL,
            "Dana due:friday",
            ["due:friday — only tasks have a due date; use at: for when the call happens"],
        ),
        (CALL, "Dana !urgent", ["!urgent — only tasks have a priority, not a call"]),
        (MEETING, "Demo dir:out", ["dir:out — only calls have a direction, not a meeting"]),
        (
            MEETING,
            "Demo outcome:great",
            ["outcome:great — only calls have an outcome, not a meeting"],
        ),
        (CALL, "Dana dir:sideways", ["dir:sideways — use dir:in or dir:out"]),
        (
            CALL,
            "Dana for:soon",
            ['for:soon — couldn\'t read "soon" as a duration; try 30m, 1h30m, 45s or 90 (minutes)'],
        ),
        (CALL, "Dana for:-5m", ['for:-5m — "-5m" is negative; a duration can\'t be']),
        (CALL, "Dana for:8d", ['for:8d — "8d" is longer than 7 days']),
        (
            CALL,
            "Dana for:3fortnights",
            [
                'for:3fortnights — "3fortnights" has an unknown unit "fortnights"; try 30m, 1h30m, 45s or 90 (minutes)'
            ],
        ),
        (MEETING, "Demo for:999999h", ['for:999999h — "999999h" is longer than 7 days']),
        (TASK, "x" * 501, ["the subject is 501 characters long; keep it to 500"]),
        (
            NOTE,
            "!high dir:in at:nope",
            [
                "add a subject, e.g. /rally note Budget approved for Q3",
                "!high — only tasks have a priority, not a note",
                "dir:in — only calls have a direction, not a note",
                'at:nope — couldn\'t read "nope" as a date or time',
            ],
        ),
    ],
)
def test_problems_are_each_named_with_their_token(
    activity_type: ActivityType, text: str, expected: list[str]
) -> None:
    assert errors_of(activity_type, text) == expected


def test_an_outcome_longer_than_the_api_allows_is_refused() -> None:
    (message,) = errors_of(CALL, "Dana outcome:" + "x" * 101)
    assert message.endswith("an outcome is at most 100 characters")


# ---------------------------------------------------------------------------- properties

_TOKEN_KEYS = {"due", "at", "for", "dir", "outcome"}
_word = (
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"]).filter(lambda c: not c.isspace()),
        min_size=1,
        max_size=12,
    )
    .filter(lambda w: w.partition(":")[0].lower() not in _TOKEN_KEYS or ":" not in w)
    .filter(lambda w: w.lower() not in {"!low", "!normal", "!high", "!urgent"})
)
_gap = st.text(alphabet=" \t\u00a0\u3000", min_size=1, max_size=3)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def _subjects(draw: st.DrawFn) -> str:
    words = draw(st.lists(_word, min_size=1, max_size=8))
    if words[-1].lower() == "done":  # a trailing "done" is the status token
        words.append("x")
    gaps = draw(st.lists(_gap, min_size=len(words) - 1, max_size=len(words) - 1))
    lead, trail = draw(st.sampled_from(["", " "])), draw(st.sampled_from(["", "  "]))
    text = words[0] + "".join(g + w for g, w in zip(gaps, words[1:], strict=True))
    return lead + text + trail


@settings(max_examples=300, deadline=None)
@given(subject=_subjects(), activity_type=st.sampled_from(list(ActivityType)))
def test_text_without_tokens_is_the_subject_unchanged(
    subject: str, activity_type: ActivityType
) -> None:
    result = parse_quick_create(activity_type, _slack_escape(subject), tz=LA, now=NOW)
    assert result.subject == subject.strip()
    assert result.fields == {}


@settings(max_examples=100, deadline=None)
@given(subject=_subjects())
def test_tokens_around_a_subject_leave_it_alone(subject: str) -> None:
    text = f'!high {_slack_escape(subject)} due:"tomorrow 5pm" done'
    result = parse_quick_create(TASK, text, tz=LA, now=NOW)
    assert result.subject == subject.strip()
    assert result.fields == {
        "priority": "high",
        "dueDate": "2025-03-30T00:00:00Z",
        "status": "completed",
    }


# ---------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2 hours 15 minutes", timedelta(hours=2, minutes=15)),
        ("45s", timedelta(seconds=45)),
        ("45 sec", timedelta(seconds=45)),
        ("2h", timedelta(hours=2)),
        ("2H", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        (".5h", timedelta(minutes=30)),
        ("90", timedelta(minutes=90)),
        ("+10", timedelta(minutes=10)),
        ("1:30", timedelta(hours=1, minutes=30)),
        ("0:00:45", timedelta(seconds=45)),
        ("1d", timedelta(days=1)),
        ("7d", timedelta(days=7)),
        ("0", timedelta(0)),
    ],
)
def test_parse_duration_reads_common_forms(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter a duration; try 30m, 1h30m, 45s or 90 (minutes)"),
        ("soon", 'couldn\'t read "soon" as a duration; try 30m, 1h30m, 45s or 90 (minutes)'),
        ("-5", '"-5" is negative; a duration can\'t be'),
        ("3 weeks", '"3 weeks" has an unknown unit "weeks"; try 30m, 1h30m, 45s or 90 (minutes)'),
        ("7d1s", '"7d1s" is longer than 7 days'),
        ("1e999", 'couldn\'t read "1e999" as a duration; try 30m, 1h30m, 45s or 90 (minutes)'),
        ("1:75", 'couldn\'t read "1:75" as a duration; try 30m, 1h30m, 45s or 90 (minutes)'),
    ],
)
def test_parse_duration_refuses_clearly(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_parse_duration_takes_a_lower_ceiling() -> None:
    with pytest.raises(ParseError, match="longer than 1 day"):
        parse_duration("25h", maximum=timedelta(days=1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", 30),
        (" 45 ", 45),
        ("0", 0),
        ("+5", 5),
        ("10080", 10080),
        ("1h30m", 90),
        ("90s", 2),
        ("2h", 120),
    ],
)
def test_parse_minutes_reads_modal_durations(text: str, expected: int) -> None:
    assert parse_minutes(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter a number of minutes, e.g. 30"),
        ("  ", "enter a number of minutes, e.g. 30"),
        ("-5", "a duration can't be negative; enter minutes, e.g. 30"),
        ("-1.5", "a duration can't be negative; enter minutes, e.g. 30"),
        ("-1h", "a duration can't be negative; enter minutes, e.g. 30"),
        ("1.5", 'enter whole minutes, not "1.5"'),
        ("abc", 'couldn\'t read "abc" as minutes; enter a number such as 30'),
        ("10081", "at most 10080 minutes (7 days)"),
        ("99999999999999999999", "at most 10080 minutes (7 days)"),
        ("200h", "at most 10080 minutes (7 days)"),
    ],
)
def test_parse_minutes_refuses_clearly(text: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_minutes(text)
    assert str(caught.value) == message


def test_parse_minutes_takes_a_lower_ceiling() -> None:
    assert parse_minutes("240", maximum=240) == 240
    with pytest.raises(ParseError, match="at most 240 minutes"):
        parse_minutes("241", maximum=240)


# -------------------------------------------------------------------------- record refs

UPPER = GUID.upper()


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("deal", GUID, RecordRef("deal", GUID)),
        ("Deal", UPPER, RecordRef("deal", GUID)),
        ("companies", f"  {GUID}  ", RecordRef("company", GUID)),
        ("contact", f"{{{GUID}}}", RecordRef("contact", GUID)),
        ("deal", f"https://acme.rallycrm.io/deals/{UPPER}", RecordRef("deal", GUID)),
        (None, f"https://acme.rallycrm.io/deals/{GUID}", RecordRef("deal", GUID)),
        (None, f"https://acme.rallycrm.io/companies/{GUID}", RecordRef("company", GUID)),
        (None, f"https://acme.rallycrm.io/contacts/{GUID}", RecordRef("contact", GUID)),
        (None, f"https://acme.rallycrm.io/deal/{GUID}", RecordRef("deal", GUID)),
        (None, f"https://acme.rallycrm.io/company/{GUID}?tab=activity", RecordRef("company", GUID)),
        (None, f"https://acme.rallycrm.io/contact/{GUID}#notes", RecordRef("contact", GUID)),
        (None, f"https://acme.rallycrm.io/app/deals/{GUID}/activities", RecordRef("deal", GUID)),
        (None, f"https://acme.rallycrm.io/#/deals/{GUID}", RecordRef("deal", GUID)),
        (None, f"HTTP://ACME.RALLYCRM.IO/DEALS/{UPPER}", RecordRef("deal", GUID)),
        (None, f"<https://acme.rallycrm.io/deals/{GUID}>", RecordRef("deal", GUID)),
        (
            None,
            f"<https://acme.rallycrm.io/deals/{GUID}|Acme renewal deal>",
            RecordRef("deal", GUID),
        ),
        (
            "deal",
            f"<https://acme.rallycrm.io/deals/{GUID}|acme.rallycrm.io/deals/…>",
            RecordRef("deal", GUID),
        ),
        (None, f"acme.rallycrm.io/contacts/{GUID}", RecordRef("contact", GUID)),
        ("deal", f"https://crm.example.com/records/{GUID}", RecordRef("deal", GUID)),
    ],
)
def test_parse_record_ref_accepts_ids_and_rally_urls(
    kind: str | None, text: str, expected: RecordRef
) -> None:
    assert parse_record_ref(kind, text) == expected


def test_record_ref_names_its_wire_field() -> None:
    assert [RecordRef(k, GUID).wire_field for k in ("deal", "company", "contact")] == [
        "dealId",
        "companyId",
        "contactId",
    ]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (
            "deal",
            f"https://acme.rallycrm.io/companies/{GUID}",
            "that link is to a company, not a deal; use /rally link company …",
        ),
        (
            "contact",
            f"<https://acme.rallycrm.io/deal/{GUID}|deal>",
            "that link is to a deal, not a contact; use /rally link deal …",
        ),
        (
            None,
            GUID,
            f"say whether {GUID} is a deal, company or contact, e.g. /rally link deal {GUID}",
        ),
        (
            "opportunity",
            GUID,
            '"opportunity" isn\'t something a channel can link to; use deal, company or contact: /rally link deal|company|contact <id or Rally URL> ["name"]',
        ),
        (
            "deal",
            "",
            'paste the deal\'s Rally URL or id: /rally link deal|company|contact <id or Rally URL> ["name"]',
        ),
        (
            None,
            "  ",
            "paste a deal's, company's or contact's Rally URL or id: /rally link deal|company|contact <id or Rally URL> [\"name\"]",
        ),
        (
            "deal",
            "12345",
            "couldn't read \"12345\" as a Rally id or URL; paste the record's link (…/deals/<id>) or its id (like 3f2b8c1e-…)",
        ),
        (
            "deal",
            GUID[:-1],
            f"couldn't read \"{GUID[:-1]}\" as a Rally id or URL; paste the record's link (…/deals/<id>) or its id (like 3f2b8c1e-…)",
        ),
        (
            "deal",
            "https://acme.rallycrm.io/deals/",
            "couldn't read \"https://acme.rallycrm.io/deals/\" as a Rally id or URL; paste the record's link (…/deals/<id>) or its id (like 3f2b8c1e-…)",
        ),
        (
            "deal",
            f"ftp://acme.rallycrm.io/deals/{GUID}",
            f"couldn't read \"ftp://acme.rallycrm.io/deals/{GUID}\" as a Rally id or URL; paste the record's link (…/deals/<id>) or its id (like 3f2b8c1e-…)",
        ),
        (
            None,
            f"https://crm.example.com/records/{GUID}",
            f"that link has an id but doesn't say whether it's a deal, company or contact; try /rally link deal {GUID}",
        ),
    ],
)
def test_parse_record_ref_refuses_clearly(kind: str | None, text: str, message: str) -> None:
    with pytest.raises(RecordRefError) as caught:
        parse_record_ref(kind, text)
    assert str(caught.value) == message


# ----------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", HelpCommand()),
        ("   ", HelpCommand()),
        ("help", HelpCommand()),
        ("HELP me please", HelpCommand()),
        ("frobnicate the deal", HelpCommand(unknown="frobnicate")),
        ("calls", HelpCommand(unknown="calls")),
        ("call", OpenModalCommand(CALL)),
        ("Task", OpenModalCommand(TASK)),
        (" NOTE ", OpenModalCommand(NOTE)),
        ("meeting", OpenModalCommand(MEETING)),
        ("task Send proposal  due:friday ", QuickCreateCommand(TASK, "Send proposal  due:friday")),
        ("CALL Dana dir:out", QuickCreateCommand(CALL, "Dana dir:out")),
        ("tasks", TasksCommand()),
        ("Tasks overdue", TasksCommand()),
        ("link", ShowLinkCommand()),
        ("unlink", UnlinkCommand()),
        ("UNLINK", UnlinkCommand()),
        (f"link deal {UPPER}", LinkCommand(RecordRef("deal", GUID))),
        (f"LINK Company {GUID}", LinkCommand(RecordRef("company", GUID))),
        (f"link contacts {GUID}", LinkCommand(RecordRef("contact", GUID))),
        (f"link https://acme.rallycrm.io/deals/{GUID}", LinkCommand(RecordRef("deal", GUID))),
        (
            f"link <https://acme.rallycrm.io/companies/{GUID}|Acme Inc>",
            LinkCommand(RecordRef("company", GUID)),
        ),
        (
            f"link deal <https://acme.rallycrm.io/deals/{GUID}|the big one>",
            LinkCommand(RecordRef("deal", GUID)),
        ),
        (
            f'link deal {GUID} "Acme expansion"',
            LinkCommand(RecordRef("deal", GUID), "Acme expansion"),
        ),
        (
            f"link deal {GUID}   Acme   expansion ",
            LinkCommand(RecordRef("deal", GUID), "Acme expansion"),
        ),
        (
            f"link <https://acme.rallycrm.io/deals/{GUID}|the big one> \u201cAcme &amp; co\u201d",
            LinkCommand(RecordRef("deal", GUID), "Acme & co"),
        ),
        (
            f'name contact {UPPER} "Sarah Chen"',
            NameCommand(RecordRef("contact", GUID), "Sarah Chen"),
        ),
        ("me", MeCommand(owner_id=None)),
        (f"me {UPPER}", MeCommand(owner_id=GUID)),
        (f"Me  {GUID} ", MeCommand(owner_id=GUID)),
    ],
)
def test_parse_command_reads_every_subcommand(text: str, expected: object) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "subcommand", "message"),
    [
        ("link deal", "link", "paste the deal's Rally URL or id"),
        (
            f"link company https://acme.rallycrm.io/deals/{GUID}",
            "link",
            "that link is to a deal, not a company",
        ),
        (f"link {GUID}", "link", "say whether"),
        ("link deal acme", "link", 'couldn\'t read "acme" as a Rally id or URL'),
        (f'link deal {GUID} "{"x" * 76}"', "link", "that name is 76 characters"),
        (f'link deal {GUID} "  "', "link", "give the record a name"),
        (f"name deal {GUID}", "name", "say which record and its name"),
        (f'name {GUID} "Acme"', "name", "say which record and its name"),
        ('name deal acme "Acme"', "name", 'couldn\'t read "acme" as a Rally id or URL'),
        ("me dana", "me", '"dana" isn\'t a Rally owner id'),
        ("me 1234", "me", '"1234" isn\'t a Rally owner id'),
    ],
)
def test_bad_arguments_to_a_known_subcommand_say_why_with_usage(
    text: str, subcommand: str, message: str
) -> None:
    result = parse_command(text)
    assert isinstance(result, InvalidCommand)
    assert result.subcommand == subcommand
    assert result.messages[0].startswith(message)
    assert result.usage.startswith(f"/rally {subcommand}")


def test_quick_create_command_keeps_the_text_as_sent_for_later_parsing() -> None:
    command = parse_command("note Call with <@U1|dana> &amp; team at:2025-04-02T10:00")
    assert isinstance(command, QuickCreateCommand)
    assert command.parse(tz=TOKYO, now=NOW).request_body() == {
        "activityType": "note",
        "subject": "Call with @dana & team",
        "scheduledAt": "2025-04-02T01:00:00Z",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a &amp; b &lt;c&gt;", "a & b <c>"),
        ("&amp;amp;", "&amp;"),
        ("<https://x.io|x.io> and <https://y.io>", "x.io and https://y.io"),
        ("<mailto:a@b.io|a@b.io>", "a@b.io"),
        ("<#C123|sales> <#C456>", "#sales <#C456>"),
        ("<!channel> <!everyone> <!subteam^S1|@team>", "@channel @everyone @team"),
        ("<not markup>", "<not markup>"),
    ],
)
def test_unescape_slack(text: str, expected: str) -> None:
    assert unescape_slack(text) == expected
