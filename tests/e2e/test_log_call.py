"""The headline flow: /rally call → modal → submit → worker → the call is in Rally, user told."""

from __future__ import annotations

from tests.e2e.harness import APP_URL, DEAL_ID, Rally


def test_call_logged_through_modal_reaches_rally_with_every_field_and_user_is_told(
    rally: Rally,
) -> None:
    view = rally.open_modal("call")
    response = rally.submit(
        view,
        {
            "subject": "Discovery call with Sarah Chen",
            "body": "Discussed enterprise licensing",
            "direction": "outbound",
            "outcome": "voicemail",
            "duration": "30",
            "deal": DEAL_ID,  # a pasted link: the menu offers it back as the deal's id
            "status": "completed",
        },
    )
    assert response.status_code == 200
    assert response.data in (b"", b"{}") or response.get_json() in (None, {})

    rally.work()

    [call] = rally.activities()
    assert call["activityType"] == "call"
    assert call["subject"] == "Discovery call with Sarah Chen"
    assert call["body"] == "Discussed enterprise licensing"
    assert call["callDirection"] == "outbound"
    assert call["callOutcome"] == "voicemail"
    assert call["callDurationSeconds"] == 1800
    assert call["dealId"] == DEAL_ID
    assert call["status"] == "completed"
    told = rally.shown_to("U0ALICE")
    assert any(f"{APP_URL}/activities/{call['id']}" in text for text in told), told
    assert any("30 min" in text for text in told)
