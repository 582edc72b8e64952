"""The four log modals: happy paths and validation answered in place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slack_ui import ids
from tests.e2e.harness import APP_URL, CONTACT_ID, DEAL_ID, Rally

DUE = datetime(2031, 7, 15, 17, 0, tzinfo=UTC)


def test_note_modal_logs_a_note(rally: Rally) -> None:
    view = rally.open_modal("note")
    rally.submit(
        view, {"subject": "Budget approved", "body": "Q3 budget signed off", "contact": CONTACT_ID}
    )
    rally.work()
    [note] = rally.activities()
    assert (note["activityType"], note["subject"], note["body"], note["contactId"]) == (
        "note",
        "Budget approved",
        "Q3 budget signed off",
        CONTACT_ID,
    )


def test_task_modal_logs_a_task_with_due_and_priority(rally: Rally) -> None:
    view = rally.open_modal("task")
    rally.submit(
        view, {"subject": "Send proposal", "due": DUE, "priority": "urgent", "deal": DEAL_ID}
    )
    rally.work()
    [task] = rally.activities()
    assert task["dueDate"] == "2031-07-15T17:00:00Z"
    assert task["priority"] == "urgent"
    assert task["status"] == "pending"
    told = " ".join(rally.shown_to())
    assert f"<!date^{int(DUE.timestamp())}^" in told


def test_meeting_modal_logs_a_meeting_with_every_field(rally: Rally) -> None:
    view = rally.open_modal("meeting")
    rally.submit(
        view,
        {
            "subject": "Quarterly business review",
            "start": DUE,
            "duration": "60",
            "location": "Conference Room B",
            "meeting_url": "https://meet.example.com/abc-def-ghi",
            # the menu offers a pasted link back as the record's id (block_suggestion)
            "company": "b5c7e1a2-3d4f-5678-9abc-def012345678",
        },
    )
    rally.work()
    [meeting] = rally.activities()
    assert meeting["scheduledAt"] == "2031-07-15T17:00:00Z"
    assert meeting["durationMinutes"] == 60
    assert meeting["location"] == "Conference Room B"
    assert meeting["meetingUrl"] == "https://meet.example.com/abc-def-ghi"
    assert meeting["companyId"] == "b5c7e1a2-3d4f-5678-9abc-def012345678"
    told = " ".join(rally.shown_to())
    assert "Conference Room B" in told and "60 min" in told


@pytest.mark.parametrize(
    ("kind", "values", "block", "words"),
    [
        ("note", {"subject": "   "}, ids.SUBJECT, "subject"),
        ("note", {"subject": "x", "deal": "12345"}, ids.DEAL, "Rally id"),
        (
            "note",
            {"subject": "x", "contact": f"{APP_URL}/deals/{DEAL_ID}"},
            ids.CONTACT,
            "Choose a contact from the list",
        ),
        ("call", {"subject": "x", "duration": "-5"}, ids.DURATION, "negative"),
        ("call", {"subject": "x", "duration": "half an hour"}, ids.DURATION, "minutes"),
        ("meeting", {"subject": "x", "duration": "abc"}, ids.DURATION, "minutes"),
        (
            "meeting",
            {"subject": "x", "meeting_url": "meet dot example"},
            ids.MEETING_URL,
            "https://",
        ),
        (
            "meeting",
            {"subject": "x", "meeting_url": "javascript:alert(1)"},
            ids.MEETING_URL,
            "https://",
        ),
    ],
)
def test_invalid_input_is_answered_in_the_modal_on_its_block_and_nothing_is_queued(
    rally: Rally, kind: str, values: dict[str, str], block: str, words: str
) -> None:
    view = rally.open_modal(kind)
    response = rally.submit(view, values)
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert words.lower() in answer["errors"][block].lower()
    assert rally.queued()["rally-activities"] == 0


def test_a_past_due_date_is_allowed(rally: Rally) -> None:
    view = rally.open_modal("task")
    response = rally.submit(
        view, {"subject": "Overdue already", "due": datetime(2020, 1, 1, tzinfo=UTC)}
    )
    assert response.get_json() in (None, {})
    rally.work()
    assert rally.activities()[0]["dueDate"] == "2020-01-01T00:00:00Z"


def test_the_call_modal_defaults_to_a_completed_outbound_call(rally: Rally) -> None:
    view = rally.open_modal("call")
    rally.submit(view, {"subject": "Quick check-in"})
    rally.work()
    [call] = rally.activities()
    assert (call["status"], call["callDirection"]) == ("completed", "outbound")
