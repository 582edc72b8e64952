"""Link unfurls through signed ``link_shared`` events, real workers, the fake Slack (which
keeps what ``chat.unfurl`` attached to each message) and the sandbox."""

from __future__ import annotations

import json
from typing import Any

import httpx

from devstack.fake_slack.payloads import block_actions, event_callback, link_shared
from slack_ui.ids import COMPLETE_ACTION, SNOOZE_HOUR_ACTION, TASK_ACTIONS_BLOCK, task_row_block
from tests.e2e.harness import APP_URL, DEAL_ID, TEAM_ID, Rally
from tests.e2e.reminders_support import (
    create_task,
    due_epoch_of,
    get_task,
    remind_once,
    update_task,
)
from tests.fixtures.sandbox import OTHER_API_KEY

OTHER_DEAL = "0f0f0f0f-1111-4222-8333-444455556666"


def _paste(rally: Rally, text: str, urls: list[str], *, user: str = "U0ALICE") -> dict[str, Any]:
    """A person posts ``text`` in #sales and Slack tells the app about its links."""
    message = rally.fake.post_as_user("C0SALES", user, text)
    event = link_shared(urls, user=user, channel="C0SALES", message_ts=message["ts"])
    assert rally.post(event_callback(event)).status_code == 200
    rally.work()
    return message


def _unfurl_calls(rally: Rally) -> list[Any]:
    return rally.fake.calls("chat.unfurl")


def _buttons(unfurl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    for block in unfurl.get("blocks", []):
        if block.get("type") == "actions" and block.get("block_id") == TASK_ACTIONS_BLOCK:
            return {e["action_id"]: {"block_id": block["block_id"], **e} for e in block["elements"]}
    return {}


def _click(
    rally: Rally,
    message: dict[str, Any],
    url: str,
    action_id: str,
    *,
    user: str = "U0BOB",
    button: dict[str, Any] | None = None,
) -> str:
    """Click a button of the app's unfurl of ``url`` in ``message`` (or ``button``, as it
    was shown earlier)."""
    if button is None:
        button = _buttons(rally.fake.unfurls("C0SALES", message["ts"])[url])[action_id]
    response_url = rally.fake.new_response_url(channel="C0SALES", user=user)
    payload = block_actions(
        button,
        user=user,
        channel="C0SALES",
        message=message,
        response_url=response_url,
        unfurl_url=url,
    )
    assert rally.interact(payload).status_code == 200
    rally.work()
    return response_url


def test_a_pasted_pending_task_unfurls_with_its_details_and_complete_completes_it(
    rally: Rally,
) -> None:
    task = create_task(rally, "Send the <b>SOW</b>", 120, priority="high", dealId=DEAL_ID)
    url = f"{APP_URL}/activities/{task['id']}"
    message = _paste(rally, f"Can someone take {url} ?", [url, "https://example.com/other"])

    unfurl = rally.fake.unfurls("C0SALES", message["ts"])[url]
    shown = json.dumps(unfurl)
    assert "Send the &lt;b&gt;SOW&lt;/b&gt;" in shown  # escaped, as everything typed
    assert "task" in shown and "open" in shown and "high" in shown
    assert f"<!date^{due_epoch_of(task)}^" in shown  # the due date in each reader's zone
    assert f"{APP_URL}/deals/{DEAL_ID}" in shown
    assert set(_buttons(unfurl)) >= {COMPLETE_ACTION, SNOOZE_HOUR_ACTION}
    assert list(rally.fake.unfurls("C0SALES", message["ts"])) == [url]  # not example.com

    _click(rally, message, url, COMPLETE_ACTION)
    assert get_task(rally, task["id"])["status"] == "completed"
    after = rally.fake.unfurls("C0SALES", message["ts"])[url]
    assert "<@U0BOB>" in json.dumps(after) and "Completed" in json.dumps(after)
    assert _buttons(after) == {}  # the buttons gave way to who did what
    [entry] = [e for e in rally.store.audit_trail(TEAM_ID) if e.action == "completed"]
    assert (entry.user_id, entry.surface, entry.activity_id) == ("U0BOB", "unfurl", task["id"])


def test_snooze_from_an_unfurl_moves_the_due_date_once(rally: Rally) -> None:
    task = create_task(rally, "Call back", 30)
    url = f"{APP_URL}/activities/{task['id']}"
    message = _paste(rally, url, [url])
    button = _buttons(rally.fake.unfurls("C0SALES", message["ts"])[url])[SNOOZE_HOUR_ACTION]
    _click(rally, message, url, SNOOZE_HOUR_ACTION)
    assert due_epoch_of(get_task(rally, task["id"])) == due_epoch_of(task) + 3600
    assert "Snoozed" in json.dumps(rally.fake.unfurls("C0SALES", message["ts"])[url])
    # The same (now stale) button clicked again by someone else snoozes nothing more.
    _click(rally, message, url, SNOOZE_HOUR_ACTION, user="U0ALICE", button=button)
    assert due_epoch_of(get_task(rally, task["id"])) == due_epoch_of(task) + 3600


def test_a_click_on_a_message_the_app_never_unfurled_changes_nothing(rally: Rally) -> None:
    task = create_task(rally, "Not shown here", 60)
    url = f"{APP_URL}/activities/{task['id']}"
    shown = _paste(rally, url, [url])
    forged_in = rally.fake.post_as_user("C0SALES", "U0EVE", "no link here")
    response_url = rally.fake.new_response_url(channel="C0SALES", user="U0EVE")
    button = _buttons(rally.fake.unfurls("C0SALES", shown["ts"])[url])[COMPLETE_ACTION]
    payload = block_actions(
        button,
        user="U0EVE",
        channel="C0SALES",
        message=forged_in,
        response_url=response_url,
        unfurl_url=url,
    )
    assert rally.interact(payload).status_code == 200
    rally.work()
    assert get_task(rally, task["id"])["status"] == "pending"
    told = [p.body for p in rally.fake.response_posts(response_url.rsplit("/", 1)[-1])]
    assert "nothing changed" in json.dumps(told)


def test_missing_and_other_tenant_activities_and_foreign_links_are_not_unfurled(
    rally: Rally,
) -> None:
    theirs = httpx.post(
        f"{rally.api_url}/api/v1/activities",
        headers={"X-Api-Key": OTHER_API_KEY},
        json={"activityType": "note", "subject": "Globex secrets", "body": "x"},
    ).json()
    missing = "00000000-0000-4000-8000-000000000000"
    urls = [
        f"{APP_URL}/activities/{theirs['id']}",
        f"{APP_URL}/activities/{missing}",
        f"https://evil.test/activities/{missing}",
        f"{APP_URL}/activities/not-a-guid",
    ]
    message = _paste(rally, " ".join(urls), urls)
    assert _unfurl_calls(rally) == []
    assert rally.fake.unfurls("C0SALES", message["ts"]) == {}

    # A message with no Rally link at all queues nothing.
    foreign = link_shared([f"https://evil.test/activities/{missing}"])
    assert rally.post(event_callback(foreign)).status_code == 200
    assert not any(rally.queued().values())


def test_a_deal_link_lists_its_open_tasks_soonest_first_from_the_index(rally: Rally) -> None:
    later = create_task(rally, "Later on the deal", 3 * 24 * 60, dealId=DEAL_ID)
    sooner = create_task(rally, "Sooner on the deal", 2 * 24 * 60, dealId=DEAL_ID)
    create_task(rally, "On another deal", 24 * 60, dealId=OTHER_DEAL)
    done = create_task(rally, "Done on the deal", 24 * 60, dealId=DEAL_ID)
    update_task(rally, done["id"], status="completed")
    remind_once()  # the sync fills the index
    url = f"{APP_URL}/deals/{DEAL_ID}"
    message = _paste(rally, url, [url])
    shown = json.dumps(rally.fake.unfurls("C0SALES", message["ts"])[url])
    assert shown.index("Sooner on the deal") < shown.index("Later on the deal")
    assert "On another deal" not in shown and "Done on the deal" not in shown
    assert sooner["id"] in shown and later["id"] in shown

    # Its tasks' buttons work there too, and the list is drawn again saying who did what.
    rows = rally.fake.unfurls("C0SALES", message["ts"])[url]["blocks"]
    [complete] = [
        {"block_id": block["block_id"], **element}
        for block in rows
        if block.get("block_id") == task_row_block(sooner["id"])
        for element in block["elements"]
        if element["action_id"] == COMPLETE_ACTION
    ]
    _click(rally, message, url, COMPLETE_ACTION, button=complete)
    assert get_task(rally, sooner["id"])["status"] == "completed"
    after = json.dumps(rally.fake.unfurls("C0SALES", message["ts"])[url])
    assert "Completed by <@U0BOB>" in after and "Sooner on the deal" in after
    assert task_row_block(sooner["id"]) not in after and task_row_block(later["id"]) in after


def test_a_redelivered_event_unfurls_once_and_a_composer_preview_is_answered_by_id(
    rally: Rally,
) -> None:
    task = create_task(rally, "Preview me", 90)
    url = f"{APP_URL}/activities/{task['id']}"
    message = rally.fake.post_as_user("C0SALES", "U0ALICE", url)
    body = event_callback(link_shared([url], channel="C0SALES", message_ts=message["ts"]))
    assert rally.post(body).status_code == 200
    assert rally.post(body).status_code == 200  # Slack retried the delivery
    rally.work()
    assert len(_unfurl_calls(rally)) == 1

    preview = link_shared([url], source="composer")
    assert rally.post(event_callback(preview)).status_code == 200
    rally.work()
    [_, by_id] = _unfurl_calls(rally)
    assert by_id.params.get("unfurl_id") == preview["unfurl_id"]
    assert by_id.params.get("source") == "composer"
    assert not by_id.params.get("ts")
