"""Records people recognise, through the real door: /rally link with a name, the names on
confirmations and reminders, and the record menus' type-ahead (signed ``block_suggestion``
requests to the Bolt app, answered from Redis), with real workers and the sandbox."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from devstack.fake_slack.payloads import (
    app_home_opened,
    block_suggestion,
    event_callback,
    link_shared,
)
from slack_ui import ids
from tests.e2e.harness import APP_URL, DEAL_ID, TEAM_ID, Rally
from tests.e2e.reminders_support import create_task, iso_in, log_task, remind_once, reminders

ACME = "Acme expansion"
OTHER_DEAL = "0b7d0c1e-5f6a-4b3c-8d9e-0123456789ab"


def visible(text: str) -> str:
    """What a reader sees of mrkdwn: a link shows its label, not its URL."""
    return re.sub(r"<[^|<>]+\|([^<>]*)>", r"\1", text)


def suggest(rally: Rally, view: dict[str, Any], block: str, typed: str) -> list[dict[str, Any]]:
    """Type ``typed`` into a record menu of ``view``; the options the app answered
    (asserting Slack's 3 seconds)."""
    payload = block_suggestion(view, block_id=block, action_id=ids.input_action(block), value=typed)
    started = time.monotonic()
    response = rally.interact(payload)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.data
    assert elapsed < 3.0, elapsed
    return list(response.get_json()["options"])


def test_a_named_deal_is_shown_by_its_name_on_the_confirmation_and_the_reminder(
    rally: Rally,
) -> None:
    linked = rally.command(f'link deal {APP_URL}/deals/{DEAL_ID} "{ACME}"', channel="C0ACME")
    assert ACME in visible(linked.get_data(as_text=True))

    response = rally.command("note Budget approved", channel="C0ACME")
    assert response.status_code == 200, response.data
    rally.work()
    [note] = [a for a in rally.activities() if a["subject"] == "Budget approved"]
    assert note["dealId"] == DEAL_ID
    confirmation = next(t for t in rally.shown_to() if "Budget approved" in t)
    assert ACME in visible(confirmation)
    assert DEAL_ID not in visible(confirmation)

    log_task(rally, f"Send proposal due:{iso_in(5)}", channel="C0ACME")
    remind_once()
    [reminder] = reminders(rally, "C0ACME")
    shown = visible(json.dumps(reminder["blocks"]))
    assert ACME in shown and DEAL_ID not in shown


def test_the_call_modals_deal_menu_offers_the_named_deal_and_logs_the_call_with_its_id(
    rally: Rally,
) -> None:
    rally.command(f'link deal {DEAL_ID} "{ACME}"', channel="C0ACME")
    view = rally.open_modal("call")  # in #sales, which is linked to nothing

    options = suggest(rally, view, ids.DEAL, "acm")
    assert [(o["text"]["text"], o["value"]) for o in options] == [(ACME, DEAL_ID)]
    assert suggest(rally, view, ids.COMPANY, "acm") == []  # a deal's name is no company's

    response = rally.submit(view, {ids.SUBJECT: "Intro with Jane", ids.DEAL: options[0]})
    assert response.status_code == 200 and not response.data, response.data
    rally.work()
    [call] = [a for a in rally.activities() if a["subject"] == "Intro with Jane"]
    assert call["activityType"] == "call" and call["dealId"] == DEAL_ID


def test_the_linked_channels_modal_starts_on_its_named_deal(rally: Rally) -> None:
    rally.command(f'link deal {DEAL_ID} "{ACME}"', channel="C0ACME")
    view = rally.open_modal("task", channel="C0ACME")
    [deal] = [b for b in view["blocks"] if b.get("block_id") == ids.DEAL]
    assert deal["element"]["type"] == "external_select"
    initial = deal["element"]["initial_option"]
    assert (initial["text"]["text"], initial["value"]) == (ACME, DEAL_ID)


def test_records_seen_by_the_sync_and_pasted_links_are_offered_and_a_forged_option_is_refused(
    rally: Rally,
) -> None:
    create_task(rally, "Unnamed deal's task", 60, dealId=OTHER_DEAL)
    remind_once()  # the sync reads it: its deal is now known, by id
    view = rally.open_modal("note")

    assert [o["value"] for o in suggest(rally, view, ids.DEAL, "0B7D")] == [OTHER_DEAL]
    recent = suggest(rally, view, ids.DEAL, OTHER_DEAL[:8])
    assert recent[0]["text"]["text"] == OTHER_DEAL  # unnamed: shown by its id

    pasted = suggest(rally, view, ids.DEAL, f"{APP_URL}/deals/{DEAL_ID.upper()}")
    assert pasted[0]["value"] == DEAL_ID
    assert suggest(rally, view, ids.CONTACT, f"{APP_URL}/deals/{DEAL_ID}") == []

    forged = {"text": {"type": "plain_text", "text": ACME}, "value": "javascript:alert(1)"}
    response = rally.submit(view, {ids.SUBJECT: "Forged", ids.DEAL: forged})
    answer = response.get_json()
    assert answer["response_action"] == "errors" and ids.DEAL in answer["errors"]
    rally.work()
    assert not [a for a in rally.activities() if a["subject"] == "Forged"]


def test_a_rename_is_audited_escaped_and_bounded_and_the_menu_finds_the_new_name(
    rally: Rally,
) -> None:
    rally.command(f'link deal {DEAL_ID} "{ACME}"', channel="C0ACME")
    renamed = rally.command(f'name deal {DEAL_ID} "Acme <renewal> & co"', channel="C0ACME")
    text = renamed.get_data(as_text=True)
    assert "Acme &lt;renewal&gt; &amp; co" in text and "<renewal>" not in text
    assert ACME in text  # it says what it was called

    too_long = rally.command(f'name deal {DEAL_ID} "{"x" * 80}"', channel="C0ACME")
    assert "at most 75" in too_long.get_data(as_text=True)

    trail = [(e.action, e.detail.get("name")) for e in rally.store.audit_trail(TEAM_ID)]
    assert ("named", ACME) in trail and ("named", "Acme <renewal> & co") in trail
    view = rally.open_modal("note")
    assert [o["text"]["text"] for o in suggest(rally, view, ids.DEAL, "ACME <r")] == [
        "Acme <renewal> & co"
    ]
    assert suggest(rally, view, ids.DEAL, "acme exp") == []  # the old name is gone


def test_tasks_app_home_and_a_deal_unfurl_show_the_name_too(rally: Rally) -> None:
    rally.command(f'link deal {DEAL_ID} "{ACME}"', channel="C0ACME")
    log_task(rally, f"Send proposal due:{iso_in(90)}", channel="C0ACME")
    remind_once()  # the sync indexes the task (lists and unfurls read the index)

    listed = visible(json.dumps(rally.command("tasks").get_json()))
    assert "Send proposal" in listed and ACME in listed and DEAL_ID not in listed

    assert rally.post(event_callback(app_home_opened("U0ALICE"))).status_code == 200
    home = visible(json.dumps(rally.fake.wait_until(lambda: rally.fake.home("U0ALICE"))))
    assert "Send proposal" in home and ACME in home and DEAL_ID not in home

    url = f"{APP_URL}/deals/{DEAL_ID}"
    message = rally.fake.post_as_user("C0SALES", "U0ALICE", url)
    event = link_shared([url], user="U0ALICE", channel="C0SALES", message_ts=message["ts"])
    assert rally.post(event_callback(event)).status_code == 200
    rally.work()
    unfurl = visible(json.dumps(rally.fake.unfurls("C0SALES", message["ts"])[url]))
    assert ACME in unfurl and "Send proposal" in unfurl


def test_a_record_logged_on_from_slack_is_offered_before_any_sync(rally: Rally) -> None:
    rally.command(f"link deal {OTHER_DEAL}", channel="C0ACME")  # no name given
    rally.command("note Kickoff notes", channel="C0ACME")
    rally.work()
    view = rally.open_modal("note")
    [offered] = suggest(rally, view, ids.DEAL, OTHER_DEAL[:4])
    assert (offered["value"], offered["text"]["text"]) == (OTHER_DEAL, OTHER_DEAL)
