"""The smaller holes a probe found, each closed through the real door."""

from __future__ import annotations

import json
import logging

import pytest

from devstack.fake_slack.payloads import state_values_for, view_submission
from slack_ui import ids
from tests.e2e.harness import DEAL_ID, TEAM_ID, Rally


def test_a_resubmitted_modal_with_edited_fields_logs_the_edited_version(rally: Rally) -> None:
    view = rally.open_modal("note")
    first = view_submission(view, state_values_for(view, {ids.SUBJECT: "Frist draft"}))
    rally.interact(first)
    edited = json.loads(json.dumps(first))
    edited["view"]["state"] = {"values": state_values_for(view, {ids.SUBJECT: "First draft"})}
    rally.interact(edited)
    rally.interact(edited)  # a double click on the edited version is still one
    rally.work()
    assert sorted(a["subject"] for a in rally.activities()) == ["First draft", "Frist draft"]


@pytest.mark.parametrize(
    "url",
    ["https://meet.example.com/x|Click me", "https://meet.example.com/<!channel>", "javascript:x"],
)
def test_a_meeting_link_that_could_pick_its_own_label_is_refused_in_place(
    rally: Rally, url: str
) -> None:
    view = rally.open_modal("meeting")
    response = rally.submit(view, {ids.SUBJECT: "QBR", ids.MEETING_URL: url})
    assert response.get_json() == {
        "response_action": "errors",
        "errors": {ids.MEETING_URL: "Enter a full link starting with https://"},
    }
    rally.work()
    assert rally.activities() == []


@pytest.mark.parametrize("text", [f"link deal {{{DEAL_ID}\n}}", f"me {{{DEAL_ID}\n}}"])
def test_an_id_with_a_trailing_newline_is_refused_and_nothing_is_stored(
    rally: Rally, text: str
) -> None:
    shown = rally.command(text).get_data(as_text=True)
    assert "Usage" in shown
    assert rally.store.link(TEAM_ID, "C0SALES") is None
    assert rally.store.owner(TEAM_ID, "U0ALICE") is None
    rally.command("note Still works here")
    rally.work()
    assert [a["subject"] for a in rally.activities()] == ["Still works here"]


def test_a_response_url_not_on_slack_is_never_fetched(
    rally: Rally, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    view = rally.open_modal("note")
    meta = {"channel": "C0SALES", "response_url": "http://169.254.169.254/latest/meta-data"}
    view["private_metadata"] = json.dumps(meta)
    rally.interact(view_submission(view, state_values_for(view, {ids.SUBJECT: "Metadata"})))
    rally.work()
    assert [a["subject"] for a in rally.activities()] == ["Metadata"]
    # told in the channel instead, by an ephemeral message
    assert any("Metadata" in json.dumps(m) for m in rally.fake.ephemerals(user="U0ALICE"))


def test_a_signed_payload_naming_a_foreign_response_url_is_refused(rally: Rally) -> None:
    from devstack.fake_slack.payloads import slash_command

    body = slash_command("tasks", response_url="https://evil.example/hooks/1")
    assert rally.post(body).status_code == 400
