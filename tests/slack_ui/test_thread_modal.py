"""The "Log thread as note" modal, and the Edit form of a note too long for a Slack input."""

from __future__ import annotations

import json

import pytest

from slack_ui import ids
from slack_ui.modals import BODY_INPUT_MAX, build_log_modal, build_thread_note_modal, thread_notice
from tests.slack_ui.checks import slack_json


def test_the_thread_modal_asks_for_subject_and_record_but_no_body() -> None:
    view = slack_json(
        build_thread_note_modal(
            values={ids.SUBJECT: "Acme thread", ids.DEAL: "deal-1"},
            metadata={"channel": "C0SALES", "thread_ts": "1700000000.000100"},
            notice=thread_notice({"ts": "1.1", "thread_ts": "1.1", "reply_count": 41}),
        )
    )
    assert view["callback_id"] == ids.LOG_THREAD_VIEW
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert inputs == [ids.SUBJECT, ids.DEAL, ids.COMPANY, ids.CONTACT]
    assert "42 messages (this one and its 41 replies)" in json.dumps(view["blocks"])
    assert json.loads(view["private_metadata"])["thread_ts"] == "1700000000.000100"


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (
            {"ts": "1.1", "thread_ts": "1.1", "reply_count": 1},
            "2 messages (this one and its 1 reply)",
        ),
        ({"ts": "1.2", "thread_ts": "1.1"}, "this reply is in"),
        ({"ts": "1.1"}, "no replies yet"),
        ({"ts": "1.1", "reply_count": "lots"}, "no replies yet"),
    ],
)
def test_the_notice_says_what_will_be_captured(message: dict, says: str) -> None:
    assert says in thread_notice(message)


def test_an_edit_form_leaves_out_details_too_long_for_an_input_and_says_so() -> None:
    long_body = "x" * (BODY_INPUT_MAX + 1)
    view = slack_json(
        build_log_modal(
            "note", values={ids.SUBJECT: "s", ids.BODY: long_body}, metadata={}, editing=True
        )
    )
    assert ids.BODY not in [b.get("block_id") for b in view["blocks"]]
    assert json.loads(view["private_metadata"])["kept"] == ["body"]
    assert "3,001 characters" in json.dumps(view["blocks"])
    short = slack_json(build_log_modal("note", values={ids.BODY: "fits"}, editing=True))
    assert ids.BODY in [b.get("block_id") for b in short["blocks"]]
