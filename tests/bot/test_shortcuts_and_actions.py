"""Shortcuts (Log activity, Log as note) and buttons (help's modal buttons, App Home)."""

from __future__ import annotations

import json
from typing import Any

from devstack.fake_slack.payloads import (
    app_home_opened,
    block_actions,
    event_callback,
    global_shortcut,
    message_shortcut,
)
from slack_ui import ids
from tests.e2e.harness import DEAL_ID, Rally


def _button(elements_block: dict[str, Any], action_id: str) -> dict[str, Any]:
    element = next(e for e in elements_block["elements"] if e["action_id"] == action_id)
    return {"block_id": elements_block["block_id"], **element}


def _last_opened(rally: Rally, before: int) -> dict[str, Any]:
    call = rally.fake.wait_until(
        lambda: (
            len(rally.fake.calls("views.open")) > before and rally.fake.calls("views.open")[before]
        )
    )
    assert call.response["ok"], call.response
    return dict(call.response["view"])


def test_global_shortcut_chooses_a_type_then_shows_its_modal_and_logs(rally: Rally) -> None:
    payload = global_shortcut(
        ids.LOG_ACTIVITY_SHORTCUT, trigger_id=rally.fake.new_trigger_id("U0ALICE")
    )
    assert rally.interact(payload).status_code == 200
    chooser = _last_opened(rally, 0)
    assert chooser["callback_id"] == ids.CHOOSE_TYPE_VIEW

    actions = next(b for b in chooser["blocks"] if b["type"] == "actions")
    click = block_actions(_button(actions, ids.choose_type_action("meeting")), view=chooser)
    assert rally.interact(click).status_code == 200
    update = rally.fake.wait_for("views.update")
    assert update.response["ok"], update.response
    modal = update.response["view"]
    assert modal["callback_id"] == ids.LOG_MEETING_VIEW

    rally.submit(modal, {"subject": "Demo with Acme", "duration": "45"})
    rally.work()
    [meeting] = rally.activities()
    assert (meeting["activityType"], meeting["durationMinutes"]) == ("meeting", 45)
    # No channel to answer in: the confirmation arrives as a DM.
    dm = rally.fake.messages("D0ALICE")
    assert dm and "Demo with Acme" in json.dumps(dm[-1])


def test_message_shortcut_prefills_a_note_with_text_and_permalink_and_the_channels_deal(
    rally: Rally,
) -> None:
    rally.command(f"link deal {DEAL_ID}", channel="C0ACME")
    message = rally.fake.post_as_user(
        "C0ACME", "U0BOB", "Acme wants SSO before signing\nand a 2-year term"
    )
    payload = message_shortcut(
        ids.LOG_AS_NOTE_SHORTCUT,
        message,
        "C0ACME",
        trigger_id=rally.fake.new_trigger_id("U0ALICE"),
        response_url=rally.fake.new_response_url(channel="C0ACME", user="U0ALICE"),
    )
    before = len(rally.fake.calls("views.open"))
    assert rally.interact(payload).status_code == 200
    modal = _last_opened(rally, before)
    assert modal["callback_id"] == ids.LOG_NOTE_VIEW
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        or (b["element"].get("initial_option") or {}).get("value")
        for b in modal["blocks"]
        if b["type"] == "input"
    }
    permalink = rally.fake.calls("chat.getPermalink")[0].response["permalink"]
    assert initial[ids.SUBJECT] == "Acme wants SSO before signing"
    assert initial[ids.BODY] == f"Acme wants SSO before signing\nand a 2-year term\n\n{permalink}"
    assert initial[ids.DEAL] == DEAL_ID

    rally.submit(modal)
    rally.work()
    [note] = rally.activities()
    assert note["body"].endswith(permalink)
    assert note["dealId"] == DEAL_ID
    assert any("Acme wants SSO" in json.dumps(p.body) for p in rally.fake.response_posts())


def test_help_buttons_open_each_modal(rally: Rally) -> None:
    body = rally.command("help").get_json()
    actions = next(b for b in body["blocks"] if b["type"] == "actions")
    for n, kind in enumerate(ids.ACTIVITY_TYPES):
        click = block_actions(
            _button(actions, ids.open_modal_action(kind)),
            channel="C0SALES",
            is_ephemeral=True,
            trigger_id=rally.fake.new_trigger_id("U0ALICE"),
            response_url=rally.fake.new_response_url(channel="C0SALES", user="U0ALICE"),
        )
        assert rally.interact(click).status_code == 200
        assert _last_opened(rally, n)["callback_id"] == ids.LOG_VIEWS[kind]


def test_app_home_shows_log_buttons_and_recent_activity(rally: Rally) -> None:
    rally.command("note Budget approved")
    rally.work()
    assert rally.post(event_callback(app_home_opened("U0ALICE"))).status_code == 200
    home = rally.fake.wait_until(lambda: rally.fake.home("U0ALICE"))
    shown = json.dumps(home)
    assert "Budget approved" in shown
    assert ids.open_modal_action("call") in shown
