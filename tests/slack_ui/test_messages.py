"""What the workers post: escaped user text, type-specific details, the retry button."""

from __future__ import annotations

import json

from slack_ui import messages


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
        )
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
    )
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
    )
    text = msg["blocks"][0]["text"]["text"]
    assert "*Send &lt;contract&gt;*" in text
    assert (
        "• Due: must be in the future" in text
        and "• Owner (your `/rally me` id): unknown owner" in text
    )
    button = msg["blocks"][1]["elements"][0]
    assert (button["action_id"], button["value"]) == (messages.EDIT_AND_RETRY_ACTION, "sub1")
