"""Task Block Kit: the reminder, what it becomes once someone acts, the ``/rally tasks``
pages and the App Home in each state of the Rally connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from slack_ui import ids
from slack_ui.tasks import (
    PAGE_SIZE,
    Setup,
    TaskCard,
    acted_reminder,
    button_value,
    home_view,
    reminder,
    tasks_message,
)
from tests.slack_ui.checks import action_ids, block_ids, elements, slack_json, texts

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
NOW_EPOCH = int(NOW.timestamp())
APP_URL = "https://app.rally.test"


def _card(n: int, *, due: int = NOW_EPOCH + 3600) -> TaskCard:
    return TaskCard(id=f"5a1c0de0-ac3e-4d3a-9e55-{n:012d}", subject=f"Task {n}", due=due)


CARD = TaskCard(
    id="5a1c0de0-ac3e-4d3a-9e55-000000000001",
    subject="Send <proposal> & terms",
    due=NOW_EPOCH + 3600,
    priority="high",
    owner_id="own-1",
    deal_id="D1",
    company_id="C1",
)
TASK_BUTTONS = list(ids.TASK_ACTIONS)


# -- the reminder ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "headline", "text"),
    [
        (NOW_EPOCH + 3600, ":alarm_clock: ", "Due: "),
        (NOW_EPOCH - 60, ":rotating_light: *Overdue:* ", "Overdue: "),
        (NOW_EPOCH, ":rotating_light: *Overdue:* ", "Overdue: "),
    ],
    ids=["due-later", "overdue", "due-this-second"],
)
def test_a_reminder_says_whether_the_task_is_overdue_and_offers_complete_and_snooze(
    due: int, headline: str, text: str
) -> None:
    card = TaskCard(CARD.id, CARD.subject, due, CARD.priority, CARD.owner_id, CARD.deal_id)
    msg = slack_json(reminder(card, now=NOW, app_url=APP_URL, owner_user=None))

    head, facts = texts(msg)
    assert head.startswith(headline)
    assert f"*<{APP_URL}/activities/{card.id}|Send &lt;proposal&gt; &amp; terms>*" in head
    assert f"<!date^{due}^" in head
    assert facts == f"Priority *high* · <{APP_URL}/deals/D1|deal D1> · Owner `own-1`"
    assert msg["text"].startswith(text + "Send &lt;proposal&gt; &amp; terms (<!date^")
    assert block_ids(msg) == [ids.TASK_ACTIONS_BLOCK]
    assert action_ids(msg) == TASK_BUTTONS
    assert {b["value"] for b in elements(msg)} == {button_value(card.id, due)}
    assert [b.get("style") for b in elements(msg)] == ["primary", None, None]


def test_a_reminder_names_the_owner_by_their_slack_user_when_known() -> None:
    msg = slack_json(reminder(CARD, now=NOW, app_url=None, owner_user="U0ALICE"))

    head, facts = texts(msg)
    assert "*Send &lt;proposal&gt; &amp; terms*" in head
    assert facts.endswith("Owner <@U0ALICE>")
    assert "deal `D1`" in facts and "company `C1`" in facts


def test_a_reminder_without_facts_has_no_context_line() -> None:
    msg = slack_json(reminder(_card(2), now=NOW, app_url=None, owner_user=None))
    assert [b["type"] for b in msg["blocks"]] == ["section", "actions"]


# -- once someone acted -----------------------------------------------------------------

ACTIONS = {
    "completed": (
        {"action": ids.COMPLETE_ACTION, "user": "U0BOB"},
        ":white_check_mark: Completed by <@U0BOB>",
    ),
    "snoozed-hour": (
        {"action": ids.SNOOZE_HOUR_ACTION, "user": "U0BOB", "new_due": NOW_EPOCH + 7200},
        f":alarm_clock: Snoozed by <@U0BOB> until <!date^{NOW_EPOCH + 7200}^",
    ),
    "snoozed-tomorrow": (
        {"action": ids.SNOOZE_TOMORROW_ACTION, "user": "U0BOB", "new_due": NOW_EPOCH + 75600},
        f":alarm_clock: Snoozed by <@U0BOB> until <!date^{NOW_EPOCH + 75600}^",
    ),
    "gone": (
        {"action": "gone", "user": "U0BOB", "note": "Deleted in <Rally>"},
        ":wastebasket: Deleted in &lt;Rally&gt;",
    ),
    "gone-without-note": (
        {"action": "gone", "user": "U0BOB"},
        ":wastebasket: No longer open in Rally",
    ),
}


@pytest.mark.parametrize("outcome", list(ACTIONS))
def test_an_acted_reminder_drops_its_buttons_for_who_did_what(outcome: str) -> None:
    action, line = ACTIONS[outcome]
    msg = slack_json(acted_reminder(CARD, action, app_url=APP_URL, owner_user=None))

    head, facts, said = texts(msg)
    assert head.startswith(f"*<{APP_URL}/activities/{CARD.id}|") and " — was due <!date^" in head
    assert "Priority *high*" in facts
    assert said.startswith(line)
    assert msg["text"].startswith("Send &lt;proposal&gt; &amp; terms: " + line)
    assert not action_ids(msg) and not block_ids(msg)


# -- /rally tasks -----------------------------------------------------------------------


def _page(first: int, count: int) -> list[TaskCard]:
    return [_card(n) for n in range(first, first + count)]


def _more(msg: dict[str, Any]) -> dict[str, Any] | None:
    rows = [b for b in msg["blocks"] if b.get("block_id") == ids.TASKS_MORE_BLOCK]
    return rows[0]["elements"][0] if rows else None


def test_the_first_page_of_tasks_has_a_row_per_task_and_a_more_button() -> None:
    cards = _page(1, PAGE_SIZE)
    msg = slack_json(tasks_message(cards, offset=0, total=25, now=NOW, app_url=None))

    assert msg["text"] == "Your open tasks (1 to 10 of 25)"
    assert texts(msg)[0].startswith("*Your open tasks* (1 to 10 of 25).")
    rows = [ids.task_row_block(c.id) for c in cards]
    assert block_ids(msg) == [*rows, ids.TASKS_MORE_BLOCK]
    more = _more(msg)
    assert more is not None
    assert (more["action_id"], more["value"], more["text"]["text"]) == (
        ids.TASKS_MORE_ACTION,
        "10",
        "More (15)",
    )
    assert action_ids(msg).count(ids.COMPLETE_ACTION) == PAGE_SIZE


def test_a_middle_page_counts_from_its_offset_and_shows_a_notice_first() -> None:
    msg = slack_json(
        tasks_message(
            _page(11, PAGE_SIZE), offset=10, total=25, now=NOW, app_url=APP_URL, notice="Done."
        )
    )

    notice, counted, *_ = texts(msg)
    assert notice == "Done."
    assert "(11 to 20 of 25)" in counted
    more = _more(msg)
    assert more is not None and (more["value"], more["text"]["text"]) == ("20", "More (5)")


def test_the_last_page_has_no_more_button_and_marks_overdue_tasks() -> None:
    cards = [_card(21, due=NOW_EPOCH - 60), _card(22)]
    msg = slack_json(tasks_message(cards, offset=20, total=22, now=NOW, app_url=None))

    assert _more(msg) is None
    _, overdue, later = texts(msg)
    assert overdue.startswith(":rotating_light: *Overdue* · *Task 21*")
    assert later.startswith("*Task 22* — due <!date^")


def test_no_tasks_says_how_to_log_one() -> None:
    msg = slack_json(tasks_message([], offset=0, total=0, now=NOW, app_url=None, notice="Done."))

    assert texts(msg)[0] == "Done."
    assert texts(msg)[1] == msg["text"]
    assert "/rally task Send proposal" in msg["text"]
    assert not action_ids(msg)


# -- App Home ---------------------------------------------------------------------------

HOME_STATES: dict[str, tuple[Setup, str, list[str]]] = {
    "not-connected": (
        Setup(),
        "isn't connected to Rally yet. Ask a workspace admin",
        [],
    ),
    "not-connected-admin": (
        Setup(admin=True),
        "isn't connected to Rally yet.",
        [ids.CONNECT_RALLY_ACTION, ids.OWNER_SELF_SERVICE_ACTION],
    ),
    "checking": (
        Setup(status="checking", host="acme.rallycrm.io", key_hint="abcd"),
        ":hourglass_flowing_sand: Checking the connection to *acme.rallycrm.io* (key abcd)",
        [],
    ),
    "failed-admin": (
        Setup(status="failed", host="acme.rallycrm.io", detail="401 <bad key>", admin=True),
        ":red_circle: Could not connect to *acme.rallycrm.io*\n401 &lt;bad key&gt;",
        [ids.CONNECT_RALLY_ACTION, ids.OWNER_SELF_SERVICE_ACTION],
    ),
}


@pytest.mark.parametrize("state", list(HOME_STATES))
def test_app_home_before_a_working_connection_shows_only_the_connection(state: str) -> None:
    setup, line, buttons = HOME_STATES[state]
    view = slack_json(
        home_view(tasks=[_card(1)], total_tasks=1, recent=[], now=NOW, app_url=None, setup=setup)
    )

    assert view["type"] == "home" and "title" not in view
    assert view["blocks"][0]["text"]["text"] == "Rally"
    [said] = texts(view)
    assert line in said
    assert action_ids(view) == buttons
    assert block_ids(view) == ([ids.HOME_SETUP_BLOCK] if buttons else [])
    styles = [b.get("style") for b in elements(view) if b["action_id"] == ids.CONNECT_RALLY_ACTION]
    assert styles == (["primary"] if ids.CONNECT_RALLY_ACTION in buttons else [])


def _connected(**extra: Any) -> Setup:
    return Setup(status="ok", host="acme.rallycrm.io", key_hint="wxyz", **extra)


def test_app_home_connected_shows_log_buttons_tasks_and_recent_activity() -> None:
    cards = _page(1, 3)
    view = slack_json(
        home_view(
            tasks=cards,
            total_tasks=5,
            recent=[("a1", "note", "Pricing <draft>")],
            now=NOW,
            app_url=APP_URL,
            setup=_connected(),
        )
    )

    said = texts(view)
    assert said[0] == ":large_green_circle: Connected to *acme.rallycrm.io* (key wxyz)"
    assert said[1].endswith(" 2 more: `/rally tasks`.")
    assert said[-1] == f"note · <{APP_URL}/activities/a1|Pricing &lt;draft&gt;>"
    assert block_ids(view) == [
        ids.HOME_SETUP_BLOCK,
        ids.HOME_LOG_BUTTONS_BLOCK,
        *(ids.task_row_block(c.id) for c in cards),
    ]
    assert action_ids(view)[:1] == [ids.CONNECT_PERSONAL_ACTION]
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers == ["Rally", "Your open tasks", "Recently logged"]


@pytest.mark.parametrize(
    ("tasks", "note"),
    [(None, "Open tasks can't be shown right now."), ([], "No open tasks with a due date.")],
    ids=["index-unavailable", "no-tasks"],
)
def test_app_home_connected_without_tasks_says_why(tasks: list[TaskCard] | None, note: str) -> None:
    view = slack_json(
        home_view(tasks=tasks, total_tasks=0, recent=[], now=NOW, app_url=None, setup=_connected())
    )

    assert note in texts(view)
    assert texts(view)[-1] == "Nothing logged from Slack yet."
    assert not any(b.startswith(ids.TASK_ROW_BLOCK_PREFIX) for b in block_ids(view))


def test_app_home_for_an_admin_with_their_own_key_offers_to_replace_it() -> None:
    setup = _connected(
        admin=True, self_service=True, personal_hint="1234", personal_status="failed"
    )
    view = slack_json(
        home_view(tasks=[], total_tasks=0, recent=[], now=NOW, app_url=None, setup=setup)
    )

    assert "You log with your own key (1234, refused by Rally)" in texts(view)[1]
    setup_row = next(b for b in view["blocks"] if b.get("block_id") == ids.HOME_SETUP_BLOCK)
    labels = {b["action_id"]: (b["text"]["text"], b["value"]) for b in setup_row["elements"]}
    assert labels == {
        ids.CONNECT_RALLY_ACTION: ("Change connection", "open"),
        ids.CONNECT_PERSONAL_ACTION: ("Replace your key", "open"),
        ids.OWNER_SELF_SERVICE_ACTION: ("Stop people choosing their owner id", "off"),
    }


def test_app_home_set_up_by_the_operator_offers_no_connection_change() -> None:
    setup = _connected(admin=True, from_environment=True)
    view = slack_json(
        home_view(tasks=[], total_tasks=0, recent=[], now=NOW, app_url=None, setup=setup)
    )

    assert ids.CONNECT_RALLY_ACTION not in action_ids(view)
    assert ids.OWNER_SELF_SERVICE_ACTION in action_ids(view)


def test_app_home_lists_what_slack_could_not_deliver_with_edit_and_retry_on_failures() -> None:
    undelivered = [
        {"ok": True, "activity_type": "note", "subject": "Kickoff", "activity_id": "a1"},
        {
            "ok": False,
            "activity_type": "task",
            "subject": "Send",
            "reason": "refused",
            "submission_id": "s1",
        },
        {"ok": False, "activity_type": "call", "subject": "Intro"},
    ]
    view = slack_json(
        home_view(
            tasks=[],
            total_tasks=0,
            recent=[],
            now=NOW,
            app_url=APP_URL,
            undelivered=undelivered,
            setup=_connected(),
        )
    )

    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers[1] == "While Slack was unreachable"
    said = texts(view)
    assert f":white_check_mark: Logged note <{APP_URL}/activities/a1|Kickoff>" in said
    assert ":warning: Your task *Send* was not logged: refused" in said
    assert ":warning: Your call *Intro* was not logged: it could not be logged" in said
    retries = [b for b in view["blocks"] if "accessory" in b]
    assert [(b["accessory"]["action_id"], b["accessory"]["value"]) for b in retries] == [
        (ids.EDIT_AND_RETRY_ACTION, "s1")
    ]


def test_app_home_at_its_fullest_stays_within_slacks_block_limit() -> None:
    undelivered = [
        {"ok": False, "activity_type": "note", "subject": f"S{n}", "submission_id": f"s{n}"}
        for n in range(20)
    ]
    recent = [(f"a{n}", "note", f"R{n}") for n in range(25)]
    view = slack_json(
        home_view(
            tasks=_page(1, PAGE_SIZE),
            total_tasks=40,
            recent=recent,
            now=NOW,
            app_url=APP_URL,
            undelivered=undelivered,
            setup=_connected(admin=True, personal_hint="1234", personal_status="ok"),
        )
    )

    assert len(view["blocks"]) <= 100
    assert sum(1 for t in texts(view) if t.startswith("note · ")) == 20
