"""What the workers post: escaped user text, type-specific details, the retry button."""

from __future__ import annotations

import json
from typing import Any

import pytest

from slack_ui import ids, messages
from slack_ui.ids import EDIT_AND_RETRY_ACTION, FAILURE_ACTIONS_BLOCK
from tests.slack_ui.checks import action_ids, block_ids, elements, slack_json, texts


def test_user_text_cannot_ping_or_forge_links() -> None:
    shown = json.dumps(
        messages.confirmation(
            {
                "id": "a1",
                "activityType": "note",
                "subject": "<!channel> & <https://evil|click>",
                "status": "pending",
            },
            app_url=None,
        ).to_dict()
    )
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in shown


def test_call_confirmation_names_outcome_and_duration_and_links_when_app_url_set() -> None:
    msg = messages.confirmation(
        {
            "id": "a1",
            "activityType": "call",
            "subject": "Intro",
            "callDirection": "outbound",
            "callOutcome": "no_answer",
            "callDurationSeconds": 1830,
            "status": "completed",
        },
        app_url="https://app.rally.test/",
    ).to_dict()
    text = msg["blocks"][0]["text"]["text"]
    assert "<https://app.rally.test/activities/a1|Intro>" in text
    assert "outbound · no answer · 30 min 30s" in text


def test_failure_lists_field_errors_in_words_and_offers_edit_and_retry() -> None:
    msg = messages.failure(
        activity_type="task",
        subject="Send <contract>",
        reason="Rally refused some of what you entered.",
        field_errors={"dueDate": ["must be in the future"], "ownerId": ["unknown owner"]},
        submission_id="sub1",
        retryable=True,
    ).to_dict()
    text = msg["blocks"][0]["text"]["text"]
    assert "*Send &lt;contract&gt;*" in text
    assert (
        "• Due: must be in the future" in text
        and "• Owner (your `/rally me` id): unknown owner" in text
    )
    button = msg["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == (messages.EDIT_AND_RETRY_ACTION, "sub1")


ACTIVITIES: dict[str, dict[str, Any]] = {
    "note": {"id": "a1", "activityType": "note", "subject": "Pricing", "status": "completed"},
    "task": {
        "id": "a2",
        "activityType": "task",
        "subject": "Send proposal",
        "dueDate": "2026-01-01T17:00:00+00:00",
        "priority": "high",
        "dealId": "D1",
    },
    "call": {
        "id": "a3",
        "activityType": "call",
        "subject": "Intro",
        "callDirection": "inbound",
        "callOutcome": "connected",
        "callDurationSeconds": 45,
        "contactId": "P1",
    },
    "meeting": {
        "id": "a4",
        "activityType": "meeting",
        "subject": "QBR",
        "scheduledAt": "2026-01-02T14:00:00+00:00",
        "durationMinutes": 60,
        "location": "HQ <3rd floor>",
        "meetingUrl": "https://meet.example.com/qbr",
        "companyId": "C1",
        "dealId": "D1",
    },
}
DETAILS = {
    "note": "done",
    "task": "priority high",
    "call": "inbound · connected · 45s",
    "meeting": "60 min · HQ &lt;3rd floor&gt; · <https://meet.example.com/qbr|meeting link>",
}
ON = {"note": None, "task": "On deal `D1`", "call": "On contact `P1`", "meeting": None}


@pytest.mark.parametrize("kind", list(ACTIVITIES))
def test_each_types_confirmation_names_it_repeats_its_details_and_where_it_is_filed(
    kind: str,
) -> None:
    msg = slack_json(messages.confirmation(ACTIVITIES[kind], app_url=None))

    subject = ACTIVITIES[kind]["subject"]
    assert msg["text"] == f"Logged {kind}: {subject}"
    line, *context = texts(msg)
    assert line.startswith(f":white_check_mark: Logged {kind} *{subject}* — ")
    assert DETAILS[kind] in line
    if kind == "meeting":
        assert context == ["On deal `D1`, company `C1`"]
    else:
        assert context == ([ON[kind]] if ON[kind] else [])
    assert action_ids(msg) == [ids.ACTIVITY_EDIT_ACTION, ids.ACTIVITY_DELETE_ACTION]


def test_a_confirmation_of_an_unknown_type_calls_it_an_activity() -> None:
    msg = slack_json(messages.confirmation({"id": "a9", "subject": "Odd"}, app_url=None))
    assert msg["text"] == "Logged activity: Odd"


@pytest.mark.parametrize("retryable", [True, False])
def test_a_failure_with_a_kept_submission_offers_edit_and_retry(retryable: bool) -> None:
    msg = slack_json(
        messages.failure(
            activity_type="call",
            subject="Intro",
            reason="Rally could not be reached.",
            field_errors=None,
            submission_id="sub1",
            retryable=retryable,
        )
    )

    assert block_ids(msg) == [FAILURE_ACTIONS_BLOCK]
    [retry] = elements(msg)
    assert (retry["action_id"], retry["value"], retry["style"]) == (
        EDIT_AND_RETRY_ACTION,
        "sub1",
        "primary",
    )
    assert retry["text"]["text"] == "Edit and retry"
    assert ("Nothing you entered is lost." in texts(msg)[0]) is retryable
    assert msg["text"] == "Your call Intro was not logged: Rally could not be reached."


def test_a_failure_without_a_kept_submission_has_no_button() -> None:
    msg = slack_json(
        messages.failure(
            activity_type="note",
            subject="Gone <x>",
            reason="it expired",
            field_errors={},
            submission_id=None,
            retryable=False,
        )
    )

    assert not action_ids(msg) and not block_ids(msg)
    assert texts(msg) == [
        ":warning: Your note *Gone &lt;x&gt;* was not logged in Rally: it expired"
    ]


def test_an_edited_confirmation_says_who_and_a_deleted_one_has_no_buttons() -> None:
    edited = slack_json(
        messages.confirmation(ACTIVITIES["note"], app_url=None, note="Edited by <@U1>")
    )
    assert "Edited by <@U1>" in json.dumps(edited)
    gone = slack_json(messages.deleted(ACTIVITIES["note"], by="U1"))
    assert not action_ids(gone) and "Deleted by <@U1>" in json.dumps(gone)
