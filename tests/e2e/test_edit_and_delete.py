"""Edit and Delete on a confirmation, through signed clicks, real workers, the fake Slack
and the sandbox: only whoever logged it (or an admin) may; Rally and reminders follow."""

from __future__ import annotations

import json
from typing import Any

from devstack.fake_slack.payloads import block_actions, state_values_for, view_submission
from slack_ui import ids
from tests.e2e.harness import Rally
from tests.e2e.reminders_support import get_task, iso_in, remind_once, reminders


def _confirmation(rally: Rally, subject: str, user: str = "U0ALICE") -> tuple[str, dict[str, Any]]:
    """The response-URL post that confirmed ``subject``: (its URL id, its body)."""
    for post in rally.fake.response_posts():
        if subject in json.dumps(post.body) and "Logged" in json.dumps(post.body):
            return post.url_id, post.body
    raise AssertionError(f"no confirmation of {subject!r}")


def _buttons(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    blocks = body["blocks"] if isinstance(body["blocks"], list) else json.loads(body["blocks"])
    return {
        e["action_id"]: e
        for b in blocks
        if b["type"] == "actions" and b.get("block_id") == ids.CONFIRMATION_ACTIONS_BLOCK
        for e in b["elements"]
    }


def _click(rally: Rally, button: dict[str, Any], *, user: str = "U0ALICE") -> str:
    url = rally.fake.new_response_url(channel="C0SALES", user=user, ephemeral=True)
    payload = block_actions(
        {"block_id": ids.CONFIRMATION_ACTIONS_BLOCK, **button},
        user=user,
        channel="C0SALES",
        is_ephemeral=True,
        response_url=url,
        trigger_id=rally.fake.new_trigger_id(user),
    )
    assert rally.interact(payload).status_code == 200
    rally.work()
    return url


def _told(rally: Rally, url: str) -> str:
    return json.dumps([p.body for p in rally.fake.response_posts(url.rsplit("/", 1)[-1])])


def test_every_confirmation_offers_edit_and_a_guarded_delete(rally: Rally) -> None:
    rally.command("note Budget approved")
    rally.work()
    _, body = _confirmation(rally, "Budget approved")
    buttons = _buttons(body)
    assert set(buttons) == {ids.ACTIVITY_EDIT_ACTION, ids.ACTIVITY_DELETE_ACTION}
    assert buttons[ids.ACTIVITY_DELETE_ACTION]["confirm"]["style"] == "danger"


def test_delete_by_whoever_logged_it_removes_it_and_updates_the_confirmation(rally: Rally) -> None:
    rally.command("note Wrong customer entirely")
    rally.work()
    assert len(rally.activities()) == 1
    _, body = _confirmation(rally, "Wrong customer entirely")
    url = _click(rally, _buttons(body)[ids.ACTIVITY_DELETE_ACTION])
    assert rally.activities() == []
    shown = _told(rally, url)
    assert "Deleted by <@U0ALICE>" in shown and "~note Wrong customer entirely~" in shown
    assert [e.action for e in rally.store.audit_trail("T0RALLY001")][-1] == "deleted"


def test_delete_by_someone_else_changes_nothing_and_says_why(rally: Rally) -> None:
    rally.command("note Alice's note")
    rally.work()
    _, body = _confirmation(rally, "Alice's note")
    url = _click(rally, _buttons(body)[ids.ACTIVITY_DELETE_ACTION], user="U0BOB")
    assert [a["subject"] for a in rally.activities()] == ["Alice's note"]
    assert "Only the person who logged this" in _told(rally, url)


def test_edit_prefills_from_rally_and_saves_with_one_put(rally: Rally) -> None:
    rally.command(f"task Send proposla due:{iso_in(30)}")
    rally.work()
    [task] = rally.activities()
    remind_once()  # indexed, not yet reminded (due in 30 minutes)
    _, body = _confirmation(rally, "Send proposla")
    opened_before = len(rally.fake.calls("views.open"))
    url = _click(rally, _buttons(body)[ids.ACTIVITY_EDIT_ACTION])
    assert len(rally.fake.calls("views.open")) == opened_before + 1
    [update] = [c for c in rally.fake.calls("views.update") if c.ok][-1:]
    form = dict(update.response["view"])
    assert form["callback_id"] == ids.EDIT_VIEW
    assert "Send proposla" in json.dumps(form["blocks"])
    values = {ids.SUBJECT: "Send proposal", ids.DUE: _epoch(iso_in(5))}
    response = rally.interact(view_submission(form, state_values_for(form, values)))
    assert response.status_code == 200 and not response.get_data()
    rally.work()
    after = get_task(rally, task["id"])
    assert after["subject"] == "Send proposal"
    assert "Edited by <@U0ALICE>" in _told(rally, url)
    assert "reminded 1" in remind_once()  # the new due date is within the lead: reminded now
    assert "Send proposal" in json.dumps(reminders(rally, "C0SALES")[-1])


def test_a_deleted_task_is_not_reminded(rally: Rally) -> None:
    rally.command(f"task Obsolete follow-up due:{iso_in(5)}")
    rally.work()
    _, body = _confirmation(rally, "Obsolete follow-up")
    _click(rally, _buttons(body)[ids.ACTIVITY_DELETE_ACTION])
    assert "reminded 0" in remind_once()


def test_an_edit_with_a_bad_value_stays_open_with_the_error_in_place(rally: Rally) -> None:
    rally.command("meeting Kickoff at:tomorrow")
    rally.work()
    _, body = _confirmation(rally, "Kickoff")
    _click(rally, _buttons(body)[ids.ACTIVITY_EDIT_ACTION])
    form = dict(rally.fake.calls("views.update")[-1].response["view"])
    response = rally.interact(
        view_submission(form, state_values_for(form, {ids.MEETING_URL: "not a link"}))
    )
    assert response.get_json()["errors"] == {
        ids.MEETING_URL: "Enter a full link starting with https://"
    }


def _epoch(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
