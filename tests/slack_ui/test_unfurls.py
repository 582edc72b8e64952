"""Which links are Rally's, and what their unfurls hold."""

from __future__ import annotations

import json

import pytest

from slack_ui.ids import TASK_ACTIONS_BLOCK
from slack_ui.unfurls import activity_unfurl, parse_link

APP = "https://app.rally.test/"
GUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://app.rally.test/activities/{GUID}", ("activity", GUID)),
        (f"https://app.rally.test/activities/{GUID.upper()}/?tab=1#x", ("activity", GUID)),
        (f"https://app.rally.test/deals/{GUID}", ("deal", GUID)),
        (f"https://app.rally.test/companies/{GUID}", ("company", GUID)),
        (f"https://app.rally.test/contacts/{GUID}", ("contact", GUID)),
        (f"https://app.rally.test.evil/activities/{GUID}", None),
        (f"http://app.rally.test/activities/{GUID}", None),
        (f"https://app.rally.test/activities/{GUID}/notes", None),
        ("https://app.rally.test/activities/not-a-guid", None),
        (f"https://app.rally.test/people/{GUID}", None),
        ("https://app.rally.test/", None),
    ],
)
def test_only_links_under_the_app_url_to_a_known_record_are_rallys(
    url: str, expected: tuple[str, str] | None
) -> None:
    assert parse_link(url, APP) == expected


def test_no_app_url_means_no_links_are_rallys() -> None:
    assert parse_link(f"https://app.rally.test/activities/{GUID}", None) is None


def _task(**fields: object) -> dict[str, object]:
    return {
        "id": GUID,
        "activityType": "task",
        "subject": "Send <the> SOW",
        "status": "pending",
        "dueDate": "2030-01-02T03:04:05Z",
        **fields,
    }


def test_a_pending_task_gets_buttons_and_an_acted_or_completed_one_does_not() -> None:
    def has_buttons(unfurl: dict[str, object]) -> bool:
        return TASK_ACTIONS_BLOCK in json.dumps(unfurl)

    assert has_buttons(activity_unfurl(_task(), app_url=APP, owner_user=None))
    assert not has_buttons(activity_unfurl(_task(status="completed"), app_url=APP, owner_user=None))
    acted = {"action": "task_complete", "user": "U0BOB"}
    shown = activity_unfurl(_task(), app_url=APP, owner_user="U0ALICE", acted=acted)
    assert not has_buttons(shown)
    text = json.dumps(shown)
    assert "&lt;the&gt;" in text and "<@U0ALICE>" in text and "<@U0BOB>" in text
